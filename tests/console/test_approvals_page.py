"""Approvals, through the page: what a manager sees and decides, what a maker sees of their own
items, that nobody approves their own payment, and that a click approves what the screen showed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.bulk import drafts, recipient_file, records
from dollr_core.bulk.drafts import EditedRow
from dollr_core.bulk.recipient_file import RowInput
from dollr_core.flows import payouts
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Batch, BatchRow, BatchRowState, BatchState, Intent, IntentState
from dollr_core.services import Services
from dollr_core.team import approval_rules, approvals
from dollr_sandbox import Sandbox

from ..bulk.helpers import rows_of, rows_text
from ..flows.helpers import payout_as_shown
from .test_payout_page import table, texts

MAKER = Actor("olivia.operator@example.com", Role.OPERATOR)
BATCH_MAKER = Actor("fred.finance@example.com", Role.FINANCE)
CHECKER = "mia.manager@example.com"


def large_payout(svc: Services, key: str, amount: str = "750", phone: str = "231880004321") -> None:
    payouts.prepare_payout(svc, MAKER, key, name="Musa Kollie", phone=phone, amount=amount, currency="USD")
    approvals.submit_for_approval(svc, MAKER, key)


def waiting_batch(svc: Services) -> int:
    """A batch as the bulk flow leaves it for approval: two valid rows and one invalid."""
    with Session(svc.engine) as db:
        batch = Batch(name="June stipends", state=BatchState.AWAITING_APPROVAL, created_by=BATCH_MAKER.email)
        db.add(batch)
        db.flush()
        assert batch.id is not None
        rows = [("100", "2.00", BatchRowState.VALID), ("50", "1.00", BatchRowState.VALID)]
        rows.append(("9", None, BatchRowState.INVALID))
        for number, (amount, fees, state) in enumerate(rows, start=1):
            db.add(
                BatchRow(
                    batch_id=batch.id,
                    row_number=number,
                    name=f"Person {number}",
                    phone=f"23188000{number:04d}",
                    amount_text=amount,
                    amount=Decimal(amount),
                    currency="USD",
                    state=state,
                    predicted_fees=Decimal(fees) if fees else None,
                    predicted_debit=Decimal(amount) + Decimal(fees) if fees else None,
                )
            )
        db.commit()
        return batch.id


def test_manager_sees_who_what_and_fees_then_approves(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    large_payout(console, "k-750")
    at = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    assert not at.exception
    assert "Payouts waiting for approval (1)" in [h.value for h in at.subheader]
    shown = table(at)
    intent = get_intent(console.engine, "k-750")
    assert intent is not None
    quote = payouts.quote_of(intent)
    assert shown["Made by"] == MAKER.email
    assert shown["Recipient"] == "Musa Kollie"
    assert shown["Wallet"] == "MTN ••••4321"
    assert shown["Fees"] == f"USD {quote.platform_fee + quote.gateway_fee:,.2f}"
    assert shown["Our wallet is debited"] == f"USD {quote.wallet_debit:,.2f}"
    assert "231880004321" not in texts(at)  # the full number is never shown to the approver

    at.button(key="approve:k-750").click()
    at.run()

    at.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"

    at.run()
    assert "The payout is approved" in texts(at)
    assert "Payouts waiting for approval (0)" in [h.value for h in at.subheader]
    decided = get_intent(console.engine, "k-750")
    assert decided is not None and decided.state == IntentState.READY and decided.decided_by == CHECKER
    assert fresh_sandbox.executions() == []  # approval moves no money: the maker still sends it


def test_reject_needs_a_reason(page: Callable[..., AppTest], console: Services) -> None:
    large_payout(console, "k-reject")
    at = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    at.button(key="reject:k-reject").click()
    at.run()
    assert "Say why you reject it" in texts(at)
    assert get_intent(console.engine, "k-reject").state == IntentState.AWAITING_APPROVAL  # type: ignore[union-attr]
    at.text_input(key="reason:k-reject").input("Wrong recipient")
    at.button(key="reject:k-reject").click()
    at.run()
    rejected = get_intent(console.engine, "k-reject")
    assert rejected is not None and rejected.state == IntentState.REJECTED
    assert rejected.decision_reason == "Wrong recipient"


def test_nobody_approves_their_own_batch(page: Callable[..., AppTest], console: Services) -> None:
    batch_id = waiting_batch(console)
    own = page("pages/approvals.py", role=Role.MANAGER, email=BATCH_MAKER.email).run()
    assert own.button(key=f"approve:{batch_id}").disabled
    assert own.button(key=f"reject:{batch_id}").disabled
    assert "You made this, so you cannot approve or reject it" in texts(own)
    with pytest.raises(approvals.ApprovalError, match="someone else must approve"):
        approvals.decide_batch(
            console,
            Actor(BATCH_MAKER.email, Role.MANAGER),
            batch_id,
            approvals.Decision(True, "", approvals.batch_totals(console, BATCH_MAKER, batch_id).fingerprint),
        )

    at = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    assert "Bulk payouts waiting for approval (1)" in [h.value for h in at.subheader]
    assert f"**Bulk payout #{batch_id}**: 2 payments" in texts(at)
    shown = table(at)
    assert shown["Name"] == "June stipends"
    assert shown["Recipients get (USD)"] == "USD 150.00"
    assert shown["Fees (USD)"] == "USD 3.00"
    assert shown["Our wallet is debited (USD)"] == "USD 153.00"
    at.button(key=f"approve:{batch_id}").click()
    at.run()
    at.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"
    at.run()
    with Session(console.engine) as db:
        batch = db.get(Batch, batch_id)
        assert batch is not None and batch.state == BatchState.APPROVED and batch.decided_by == CHECKER

    maker = page("pages/approvals.py", role=Role.FINANCE, email=BATCH_MAKER.email).run()
    assert not maker.exception
    assert f"Approved by {CHECKER}: start it on Bulk payouts." in texts(maker)
    assert not [b for b in maker.button if b.key.startswith("approve:")]


def test_maker_follows_their_own_items(page: Callable[..., AppTest], console: Services) -> None:
    large_payout(console, "k-wait", amount="600")
    large_payout(console, "k-yes", amount="700")
    large_payout(console, "k-no", amount="800")
    checker = Actor(CHECKER, Role.MANAGER)
    approvals.decide_payout(
        console, checker, "k-yes", approvals.Decision(True, "", payout_as_shown(console, "k-yes"))
    )
    approvals.decide_payout(
        console,
        checker,
        "k-no",
        approvals.Decision(False, "Budget is closed", payout_as_shown(console, "k-no")),
    )

    at = page("pages/approvals.py", role=Role.OPERATOR, email=MAKER.email).run()
    assert not at.exception
    assert "Payouts waiting for approval" not in " ".join(h.value for h in at.subheader)  # not a manager
    assert not [b for b in at.button if b.key.startswith(("approve:", "reject:"))]
    said = texts(at)
    assert "Waiting for a manager's approval." in said
    assert f"Approved by {CHECKER}: go to Pay someone to send it" in said
    assert "Send it on Pay someone" in said
    assert f"Rejected by {CHECKER}. Reason: Budget is closed. Nothing was sent." in said

    other = page("pages/approvals.py", role=Role.OPERATOR, email="someone.else@example.com").run()
    assert "Nothing yet." in texts(other)


def test_an_admin_sees_and_edits_the_rules_but_decides_nothing(
    page: Callable[..., AppTest], console: Services
) -> None:
    large_payout(console, "k-admin")
    at = page("pages/approvals.py", role=Role.ADMIN, email="ada.admin@example.com").run()
    assert not at.exception
    assert not [b for b in at.button if b.key.startswith(("approve:", "reject:"))]
    assert "Approval rules" in [h.value for h in at.subheader]
    rules = at.dataframe[0].value
    assert list(rules["Rule"])[:2] == ["One manager approves above", "Two managers approve above"]
    assert list(rules["USD"])[:2] == ["USD 500.00", "USD 5,000.00"]
    shown = {c: at.text_input(key=f"rule:approval_thresholds:{c}").value for c in ("USD", "LRD", "RWF")}
    assert shown == {"USD": "500.00", "LRD": "100000.00", "RWF": "500000"}  # as typed, never 5E+2
    at.text_input(key="rule:approval_thresholds:USD").input("750")
    at.text_input(key="rule:approval_two_approver_thresholds:LRD").input("")
    at.text_input(key="rule:approval_expiry_hours").input("12")
    at.button[[b.key for b in at.button].index("FormSubmitter:rules_form-Save the rules")].click()
    at.run()
    assert "The approval rules are saved" in texts(at)
    assert next(iter(at.dataframe[0].value["USD"])) == "USD 750.00"
    assert list(at.dataframe[0].value["LRD"])[1] == "no limit"
    assert "after 12 hours" in texts(at)
    [change] = audit.search(console.engine, audit.AuditFilter(action="approval_rules_changed"))
    assert change.detail is not None and "(USD): 500 → 750" in change.detail

    at.text_input(key="rule:approval_two_approver_thresholds:USD").input("600")
    at.button[[b.key for b in at.button].index("FormSubmitter:rules_form-Save the rules")].click()
    at.run()
    assert "must be higher" in texts(at)  # refused with the reason, nothing stored
    assert (
        approval_rules.current(console.engine, console.settings).approval_two_approver_thresholds["USD"]
        == 5000
    )


@pytest.fixture
def settings_page(monkeypatch: pytest.MonkeyPatch, request: pytest.FixtureRequest) -> Callable[..., AppTest]:
    """`page` on an install whose settings fix the one-manager threshold and raise operators' limits."""
    monkeypatch.setenv("DOLLR_APPROVAL_THRESHOLDS", "USD=900")
    monkeypatch.setenv("DOLLR_OPERATOR_PAYOUT_LIMITS", "USD=9000")
    monkeypatch.setenv("DOLLR_OPERATOR_DAILY_LIMITS", "USD=9000")
    opener: Callable[..., AppTest] = request.getfixturevalue("page")
    return opener


