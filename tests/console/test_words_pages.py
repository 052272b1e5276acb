"""What a person reads on the console's pages: advice names someone who can act on it, balances
say what is known, and no raw code or jargon reaches the screen (issue 14, points 9, 10, 11, 13)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from streamlit.testing.v1 import AppTest

from console.navigation import PAGES
from dollr_core.basics.access import Actor, Role
from dollr_core.basics.words import a_or_an, count
from dollr_core.bulk.progress import CurrencyTotal
from dollr_core.flows import payouts
from dollr_core.services import Services
from dollr_core.team import approvals
from dollr_sandbox import Sandbox
from tests.flows.helpers import pay_out, settle

from .test_invoices_page import listed_status, new_draft, open_invoices, opened
from .test_payout_page import review, texts


def test_over_the_limit_advice_names_a_role_that_can_pay_it(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = review(page("pages/payout.py", role=Role.OPERATOR).run(), amount="2500")
    said = texts(at)
    assert "Operators may pay out at most USD 2,000 at once" in said
    assert "finance colleague" not in said
    bulk = next(p for p in PAGES if p.title == "Bulk payouts")
    assert "the finance role" in said and "Bulk payouts" in said
    assert bulk.open_to(Actor("f@example.com", Role.FINANCE))  # the role named can open the page named
    assert "the manager role approves" in said


def test_balances_say_what_is_known_and_never_alarm_on_an_estimate(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    pay_out(console, Actor("olivia@example.com", Role.OPERATOR), uuid.uuid4().hex, amount="25")
    settle(console, fresh_sandbox)
    at = page("pages/home.py", role=Role.FINANCE).run()
    said = texts(at)
    assert "Estimated balance" not in said
    assert not at.warning and not at.error  # a difference in our records alarms nobody
    assert "No balance is known" in said  # no books, no sandbox wallets: say so
    [moved] = [d.value for d in at.dataframe if "Difference" in d.value.columns]
    assert moved["Currency"][0] == "USD" and moved["Difference"][0] < 0  # a number, sorted by value
    assert "a negative difference is no sign that the wallet is short" in said


def test_a_batch_is_short_only_against_a_known_balance() -> None:
    guessed = CurrencyTotal("USD", 1, Decimal(500), Decimal(5), Decimal(505), estimated_balance=Decimal(22))
    assert guessed.short_by is None  # an estimate from our records is no evidence
    booked = replace(guessed, books_balance=Decimal(500))
    assert booked.short_by == Decimal(5)
    assert replace(guessed, books_balance=Decimal(9682)).short_by is None
    assert replace(guessed, sandbox_balance=Decimal(9682)).sandbox_short_by is None


def test_a_cancelled_draft_reads_in_plain_words(page: Callable[..., AppTest], console: Services) -> None:
    at = new_draft(open_invoices(page))
    record = opened(console, at)
    assert listed_status(at, record.number or "") == "Draft"
    at.button(key="invoices:cancel").click().run()
    at.button(key="invoices:cancel_yes").click().run()
    said = texts(at) + "\n".join(e.label for e in at.expander)
    assert listed_status(at, record.number or "") == "Cancelled"
    assert "(CANCELED)" not in said and "(IDLE)" not in said
    assert "was published" not in said and "this invoice was cancelled" in said
    assert "Status at Dollr: `CANCELED`" in said  # the code stays there, for support


def test_counts_and_articles_read_as_english() -> None:
    assert count(1, "payment") == "1 payment" and count(2, "payment", "completed") == "2 completed payments"
    assert count(3, "payout batch") == "3 payout batches"
    assert a_or_an("Orange") == "an Orange" and a_or_an("MTN") == "a MTN"


def test_a_manager_sees_on_the_dashboard_that_approvals_wait(
    page: Callable[..., AppTest], console: Services
) -> None:
    maker = Actor("olivia@example.com", Role.OPERATOR)
    payouts.prepare_payout(
        console, maker, "big-1", name="Musa Kollie", phone="231880001234", amount="900", currency="USD"
    )
    approvals.submit_for_approval(console, maker, "big-1")
    at = page("pages/home.py", role=Role.MANAGER).run()
    assert "Waiting for your approval: 1 payout." in [w.value for w in at.warning]
    assert any("Open Approvals" in m.value for m in at.markdown)
    assert not page("pages/home.py", role=Role.FINANCE).run().warning  # only those who approve are told


def test_audit_actions_and_counts_read_as_words(page: Callable[..., AppTest], console: Services) -> None:
    maker = Actor("olivia@example.com", Role.OPERATOR)
    payouts.prepare_payout(
        console, maker, "big-2", name="Musa Kollie", phone="231880001234", amount="900", currency="USD"
    )
    approvals.submit_for_approval(console, maker, "big-2")
    at = page("pages/audit.py", role=Role.MANAGER).run()
    assert not at.exception
    options = at.selectbox(key="audit_action").options
    assert options[0] == "Any action" and len(options) > 1
    assert not [o for o in options if "_" in o]  # no raw code such as payout_submitted
    assert not [m.value for m in at.markdown if "record(s)" in m.value]
