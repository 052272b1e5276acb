"""Pay someone, through the page: review numbers, passcode handling, exactly one execution, failures
in plain words, and the maker-checker round trip with the Approvals page."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
import streamlit as st
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod
from dollr_core.basics.money import format_money
from dollr_core.explain import GATEWAY_FEE, PLATFORM_FEE
from dollr_core.flows import payouts
from dollr_core.ledger import audit
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Attempt, AttemptState, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_core.team import approvals
from dollr_sandbox import Sandbox

from ..flows.helpers import payout_as_shown

PASSCODE = "123456"
MAKER = "olivia.operator@example.com"
CHECKER = "mia.manager@example.com"


# --------------------------------------------------------------------------- helpers


def payouts_at_dollr(sandbox: Sandbox) -> list[dict[str, object]]:
    return [e for e in sandbox.executions() if e["operation_type"] == "PAYOUT"]


def fill(
    at: AppTest, *, phone: str = "231880001234", amount: str = "25", name: str = "Musa Kollie"
) -> AppTest:
    at.text_input(key="payout_name").input(name)
    at.text_input(key="payout_phone").input(phone)
    at.run()
    at.text_input(key="payout_amount").input(amount)
    return at.run()


def review(at: AppTest, **form: str) -> AppTest:
    fill(at, **form)
    at.button(key="payout_review").click()
    return at.run()


def confirm(at: AppTest, passcode: str = PASSCODE) -> AppTest:
    at.text_input(key="payout_passcode").input(passcode)
    at.button(key="payout_confirm").click()
    return at.run()


def key_of(at: AppTest) -> str:
    key: str = at.session_state["intent:payout"]
    return key


def texts(at: AppTest) -> str:
    """Everything the page says, as one string, for assertions on wording: as a person reads it,
    without the markdown escapes and zero-width spaces `widgets.plain` adds."""
    kinds = ("markdown", "success", "info", "warning", "error", "caption", "toast")
    parts = [read(e.value) for kind in kinds for e in at.get(kind)]
    parts += [f"{m.label}: {m.value}" for m in at.metric]
    parts += [d.value.to_string() for d in at.dataframe]
    return "\n".join(str(p) for p in parts)


def read(markdown: str) -> str:
    """Markdown text as it reads on screen (escapes and zero-width spaces gone, emphasis kept)."""
    return re.sub(r"\\(.)", r"\1", markdown).replace("\u200b", "")


def table(block: Any, index: int = 0) -> dict[str, Any]:
    """A two-column "What / value" table of the page (or of one of its columns) as a dict."""
    frame = block.dataframe[index].value
    return dict(zip(frame.iloc[:, 0], frame.iloc[:, 1], strict=True))


def due_now(svc: Services) -> None:
    """The sandbox's clock moved, ours did not: make every open attempt due for a look."""
    with Session(svc.engine) as db:
        for row in db.exec(select(Attempt)).all():
            if not AttemptState(row.local_state).is_final:
                row.next_poll_at = row.lease_until = None
                db.add(row)
        db.commit()


def session_holds(at: AppTest, secret: str) -> list[str]:
    """Every session_state entry (keyed widgets included) whose value mentions `secret`."""
    return [key for key, value in at.session_state.items() if secret in repr(value)]