def test_rules_fixed_by_the_settings_cannot_be_edited_on_the_page(
    settings_page: Callable[..., AppTest],
) -> None:
    at = settings_page("pages/approvals.py", role=Role.ADMIN, email="ada.admin@example.com").run()
    assert at.text_input(key="rule:approval_thresholds:USD").disabled
    assert at.text_input(key="rule:operator_daily_limits:USD").disabled
    assert not at.text_input(key="rule:approval_two_approver_thresholds:USD").disabled
    assert "(fixed by the settings)" in texts(at)


def test_a_payout_above_the_higher_threshold_needs_two_managers_on_the_page(
    settings_page: Callable[..., AppTest], console: Services
) -> None:
    page = settings_page
    large_payout(console, "k-big", amount="6000")
    first = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    assert "Needs two different managers: yours is the first approval." in texts(first)
    first.button(key="approve:k-big").click()
    first.run()
    first.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"
    first.run()
    assert "Needs two different managers. Approved so far by mia.manager@example.com" in texts(first)
    assert "Your approval is recorded: a second manager must approve it too." in texts(first)
    assert first.button(key="approve:k-big")  # still listed: a second manager is needed

    maker = page("pages/approvals.py", role=Role.OPERATOR, email=MAKER.email).run()
    assert f"Approved by {CHECKER}; waiting for a second manager." in texts(maker)
    second = page("pages/approvals.py", role=Role.MANAGER, email="max.manager@example.com").run()
    second.button(key="approve:k-big").click()
    second.run()
    second.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"
    second.run()
    decided = get_intent(console.engine, "k-big")
    assert decided is not None and decided.state == IntentState.READY
    assert (decided.first_approved_by, decided.decided_by) == (CHECKER, "max.manager@example.com")


