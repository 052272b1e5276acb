"""Plain words on the console's screens (issue 14, points 11 and 13): references short with the
whole one to copy, "Mobile network" for the network, role and relationship names, times in the
company's time zone, no technical details under a refusal, e-mail addresses as plain text."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.words import local_time
from dollr_core.flows import payouts
from dollr_core.ledger import audit
from dollr_core.services import Services
from dollr_core.team import approvals, users
from dollr_sandbox import Sandbox
from tests.flows.helpers import PASSCODE, pay_out, settle

from .conftest import PASSWORD
from .test_payout_page import read, texts

ZONE = "Africa/Kigali"
OLIVIA = Actor("olivia@example.com", Role.OPERATOR)
#: A bare e-mail address in markdown: Streamlit turns it into a mailto link.
BARE_EMAIL = re.compile(r"[\w.\\-]@\w")


@pytest.fixture(autouse=True)
def kigali(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The company works in Kigali (UTC+2): autouse, so it is set before `console` starts services."""
    monkeypatch.setenv("DOLLR_TIME_ZONE", ZONE)
    yield


def everything(at: AppTest) -> str:
    """All a page shows, tables and expander labels included, as a person reads it."""
    return "\n".join([texts(at), *(e.label for e in at.expander), *(c.value for c in at.code)])


def markdown_sources(at: AppTest) -> list[str]:
    kinds = ("markdown", "success", "info", "warning", "error", "caption")
    return [str(e.value) for kind in kinds for e in at.get(kind)]


def table_columns(at: AppTest) -> list[str]:
    return [str(c) for d in at.dataframe for c in d.value.columns]


def cells(at: AppTest) -> list[str]:
    return [str(v) for d in at.dataframe for v in d.value.to_numpy().ravel()]


def test_payment_status_shows_a_short_reference_with_the_whole_one_to_copy_and_finds_it_by_it(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    paid = pay_out(console, OLIVIA, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    whole, short = paid.reference_id, paid.reference_id[:8]

    at = page("pages/status.py", role=Role.MANAGER).run()
    at.text_input(key="status_query").input(short)
    at.button(key="status_lookup").click()
    at.run()
    assert not at.exception
    assert next(m.value for m in at.metric) == "Completed"  # found straight away, not a list to pick from
    assert short in cells(at) and whole not in cells(at)  # the table shows it short …
    assert [c.value for c in at.code] == [whole]  # … and the whole one waits beside a copy button
    said = texts(at)
    assert f"olivia@example.com on {local_time(paid.created_at, ZONE)} ({ZONE} time)" in said


def test_my_payments_show_times_in_the_company_zone_and_short_references(
    page: Callable[..., AppTest], console: Services
) -> None:
    paid = pay_out(console, OLIVIA, uuid.uuid4().hex)
    at = page("pages/mine.py", email=OLIVIA.email, role=Role.OPERATOR).run()
    assert not at.exception
    [table] = [d.value for d in at.dataframe]
    heading = f"When ({ZONE} time)"
    assert heading in table.columns and not [c for c in table.columns if "UTC" in c]
    assert table[heading][0] == local_time(paid.created_at, ZONE)
    assert table["Reference"][0] == paid.reference_id[:8]


def test_a_payout_names_the_mobile_network_and_shows_its_reference_short(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = page("pages/payout.py", role=Role.OPERATOR).run()
    at.text_input(key="payout_name").input("Musa Kollie")
    at.text_input(key="payout_phone").input("231880001234").run()
    said = texts(at)
    assert "Mobile network: **MTN**" in said
    assert "Operator" not in said and "operator" not in said  # the word belongs to the role

    key = at.session_state["intent:payout"]
    payouts.prepare_payout(
        console, OLIVIA, key, name="Musa Kollie", phone="231880001234", amount="25", currency="USD"
    )
    sent = payouts.confirm_payout(console, OLIVIA, key, PASSCODE)
    at = page("pages/payout.py", role=Role.OPERATOR, email=OLIVIA.email)
    at.session_state["payout:adopted"] = key
    at.run()
    assert not at.exception
    assert [c.value for c in at.code] == [sent.reference_id]  # whole, beside the copy button only
    links = [line for line in texts(at).splitlines() if line.startswith("[")]  # its address may hold it
    assert not [line for line in texts(at).splitlines() if sent.reference_id in line and line not in links]
    assert {"Processing", "Waiting to start", "Completed"} & set(cells(at))  # not the code PROCESSING
    assert not [c for c in cells(at) if re.fullmatch(r"[A-Z_]{4,}", c)]


def test_the_sidebar_and_account_name_the_role_and_show_the_address_as_text(
    app: Callable[..., AppTest], page: Callable[..., AppTest], console: Services
) -> None:
    users.add_user(console.engine, email="op@example.com", role=Role.OPERATOR, password=PASSWORD)
    at = app().run()
    at.text_input[0].input("op@example.com")
    at.text_input[1].input(PASSWORD)
    at.button[0].click()
    at.run()
    [signed_in] = [c.value for c in at.sidebar.caption if "Signed in as" in c.value]
    assert read(signed_in) == "Signed in as **op@example.com** (Operator)"
    assert not BARE_EMAIL.search(signed_in)  # no mailto link

    account = page("pages/account.py", role=Role.FINANCE).run()
    [caption] = [c.value for c in account.caption if "Signed in as" in c.value]
    assert "(Finance)" in caption and not BARE_EMAIL.search(caption)


def test_transfer_relationships_read_as_words(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/transfers.py", role=Role.FINANCE).run()
    box = at.selectbox(key="transfers_relationship")
    assert box.label == "Who they are to us"
    assert box.value == "BENEFICIARY"  # the code still goes to Dollr
    assert "An employee" in box.options and "A service provider" in box.options
    assert not [o for o in box.options if o.isupper() or "_" in o]


def test_a_refused_input_is_its_sentence_alone(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/status.py", role=Role.MANAGER).run()
    at.button(key="status_lookup").click()
    at.run()
    assert "Enter a payment reference" in at.error[0].value
    assert "Technical details" not in [e.label for e in at.expander]


def test_approvals_show_makers_as_text_and_times_in_the_company_zone(
    page: Callable[..., AppTest], console: Services
) -> None:
    payouts.prepare_payout(
        console, OLIVIA, "big-words", name="Musa Kollie", phone="231880001234", amount="900", currency="USD"
    )
    waiting = approvals.submit_for_approval(console, OLIVIA, "big-words")
    at = page("pages/approvals.py", role=Role.MANAGER).run()
    assert not at.exception
    shown = at.dataframe[0].value
    card: dict[str, Any] = dict(zip(shown["What"], shown["Value"], strict=True))
    assert card[f"Made at ({ZONE} time)"] == local_time(waiting.created_at, ZONE)
    assert not [m for m in markdown_sources(at) if BARE_EMAIL.search(m)]
    [sent] = audit.search(console.engine, audit.AuditFilter(action="payout_sent_for_approval"))
    assert sent.detail == "USD 900.00 to Musa Kollie"  # money as money, not "USD 900.0000"