@pytest.fixture
def roomy(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Callable[..., AppTest]:
    """`page`, with operator limits and approval thresholds above the sandbox's USD 10,000 wallet."""
    monkeypatch.setenv("DOLLR_OPERATOR_PAYOUT_LIMITS", "USD=50000")
    monkeypatch.setenv("DOLLR_APPROVAL_THRESHOLDS", "USD=50000")
    monkeypatch.setenv("DOLLR_OPERATOR_DAILY_LIMITS", "USD=500000")
    opener: Callable[..., AppTest] = request.getfixturevalue("page")
    return opener


@pytest.fixture
def maker_page(page: Callable[..., AppTest]) -> Iterator[AppTest]:
    yield page("pages/payout.py", role=Role.OPERATOR, email=MAKER)


# --------------------------------------------------------------------------- happy path


def test_payout_end_to_end_pays_once(
    maker_page: AppTest, console: Services, fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Look into the session while the payout is being sent: the passcode must already be gone.
    during_call: list[list[str]] = []
    real_confirm = payouts.confirm_payout

    def spy(svc: Services, actor: Actor, key: str, passcode: str, *, pay_again: bool = False) -> Attempt:
        state = st.session_state.to_dict()
        during_call.append([k for k, v in state.items() if PASSCODE in repr(v)])
        return real_confirm(svc, actor, key, passcode, pay_again=pay_again)

    monkeypatch.setattr(payouts, "confirm_payout", spy)
    at = fill(maker_page.run())
    assert not at.exception
    assert "Mobile network: **MTN**" in texts(at)

    at.button(key="payout_review").click()
    at.run()
    expected = fresh_sandbox.state.pricing.quote(
        Decimal("25"), "USD", "USD", PaymentMethod.MTN_MOMO_LBR, OperationType.PAYOUT, FeeBearer.PAYER
    )
    metrics = {m.label: m.value for m in at.metric}
    assert metrics == {
        "Recipient gets": format_money(expected.payee_amount, "USD"),
        "Our wallet is debited": format_money(expected.payer_amount, "USD"),
    }
    shown = table(at)
    assert shown[PLATFORM_FEE] == format_money(expected.platform_fee, "USD")
    assert shown[GATEWAY_FEE] == format_money(expected.gateway_fee, "USD")
    assert shown["Wallet"] == "MTN ••••1234"
    assert not payouts_at_dollr(fresh_sandbox)  # nothing moves before the passcode
    asked = fresh_sandbox.request_count
    at.run()  # an idle rerun of the review asks Dollr nothing
    assert fresh_sandbox.request_count == asked

    confirm(at)
    assert not at.exception
    assert during_call == [[]]
    assert session_holds(at, PASSCODE) == []
    assert len(payouts_at_dollr(fresh_sandbox)) == 1
    assert "payout_confirm" not in [b.key for b in at.button]

    # A late double click (its flag and passcode arrive after the payout went) and plain reruns.
    key = key_of(at)
    at.session_state[f"payout:confirming:{key}"] = True
    at.session_state["payout_passcode"] = PASSCODE
    at.run()
    at.run()
    assert len(payouts_at_dollr(fresh_sandbox)) == 1
    assert "payout_confirm" not in [b.key for b in at.button]

    fresh_sandbox.advance_clock(10)
    due_now(console)
    at.run()
    assert "Completed" in texts(at)
    executions = payouts_at_dollr(fresh_sandbox)
    assert len(executions) == 1 and executions[0]["status"] == "COMPLETED"
    assert get_intent(console.engine, key).state == IntentState.COMPLETED


def test_second_tab_follows_instead_of_paying(
    maker_page: AppTest, page: Callable[..., AppTest], fresh_sandbox: Sandbox
) -> None:
    at = confirm(review(maker_page.run()))
    other = page("pages/payout.py", role=Role.OPERATOR, email=MAKER)
    other.query_params["intent"] = key_of(at)
    other.run()
    assert not other.exception
    assert "payout_confirm" not in [b.key for b in other.button]
    assert "Your payout" in [h.value for h in other.subheader]
    assert len(payouts_at_dollr(fresh_sandbox)) == 1


# --------------------------------------------------------------------------- failures in plain words


def test_wrong_passcode_fails_in_plain_words(maker_page: AppTest, fresh_sandbox: Sandbox) -> None:
    at = confirm(review(maker_page.run()), passcode="")
    assert "Enter the merchant passcode to confirm the payout." in texts(at)
    assert not at.button(key="payout_confirm").disabled
    assert fresh_sandbox.executions() == []

    confirm(at, passcode="999999")
    assert not at.exception
    said = texts(at)
    assert "the merchant passcode was wrong" in said
    assert "enter the correct merchant passcode" in said
    assert session_holds(at, "999999") == []
    [execution] = payouts_at_dollr(fresh_sandbox)
    assert execution["status"] == "FAILED"

    at.button(key="payout_new").click()
    at.run()
    # A new payout with the same details, ready to review again; the failed one stays failed.
    assert at.text_input(key="payout_phone").value == "231880001234"
    assert at.text_input(key="payout_amount").value == "25.00"
    assert "payout_passcode" not in [t.key for t in at.text_input]
    confirm(at.button(key="payout_review").click().run())
    assert [e["status"] for e in payouts_at_dollr(fresh_sandbox)] == ["FAILED", "PENDING"]


def test_short_wallet_says_top_up_first(roomy: Callable[..., AppTest], fresh_sandbox: Sandbox) -> None:
    balance = fresh_sandbox.wallets()["USD"]
    at = review(roomy("pages/payout.py", role=Role.OPERATOR, email=MAKER).run(), amount=str(balance + 1))
    assert "approval limit" not in texts(at)
    confirm(at)
    said = texts(at)
    assert "Top up the wallet first" in said
    assert "not enough" in said
    [execution] = payouts_at_dollr(fresh_sandbox)
    assert execution["status"] == "FAILED"
    assert fresh_sandbox.wallets()["USD"] == balance


@pytest.mark.parametrize(
    ("phone", "amount", "said"),
    [
        ("0880001234", "25", "Start the phone number with its country code"),
        ("2318800", "25", "A phone number needs 8 to 15 digits"),
        ("999880001234", "25", "No mobile network we can pay serves this number"),
        ("231880001234", "0", "The amount must be greater than zero."),
        ("250781234567", "10.5", "RWF amounts must be whole numbers"),
        ("231880001234", "2500", "Operators may pay out at most USD 2,000 at once"),
    ],
)
def test_bad_input_is_explained(
    maker_page: AppTest, fresh_sandbox: Sandbox, phone: str, amount: str, said: str
) -> None:
    at = fill(maker_page.run(), phone=phone, amount=amount)
    if at.button(key="payout_review").disabled:  # a bad number is explained before any review
        assert said in texts(at)
    else:
        at.button(key="payout_review").click()
        at.run()
        assert said in "\n".join(e.value for e in at.error)
    assert not at.exception
    assert not at.metric  # no review of a payout that cannot go
    assert fresh_sandbox.executions() == []


# --------------------------------------------------------------------------- maker-checker


def test_large_payout_waits_for_a_manager_then_the_maker_sends_it(
    maker_page: AppTest, page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = review(maker_page.run(), amount="750")
    assert "above the approval limit: a manager must approve it" in texts(at)
    assert "payout_confirm" not in [b.key for b in at.button]
    key = key_of(at)
    assert get_intent(console.engine, key).state == IntentState.OPEN  # managers don't see it yet
    assert approvals.pending_payouts(console, Actor(CHECKER, Role.MANAGER)) == []

    at.button(key="payout_send_for_approval").click()
    at.run()
    assert "Sent for approval" in texts(at)
    assert "Follow it on Approvals" in texts(at)
    [asked] = audit.search(console.engine, audit.AuditFilter(action="payout_sent_for_approval"))
    assert (asked.actor, asked.target) == (MAKER, key)

    # The maker cannot approve it, not even after becoming a manager: page and flow both refuse.
    own = page("pages/approvals.py", role=Role.MANAGER, email=MAKER).run()
    assert own.button(key=f"approve:{key}").disabled
    assert "You made this" in texts(own)
    with pytest.raises(approvals.ApprovalError):
        approvals.decide_payout(
            console,
            Actor(MAKER, Role.MANAGER),
            key,
            approvals.Decision(True, "", payout_as_shown(console, key)),
        )

    checker = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    assert not checker.button(key=f"approve:{key}").disabled
    checker.button(key=f"approve:{key}").click()
    checker.run()
    checker.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"
    checker.run()
    assert not checker.exception
    assert get_intent(console.engine, key).state == IntentState.READY
    assert fresh_sandbox.executions() == []

    at.run()
    assert f"Approved by {CHECKER}" in texts(at)
    confirm(at)
    assert not at.exception
    assert "payout_confirm" not in [b.key for b in at.button]
    at.run()
    [execution] = payouts_at_dollr(fresh_sandbox)
    assert execution["payee_amount"] == Decimal("750")
    assert session_holds(at, PASSCODE) == []


def test_an_approved_payout_waits_for_its_maker_in_a_new_session(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    maker = Actor(MAKER, Role.OPERATOR)
    payouts.prepare_payout(
        console, maker, "k-approved", name="Musa Kollie", phone="231880001234", amount="900", currency="USD"
    )
    approvals.submit_for_approval(console, maker, "k-approved")
    shown = payout_as_shown(console, "k-approved")
    approvals.decide_payout(
        console, Actor(CHECKER, Role.MANAGER), "k-approved", approvals.Decision(True, "", shown)
    )

    stranger = page("pages/payout.py", role=Role.OPERATOR, email="someone.else@example.com").run()
    assert "payout_open:k-approved" not in [b.key for b in stranger.button]

    at = page("pages/payout.py", role=Role.OPERATOR, email=MAKER).run()
    assert [e.label for e in at.expander] == ["Payouts waiting for you (1): approved, ready to send"]
    at.button(key="payout_open:k-approved").click()
    at.run()
    assert f"Approved by {CHECKER}" in texts(at)
    confirm(at)
    [execution] = payouts_at_dollr(fresh_sandbox)
    assert execution["payee_amount"] == Decimal("900")


def test_rejected_payout_shows_the_reason_and_sends_nothing(
    maker_page: AppTest, page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = review(maker_page.run(), amount="600")
    at.button(key="payout_send_for_approval").click()
    at.run()
    key = key_of(at)

    checker = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    checker.button(key=f"reject:{key}").click()
    checker.run()
    assert "Say why you reject it" in texts(checker)
    assert get_intent(console.engine, key).state == IntentState.AWAITING_APPROVAL
    checker.text_input(key=f"reason:{key}").input("Not on this month's supplier list")
    checker.button(key=f"reject:{key}").click()
    checker.run()
    assert get_intent(console.engine, key).state == IntentState.REJECTED

    at.run()
    said = texts(at)
    assert "rejected this payout" in said and "Not on this month's supplier list" in said
    assert "Nothing was sent." in said
    assert "payout_confirm" not in [b.key for b in at.button]
    with pytest.raises(protocol.IntentNotReady):
        payouts.confirm_payout(console, Actor(MAKER, Role.OPERATOR), key, PASSCODE)
    mine = page("pages/approvals.py", role=Role.OPERATOR, email=MAKER).run()
    assert "Not on this month's supplier list" in texts(mine)
    assert fresh_sandbox.executions() == []


def test_an_operator_sees_the_day_so_far_before_confirming(
    maker_page: AppTest, console: Services, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, amount in (("earlier-1", "1500"), ("earlier-2", "1500"), ("earlier-3", "1000")):
        payouts.prepare_payout(
            console, Actor(MAKER, Role.OPERATOR), key, name="Musa Kollie", phone="231880001234",
            amount=amount, currency="USD",
        )  # fmt: skip
    at = review(maker_page.run(), amount="400")
    assert (
        "Your daily limit: USD 5,000.00. Paid out today (UTC day): USD 4,000.00."
        " After this payout, USD 600.00 is left today."
    ) in texts(at)
    assert at.button(key="payout_confirm")  # the confirm step follows the figures
    at = review(at, amount="1200")
    assert "Operators may pay out at most" not in texts(at)
    assert "would take you over your daily limit of USD 5,000.00" in texts(at)