def test_an_expired_request_comes_back_to_the_maker_on_the_page(
    page: Callable[..., AppTest], console: Services
) -> None:
    large_payout(console, "k-old")
    with Session(console.engine) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == "k-old")).one()
        intent.approval_due_at = utcnow() - timedelta(minutes=1)
        db.add(intent)
        db.commit()
    at = page("pages/approvals.py", role=Role.OPERATOR, email=MAKER.email).run()
    assert "Returned to you: No manager decided within 24 hours." in texts(at)
    at.button(key="again:k-old").click()
    at.run()
    assert "Sent for approval again." in texts(at)
    assert get_intent(console.engine, "k-old").state == IntentState.AWAITING_APPROVAL  # type: ignore[union-attr]


def test_maker_lists_and_refusals_on_every_ledger(services: Services) -> None:
    """The flow functions behind both pages, on SQLite and PostgreSQL."""
    large_payout(services, "k-a", amount="600")
    large_payout(services, "k-b", amount="700")
    payouts.prepare_payout(
        services, MAKER, "k-small", name="Musa Kollie", phone="231880004321", amount="20", currency="USD"
    )
    with pytest.raises(approvals.ApprovalError, match="not waiting"):  # already sent for approval
        approvals.submit_for_approval(services, MAKER, "k-a")
    with pytest.raises(approvals.ApprovalError):  # not theirs to send for approval
        approvals.submit_for_approval(services, Actor("someone.else@example.com", Role.OPERATOR), "k-a")
    shown = payout_as_shown(services, "k-b")
    approvals.decide_payout(
        services, Actor(CHECKER, Role.MANAGER), "k-b", approvals.Decision(True, "", shown)
    )
    with pytest.raises(approvals.ApprovalError, match="not waiting"):
        approvals.submit_for_approval(services, MAKER, "k-b")

    checker, stranger = Actor(CHECKER, Role.MANAGER), Actor("someone.else@example.com", Role.OPERATOR)
    assert {i.intent_key for i in approvals.my_payouts(services, MAKER)} == {"k-a", "k-b"}  # not k-small
    assert [i.intent_key for i in approvals.approved_to_send(services, MAKER)] == ["k-b"]
    assert approvals.my_payouts(services, stranger) == []
    assert [i.intent_key for i in approvals.pending_payouts(services, checker)] == ["k-a"]

    batch_id = waiting_batch(services)
    totals = approvals.batch_totals(services, BATCH_MAKER, batch_id)
    assert totals.rows == 2
    assert (totals.amounts, totals.fees, totals.debits) == ({"USD": 150}, {"USD": 3}, {"USD": 153})
    assert [b.id for b in approvals.my_batches(services, BATCH_MAKER)] == [batch_id]


