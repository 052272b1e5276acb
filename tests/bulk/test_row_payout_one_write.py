"""A bulk row's intent, its claim, its attempt (with the reference_id) and the body it sends are
one transaction.

A bulk row is prepared and sent in one go, with no person between, so nothing of it is written
on its own first: `payouts.send_row_payout` opens the payout session (which moves no money), then
writes the intent with its claim and the attempt as SENDING with its body
(`protocol.open_and_submit`): one write transaction where there were three, each waiting for
SQLite's one write turn. The money path is the protocol's as before: the reference_id is stored
before the call that can move money, a crash at any step is followed to one payout, a session
Dollr does not open goes the usual way, and a row whose intent an earlier run left in the ledger
is brought in line and sent as before.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import update
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor
from dollr_core.bulk import row_outcomes, running
from dollr_core.flows import payouts
from dollr_core.ledger.db import read_only
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    BatchRow,
    BatchRowState,
    Intent,
    IntentState,
    LedgerEvent,
)
from dollr_core.payments import protocol
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..conftest import impatient, make_services
from ..flows.helpers import all_attempts, executions_by_reference, settle
from .helpers import PASSCODE, approved_batch, rows_of, rows_text, run_to_end, write_transactions_begun

ROWS = 6


class Crash(Exception):
    """Stands for the process dying at a checkpoint."""


@pytest.fixture(autouse=True)
def _no_crash_hook() -> Any:
    protocol.crash_hook = None
    yield
    protocol.crash_hook = None


def test_a_batchs_rows_write_intent_claim_and_reference_in_one_transaction(
    services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    svc = services
    lines = [f"Person {n},23188{n:03d}4321,{n + 2},USD,,O-{n}" for n in range(1, ROWS + 1)]
    batch_id = approved_batch(svc, finance, manager, rows_text(*lines)).id or 0
    # Up to the send (the protocol's own steps after it are any payment's), and a body stored alone.
    begun = write_transactions_begun(
        svc.engine,
        {
            "open_intent": ("ledger/intents.py", "open_intent"),
            "open_and_submit": ("payments/protocol.py", "open_and_submit"),
        },
        not_within=("payments/protocol.py", "_carry_out"),
    )
    stored_alone = write_transactions_begun(svc.engine, {"_send": ("payments/protocol.py", "_send")})
    running.start_batch(svc, finance, batch_id, PASSCODE)
    run_to_end(svc, batch_id, fresh_sandbox)

    rows = rows_of(svc, batch_id)
    assert [row.state for row in rows] == [BatchRowState.PAID] * ROWS
    assert sorted(executions_by_reference(fresh_sandbox)) == sorted(row.reference_id or "" for row in rows)
    # One transaction per row wrote its intent, claimed it and stored its reference_id and body;
    # none wrote an intent alone, nor stored a body to send on its own.
    assert (begun["open_and_submit"], begun["open_intent"], stored_alone["_send"]) == (ROWS, 0, 0), begun
    with Session(read_only(svc.engine)) as db:
        for row in rows:
            intent = db.exec(select(Intent).where(Intent.intent_key == row.intent_key)).one()
            events = db.exec(
                select(LedgerEvent.action, LedgerEvent.to_state)
                .where(LedgerEvent.intent_id == intent.id)
                .order_by(col(LedgerEvent.id))
            ).all()
            # Its record reads as before: opened READY, claimed, its attempt made and sending.
            assert events[:4] == [
                ("intent_opened", IntentState.READY),
                ("intent_state", IntentState.EXECUTING),
                ("attempt_created", AttemptState.PREPARING),
                ("attempt_state", AttemptState.SENDING),
            ], events


def _one_claimed_row(svc: Services, finance: Actor, manager: Actor, n: int = 1) -> tuple[int, BatchRow, str]:
    """A running batch of one row, claimed for sending as the worker claims it (no worker runs)."""
    line = f"Ama Dolo,23188000432{n},12,USD,,R-{n}"
    batch_id = approved_batch(svc, finance, manager, rows_text(line)).id or 0
    running._mark_running(svc.engine, batch_id, finance)
    (row,) = rows_of(svc, batch_id)
    (key,) = row_outcomes.claim_rows(svc.engine, [row.id or 0]).values()
    return batch_id, row, key


def _prepared(
    svc: Services, finance: Actor, batch_id: int, row: BatchRow, key: str
) -> payouts.PreparedPayout:
    return payouts.prepared_payout(
        svc,
        finance,
        key,
        batch_id=batch_id,
        name=row.name,
        phone=row.phone,
        amount=row.amount_text,
        currency=row.currency,
    )


def test_a_row_whose_intent_an_earlier_run_left_is_brought_in_line_and_sent_once(
    services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    svc = services
    batch_id, row, key = _one_claimed_row(svc, finance, manager)
    prepared = _prepared(svc, finance, batch_id, row, key)
    # An earlier run wrote the row's intent, not yet ready, and stopped there.
    dataclasses.replace(prepared.intent, state=IntentState.OPEN).open(svc.engine)

    attempt = payouts.send_row_payout(svc, finance, prepared, PASSCODE)
    again = payouts.send_row_payout(svc, finance, prepared, PASSCODE)  # a second run of the row

    assert again.reference_id == attempt.reference_id
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [attempt.reference_id]
    intent = get_intent(svc.engine, key)
    assert intent is not None and intent.state == IntentState.EXECUTING
    assert intent.current_attempt_id == attempt.id


def test_an_empty_passcode_writes_nothing(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    svc = sqlite_services
    batch_id, row, key = _one_claimed_row(svc, finance, manager)
    with pytest.raises(payouts.PayoutRefused, match="passcode"):
        payouts.send_row_payout(svc, finance, _prepared(svc, finance, batch_id, row, key), "  ")
    assert get_intent(svc.engine, key) is None
    assert fresh_sandbox.executions() == []


def _crash_at(point: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == point:
            raise Crash(point)

    return hook


def test_a_session_dollr_refuses_goes_the_usual_way(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    """The session is opened before anything is written; one Dollr refuses leaves the row to the
    usual path (intent and claim first, then the protocol opens the session and records what
    Dollr says): refused once, it is paid once; refused again, the attempt says so."""
    svc = sqlite_services
    batch_id, row, key = _one_claimed_row(svc, finance, manager)
    fresh_sandbox.add_fault(path="/v1/sessions", count=1, action="status", status=400)
    attempt = payouts.send_row_payout(svc, finance, _prepared(svc, finance, batch_id, row, key), PASSCODE)
    assert attempt.local_state in (AttemptState.ACCEPTED, AttemptState.COMPLETED)
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [attempt.reference_id]

    batch_id, row, key = _one_claimed_row(svc, finance, manager, 2)
    fresh_sandbox.add_fault(path="/v1/sessions", count=2, action="status", status=400)
    refused = payouts.send_row_payout(svc, finance, _prepared(svc, finance, batch_id, row, key), PASSCODE)
    assert refused.local_state == AttemptState.REFUSED and refused.last_error
    assert len(fresh_sandbox.executions()) == 1


def _crash_at(point: str) -> Callable[[str], None]:
    def hook(name: str) -> None:
        if name == point:
            raise Crash(point)

    return hook


@pytest.mark.parametrize("point", ["before_session", "after_session", "before_execute", "after_execute"])
def test_a_crash_at_any_step_of_a_rows_send_ends_in_one_payout(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor, point: str
) -> None:
    svc = sqlite_services
    batch_id, row, key = _one_claimed_row(svc, finance, manager)
    prepared = _prepared(svc, finance, batch_id, row, key)
    protocol.crash_hook = _crash_at(point)
    with pytest.raises(Crash):
        payouts.send_row_payout(svc, finance, prepared, PASSCODE)
    protocol.crash_hook = None
    sent = [e["reference_id"] for e in fresh_sandbox.executions()]
    if point in ("before_session", "after_session"):
        # Died before its one write: nothing to follow (a session, if opened, moves no money),
        # and the worker's next run prepares and sends the row again.
        assert all_attempts(svc) == [] and get_intent(svc.engine, key) is None and sent == []
        attempt = payouts.send_row_payout(svc, finance, _prepared(svc, finance, batch_id, row, key), PASSCODE)
    else:
        # The reference_id and the body were stored before the call that moves money.
        (stored,) = all_attempts(svc)
        assert stored.local_state == AttemptState.SENDING and stored.request_json
        assert sent in ([], [stored.reference_id])
        with Session(svc.engine) as db:  # the dead worker's leases run out
            db.exec(update(Intent).values(lease_until=None))  # type: ignore[call-overload]
            db.exec(update(Attempt).values(lease_until=None))  # type: ignore[call-overload]
            db.commit()
        settle(svc, fresh_sandbox)  # the reconciler follows it; only a passcode holder may send again
        # The worker's next run of the row finds its intent and sends it as any prepared payout.
        attempt = payouts.confirm_payout(svc, finance, key, PASSCODE)
    settle(svc, fresh_sandbox)
    attempt = payouts.confirm_payout(svc, finance, key, PASSCODE)
    assert attempt.local_state == AttemptState.COMPLETED
    executions = fresh_sandbox.executions()
    assert [e["reference_id"] for e in executions] == [attempt.reference_id]
    for other in all_attempts(svc):
        if other.reference_id != attempt.reference_id:
            assert other.local_state == AttemptState.ABANDONED  # Dollr's clock says it cannot land


def test_a_rows_send_that_reaches_dollr_after_the_client_gave_up_is_paid_once(
    fresh_sandbox: Sandbox, tmp_path: object, finance: Actor, manager: Actor
) -> None:
    """The execute sent after a row's one write arrives late: the client stops waiting after 1 s,
    Dollr takes the request 4 s after it left. The attempt is not called failed; whether the late
    copy or a resend of the same body (same reference_id) lands, Dollr holds one payout, and the
    row's next run reports that attempt instead of sending again."""
    svc = make_services(fresh_sandbox, f"sqlite:///{tmp_path}/late.db", str(tmp_path))
    batch_id, row, key = _one_claimed_row(svc, finance, manager)
    prepared = _prepared(svc, finance, batch_id, row, key)
    fresh_sandbox.add_fault(path="/v1/executions", count=1, action="latency", ms=4000)
    first = payouts.send_row_payout(impatient(svc), finance, prepared, PASSCODE)
    assert first.local_state not in (AttemptState.FAILED, AttemptState.REFUSED, AttemptState.ABANDONED)
    settle(svc, fresh_sandbox)
    attempt = payouts.confirm_payout(svc, finance, key, PASSCODE)
    assert attempt.reference_id == first.reference_id
    assert attempt.local_state == AttemptState.COMPLETED
    assert [e["reference_id"] for e in fresh_sandbox.executions()] == [first.reference_id]
