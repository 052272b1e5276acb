"""Issue 18 parts 3 and 4: refunds and wallet transfers pay exactly once, through the protocol."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from dollr_core.basics.access import Actor
from dollr_core.flows import refunds, transfers
from dollr_core.flows.books import follow_books
from dollr_core.flows.directory import Person
from dollr_core.flows.money_out import MoneyOutRefused
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import AttemptState, IntentState
from dollr_core.payments import protocol
from dollr_core.reports import history, statements
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.reports.statements import Period
from dollr_core.services import Services
from dollr_core.team import approvals
from dollr_sandbox import Sandbox
from tests.conftest import impatient, make_services
from tests.flows.helpers import collect, payout_as_shown, settle
from tests.flows.test_books_following import pay_on_hosted_page, published

WALLETS = {"USD": 1, "LRD": 2, "RWF": 3}
RECIPIENT = Person.checked("Kofi Mensah", "231880007777")


@pytest.fixture
def books(fresh_sandbox: Sandbox, ledger_url: str, tmp_path: Path) -> Iterator[Services]:
    """Services whose approval threshold is USD 100 and that know our sandbox wallets."""
    svc = make_services(
        fresh_sandbox,
        ledger_url,
        str(tmp_path),
        wallet_ids=WALLETS,
        approval_thresholds={"USD": Decimal("100")},
    )
    yield svc
    svc.client.close()
    svc.engine.dispose()


def refunds_at(sandbox: Sandbox) -> list[dict[str, object]]:
    return [e for e in sandbox.executions() if e["operation_type"] == "REFUND"]


def paid_collection(svc: Services, sandbox: Sandbox, actor: Actor) -> str:
    attempt = collect(svc, actor, uuid.uuid4().hex)  # USD 275.00
    settle(svc, sandbox)
    return attempt.reference_id


def refund(svc: Services, actor: Actor, sandbox: Sandbox, reference: str, amount: str) -> str:
    key = uuid.uuid4().hex
    refunds.prepare_refund(svc, actor, key, reference_id=reference, amount=amount, reason="Returned goods")
    attempt = refunds.confirm_refund(svc, actor, key)
    settle(svc, sandbox)
    return attempt.reference_id


def test_partial_refunds_up_to_the_remainder_then_refused(
    books: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    paid = paid_collection(books, fresh_sandbox, finance)
    first = refund(books, finance, fresh_sandbox, paid, "60")
    second = refund(books, finance, fresh_sandbox, paid, "90")
    assert refunds.refundable(books, finance, paid).remaining == Decimal("125.00")
    with pytest.raises(MoneyOutRefused, match=r"At most USD 125\.00 can still be refunded"):
        refunds.prepare_refund(
            books, finance, uuid.uuid4().hex, reference_id=paid, amount="125.01", reason="x"
        )
    at_dollr = refunds_at(fresh_sandbox)
    assert sorted(str(e["reference_id"]) for e in at_dollr) == sorted([first, second])
    assert all(e["status"] == "COMPLETED" for e in at_dollr)
    rows = history.page(
        books, finance, HistoryFilter(operations=("REFUND",), outcomes=(Outcome.COMPLETED,))
    ).rows
    assert {r.reference_id for r in rows} == {first, second}
    assert all(r.document_number for r in rows)  # shown against the document
    with pytest.raises(MoneyOutRefused, match="Say why"):
        refunds.prepare_refund(books, finance, uuid.uuid4().hex, reference_id=paid, amount="1", reason="  ")


def test_a_full_refund_above_the_threshold_waits_for_a_manager(
    books: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    paid = paid_collection(books, fresh_sandbox, finance)
    key = uuid.uuid4().hex
    intent = refunds.prepare_refund(
        books, finance, key, reference_id=paid, amount="275.00", reason="Cancelled order"
    )
    assert intent.state == IntentState.AWAITING_APPROVAL
    with pytest.raises(protocol.IntentNotReady):
        refunds.confirm_refund(books, finance, key)
    assert refunds_at(fresh_sandbox) == []
    approvals.decide_payout(
        books,
        manager,
        key,
        approvals.Decision(True, "Checked with the customer", payout_as_shown(books, key)),
    )
    attempt = refunds.confirm_refund(books, finance, key)
    settle(books, fresh_sandbox)
    assert [e["reference_id"] for e in refunds_at(fresh_sandbox)] == [attempt.reference_id]
    assert refunds.refundable(books, finance, paid).remaining == 0
    with pytest.raises(MoneyOutRefused, match=r"At most USD 0\.00"):
        refunds.prepare_refund(
            books, finance, uuid.uuid4().hex, reference_id=paid, amount="1", reason="again"
        )


@pytest.mark.parametrize(
    "fault",
    [
        {"action": "drop_response"},
        {"action": "status", "status": 503},
        {"action": "latency", "ms": 4000},  # the copy lands after we stopped waiting for it
    ],
    ids=["lost-answer", "503", "late-copy"],
)
def test_refund_pays_once_under_faults(
    books: Services, fresh_sandbox: Sandbox, finance: Actor, fault: dict[str, object]
) -> None:
    paid = paid_collection(books, fresh_sandbox, finance)
    key = uuid.uuid4().hex
    refunds.prepare_refund(books, finance, key, reference_id=paid, amount="50", reason="Damaged")
    fresh_sandbox.add_fault(path="/v1/executions/refund", count=1, **fault)  # type: ignore[arg-type]
    first = refunds.confirm_refund(impatient(books), finance, key)
    again = refunds.confirm_refund(books, finance, key)  # a double click
    settle(books, fresh_sandbox)
    final = refunds.confirm_refund(books, finance, key)
    assert first.reference_id == again.reference_id == final.reference_id
    assert final.local_state == AttemptState.COMPLETED
    assert [e["reference_id"] for e in refunds_at(fresh_sandbox)] == [final.reference_id]


def test_a_pay_link_payment_can_be_refunded(books: Services, fresh_sandbox: Sandbox, finance: Actor) -> None:
    record = published(books, finance, "refund-link", amount="80.00")
    pay_on_hosted_page(books, finance, fresh_sandbox, record)
    follow_books(books, sync=False)
    paid = history.page(books, finance, HistoryFilter(operations=("COLLECTION",))).rows[0].reference_id
    refunded = refund(books, finance, fresh_sandbox, paid, "80")
    assert [e["reference_id"] for e in refunds_at(fresh_sandbox)] == [refunded]
    assert [i.amount for i in refunds.refunds_of_document(books, record.source_type, record.dollr_id)] == [
        Decimal("80.0000")
    ]


def test_only_completed_collections_are_refunded(books: Services, finance: Actor, operator: Actor) -> None:
    with pytest.raises(MoneyOutRefused, match="No collection has this payment reference"):
        refunds.prepare_refund(
            books, finance, uuid.uuid4().hex, reference_id=str(uuid.uuid4()), amount="1", reason="x"
        )


def test_transfer_pays_once_and_shows_in_history_and_statement(
    books: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    today = fresh_sandbox.now().date()
    statements.enter_opening_balance(
        books, finance, currency="USD", amount="10000", as_of=today - timedelta(days=1)
    )
    key = uuid.uuid4().hex
    intent = transfers.prepare_transfer(
        books, finance, key, recipient=RECIPIENT, amount="30", currency="USD", note="Float"
    )
    assert intent.state == IntentState.READY and intent.dollr_counterparty_id
    fresh_sandbox.add_fault(path="/v1/executions/transfer", count=1, action="drop_response")
    first = transfers.confirm_transfer(books, finance, key)
    settle(books, fresh_sandbox)
    final = transfers.confirm_transfer(books, finance, key)
    assert first.reference_id == final.reference_id and final.local_state == AttemptState.COMPLETED
    at_dollr = [e for e in fresh_sandbox.executions() if e["operation_type"] == "TRANSFER"]
    assert [e["reference_id"] for e in at_dollr] == [final.reference_id]
    assert fresh_sandbox.wallets()["USD"] == Decimal("10000") - Decimal(str(at_dollr[0]["payer_amount"]))
    row = history.page(books, finance, HistoryFilter(operations=("TRANSFER",))).rows[0]
    assert row.outcome is Outcome.COMPLETED and row.party_name == "Kofi Mensah"
    made = statements.build_statement(books.engine, "USD", Period.day(today))
    assert made.money_out(statements.OperationType.TRANSFER) == Decimal("30")
    assert made.closing == fresh_sandbox.wallets()["USD"]

    big = uuid.uuid4().hex
    waiting = transfers.prepare_transfer(
        books, finance, big, recipient=RECIPIENT, amount="150", currency="USD"
    )
    assert waiting.state == IntentState.AWAITING_APPROVAL
    with pytest.raises(protocol.IntentNotReady):
        transfers.confirm_transfer(books, finance, big)
    approvals.decide_payout(
        books, manager, big, approvals.Decision(False, "Not this month", payout_as_shown(books, big))
    )
    with pytest.raises(protocol.IntentNotReady):
        transfers.confirm_transfer(books, finance, big)
    assert len([e for e in fresh_sandbox.executions() if e["operation_type"] == "TRANSFER"]) == 1


def test_only_the_maker_sends_a_refund(books: Services, fresh_sandbox: Sandbox, finance: Actor) -> None:
    paid = paid_collection(books, fresh_sandbox, finance)
    key = uuid.uuid4().hex
    refunds.prepare_refund(books, finance, key, reference_id=paid, amount="5", reason="Goodwill")
    colleague = Actor("fay.finance@example.com", finance.role)
    with pytest.raises(MoneyOutRefused, match="only they can send it"):
        refunds.confirm_refund(books, colleague, key)


def test_a_reason_or_note_too_long_or_with_control_characters_is_refused_before_anything_is_stored(
    books: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    reference = paid_collection(books, fresh_sandbox, finance)
    with pytest.raises(ValueError, match="reason"):
        refunds.prepare_refund(
            books, finance, "too-long", reference_id=reference, amount="1", reason="x" * 501
        )
    with pytest.raises(ValueError, match="reason"):
        refunds.prepare_refund(books, finance, "nul", reference_id=reference, amount="1", reason="a\x00b")
    with pytest.raises(ValueError, match="note"):
        transfers.prepare_transfer(
            books,
            finance,
            "note-nul",
            recipient=Person.checked("Musa Kollie", "231880001234", None, "LR"),
            amount="1",
            currency="USD",
            note="a\x00b",
        )
    assert get_intent(books.engine, "too-long") is None and get_intent(books.engine, "note-nul") is None
    assert refunds_at(fresh_sandbox) == []