def test_a_payout_changed_while_the_manager_looks_is_not_approved(
    page: Callable[..., AppTest], console: Services
) -> None:
    large_payout(console, "k-swap")
    at = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    assert table(at)["Wallet"] == "MTN ••••4321"
    large_payout(console, "k-swap", amount="1900", phone="231880009999")  # edited and sent again

    at.button(key="approve:k-swap").click()
    at.run()

    at.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"

    at.run()
    assert not at.exception
    assert "This payout changed since you opened it" in texts(at)
    intent = get_intent(console.engine, "k-swap")
    assert intent is not None and intent.state == IntentState.AWAITING_APPROVAL and intent.decided_by is None
    assert table(at)["Wallet"] == "MTN ••••9999"  # the page now shows what a click would approve

    at.button(key="approve:k-swap").click()
    at.run()

    at.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"

    at.run()
    assert "The payout is approved" in texts(at)
    decided = get_intent(console.engine, "k-swap")
    assert decided is not None and decided.state == IntentState.READY and decided.amount == 1900


def _resubmitted_with_another_wallet(svc: Services, batch_id: int) -> None:
    """The maker takes the batch back, sends row 1's money to another wallet, and resubmits."""
    drafts.withdraw(svc, BATCH_MAKER, batch_id)
    edited = [
        EditedRow(
            r.id,
            RowInput(r.name, "231880009999" if r.row_number == 1 else r.phone, r.amount_text, r.currency),
        )
        for r in sorted(rows_of(svc, batch_id), key=lambda r: r.row_number)
    ]
    drafts.save_rows(svc, BATCH_MAKER, batch_id, edited)
    drafts.submit_for_approval(svc, BATCH_MAKER, batch_id)


@pytest.mark.parametrize("where", ["pages/approvals.py", "pages/bulk.py"])
def test_a_batch_changed_while_the_manager_looks_is_not_approved(
    page: Callable[..., AppTest], console: Services, where: str
) -> None:
    text = rows_text("Musa Kollie,231880001234,25,USD,,", "Aline Uwase,250780005678,15000,RWF,,")
    batch_id = (
        drafts.create_batch(console, BATCH_MAKER, "June stipends", recipient_file.parse_rows(text)).id or 0
    )
    drafts.submit_for_approval(console, BATCH_MAKER, batch_id)
    at = page(where, role=Role.MANAGER, email=CHECKER)
    at.query_params["batch"] = str(batch_id)  # the Bulk payouts page opens it from the link
    at.run()
    approve, confirm = (
        (f"approve:{batch_id}", "approvals:confirm")
        if where == "pages/approvals.py"
        else ("bulk_approve", "bulk_approve_yes")
    )
    _resubmitted_with_another_wallet(console, batch_id)  # same totals, another recipient

    at.button(key=approve).click()
    at.run()
    at.button(key=confirm).click()  # the dialog: "Yes, approve"
    at.run()
    assert not at.exception
    assert "This batch changed since you opened it" in texts(at)
    assert records.get_batch(console, BATCH_MAKER, batch_id).state == BatchState.AWAITING_APPROVAL

    at.button(key=approve).click()  # the page shows the batch as it is now: this click approves it
    at.run()
    at.button(key=confirm).click()  # the dialog: "Yes, approve"
    at.run()
    decided = records.get_batch(console, BATCH_MAKER, batch_id)
    assert decided.state == BatchState.APPROVED and decided.decided_by == CHECKER


def test_a_batch_needing_two_managers_waits_after_the_first(
    page: Callable[..., AppTest], console: Services
) -> None:
    batch_id = waiting_batch(console)
    with Session(console.engine) as db:
        batch = db.get(Batch, batch_id)
        assert batch is not None
        batch.approvals_needed = 2
        db.add(batch)
        db.commit()
    at = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    assert "Needs two different managers: yours is the first approval." in texts(at)
    at.button(key=f"approve:{batch_id}").click()
    at.run()
    at.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"
    at.run()
    assert "Your approval is recorded: a second manager must approve it too." in texts(at)
    maker = page("pages/approvals.py", role=Role.FINANCE, email=BATCH_MAKER.email).run()
    assert f"Approved by {CHECKER}; waiting for a second manager." in texts(maker)
    second = page("pages/approvals.py", role=Role.MANAGER, email="max.manager@example.com").run()
    second.button(key=f"approve:{batch_id}").click()
    second.run()
    second.button(key="approvals:confirm").click()  # the dialog: "Yes, approve"
    second.run()
    with Session(console.engine) as db:
        done = db.get(Batch, batch_id)
        assert done is not None and done.state == BatchState.APPROVED


def test_approving_asks_first_and_says_what_happens(page: Callable[..., AppTest], console: Services) -> None:
    large_payout(console, "k-ask")
    at = page("pages/approvals.py", role=Role.MANAGER, email=CHECKER).run()
    at.button(key="approve:k-ask").click()
    at.run()
    assert not at.exception
    said = texts(at)
    assert (
        "You are approving **a payout of USD" in said
        and "Musa Kollie" in said
        and "No money moves now" in said
    )
    assert get_intent(console.engine, "k-ask").state == IntentState.AWAITING_APPROVAL  # type: ignore[union-attr]
    at.button(key="approvals:confirm_back").click()
    at.run()
    assert get_intent(console.engine, "k-ask").state == IntentState.AWAITING_APPROVAL  # type: ignore[union-attr]
    assert not [b for b in at.button if b.key == "approvals:confirm"]  # the dialog is closed
    at.button(key="approve:k-ask").click()
    at.run()
    at.button(key="approvals:confirm").click()
    at.run()
    assert get_intent(console.engine, "k-ask").state == IntentState.READY  # type: ignore[union-attr]
    assert "The payout is approved; its maker can see it now." in [t.value for t in at.toast]
    at.run()  # the toast was for what just happened: the next run does not repeat it
    assert not at.toast
