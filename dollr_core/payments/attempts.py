"""An attempt's record in the ledger: every write the execution protocol makes to an attempt and
to the intent it holds, each in one short transaction, each state change through
`ledger.transitions`.

Writes made after a send check that this worker still holds the attempt's lease (`expect_owner`),
so a sender taken over while its call was out never finishes an attempt another worker settles.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session, select

from dollr_core.api.errors import DollrError
from dollr_core.api.models import Execution
from dollr_core.basics.enums import ExecutionStatus, OperationType
from dollr_core.basics.phone import mask_phone
from dollr_core.errors import ChangedMeanwhile
from dollr_core.ledger import audit, transitions
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.leases import LEASE
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState


class LeaseLost(RuntimeError):
    """Another worker took the attempt over (our lease ran out): stop without sending."""


class IntentNotReady(ChangedMeanwhile):
    """The intent cannot be executed now (awaiting approval, not prepared, rejected ...)."""


def not_ready_reason(state: IntentState) -> str:
    return {
        IntentState.OPEN: "This payment is not fully prepared yet.",
        IntentState.AWAITING_APPROVAL: "This payment is waiting for a manager's approval.",
        IntentState.REJECTED: "This payment was rejected by an approver; it will not be sent.",
    }.get(state, "This payment cannot be sent now.")


def new_attempt(db: Session, intent: Intent, operation: OperationType, *, actor: str, owner: str) -> Attempt:
    """Store a fresh reference_id for the intent: only ever called while holding the intent."""
    attempt = Attempt(
        reference_id=str(uuid.uuid4()),
        intent_id=intent.id or 0,
        operation_type=operation,
        step="execute",
        local_state=AttemptState.PREPARING,
        account_id=intent.account_id,
        source_type=intent.source_type,
        source_id=intent.source_id,
        source_number=intent.source_number,
        party_name=intent.party_name,
        phone=intent.phone,
        method=intent.method,
        provider=intent.provider,
        amount=intent.amount,
        currency=intent.currency,
        payer_currency=intent.payer_currency,
        operator=intent.operator or actor,
        batch_id=intent.batch_id,
        predicted_payer_amount=intent.predicted_payer_amount,
        predicted_payee_amount=intent.predicted_payee_amount,
        predicted_platform_fee=intent.predicted_platform_fee,
        predicted_gateway_fee=intent.predicted_gateway_fee,
        predicted_fx_fee=intent.predicted_fx_fee,
        lease_owner=owner,
        lease_until=utcnow() + LEASE,
    )
    transitions.created(db, attempt, actor=actor, action="attempt_created", detail=attempt.reference_id)
    intent.current_attempt_id = attempt.id
    if intent.state != IntentState.EXECUTING:
        transitions.move(db, intent, IntentState.EXECUTING, actor=actor, detail=attempt.reference_id)
    intent.step = "execute"
    intent.updated_at = utcnow()
    db.add(intent)
    # In the attempt's own transaction: a payment that may go out always has its audit record.
    audit.add(
        db,
        actor,
        f"{operation.value.lower()}_submitted",
        target=attempt.reference_id,
        detail=" ".join(
            filter(
                None,
                [
                    attempt.currency,
                    str(attempt.amount),
                    attempt.party_name,
                    mask_phone(attempt.phone) if attempt.phone else None,
                    attempt.source_number,
                ],
            )
        ),
    )
    return attempt


def reopen_intent(engine: Engine, attempt: Attempt, actor: str) -> None:
    """Nothing landed and nothing can: the person may confirm again (with a new session)."""
    with Session(engine) as db:
        intent = db.get(Intent, attempt.intent_id, with_for_update=True)
        if intent is None or intent.current_attempt_id != attempt.id:
            return
        if IntentState(intent.state) is IntentState.EXECUTING:
            _intent_to(db, intent, IntentState.READY, actor, "earlier try never reached Dollr")
            intent.lease_owner = intent.lease_until = None
            db.add(intent)
            db.commit()


def adopt(engine: Engine, attempt: Attempt, execution: Execution, actor: str) -> Attempt:
    """Record what Dollr holds for the reference_id; finish the intent when it is final."""
    status = _status_of(execution)
    new_state = {
        ExecutionStatus.COMPLETED: AttemptState.COMPLETED,
        ExecutionStatus.FAILED: AttemptState.FAILED,
    }.get(status, AttemptState.ACCEPTED)
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if AttemptState(row.local_state).is_final:
            return row
        changes: dict[str, Any] = {
            "remote_status": status.value if status else None,
            "payer_amount": execution.payer_amount,
            "payee_amount": execution.payee_amount,
            "settled_payer_currency": execution.payer_currency,
            "payee_currency": execution.payee_currency,
            "provider_transaction_id": execution.provider_transaction_id,
            "gateway_message": execution.gateway_message,
            "wallet_message": execution.wallet_message,
            "requires_action": bool(execution.requires_action),
        }
        if isinstance(execution.payment_intent_id, int):
            changes["payment_intent_id"] = execution.payment_intent_id
        for name, value in changes.items():
            if value is not None or name == "remote_status":
                setattr(row, name, value)
        if row.local_state != new_state:
            _move(db, row, new_state, actor, f"Dollr says {status.value if status else '?'}")
        if new_state is AttemptState.ACCEPTED:
            row.next_poll_at = utcnow() + next_poll_delay(row.poll_count)
            row.poll_count += 1
        else:
            row.final_at = utcnow()
            row.next_poll_at = None
            _finish_intent(db, row, actor)
        row.last_error = None if new_state is not AttemptState.FAILED else _failure_text(execution)
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def _status_of(execution: Execution) -> ExecutionStatus:
    try:
        return ExecutionStatus(str(execution.status))
    except ValueError:
        return ExecutionStatus.PROCESSING  # an unknown status is not final: keep polling


def _failure_text(execution: Execution) -> str:
    return execution.wallet_message or execution.gateway_message or "Dollr reported the payment as failed."


def next_poll_delay(poll_count: int) -> timedelta:
    """2 s at first, backing off to 30 s during a long PROCESSING (the payer may take minutes)."""
    return timedelta(seconds=min(2.0 * (1.5**poll_count), 30.0))


def _finish_intent(db: Session, attempt: Attempt, actor: str) -> None:
    intent = db.get(Intent, attempt.intent_id, with_for_update=True)
    if intent is None or intent.current_attempt_id != attempt.id:
        return
    final = IntentState.COMPLETED if attempt.local_state == AttemptState.COMPLETED else IntentState.FAILED
    if intent.state != final:
        _intent_to(db, intent, final, actor, attempt.last_error or attempt.local_state)
    intent.lease_owner = intent.lease_until = None
    intent.last_error = attempt.last_error
    db.add(intent)


def finish_refused(
    engine: Engine, attempt: Attempt, exc: DollrError, actor: str, *, expect_owner: str | None = None
) -> Attempt:
    """Dollr refused the request on its content: nothing exists, the intent has failed."""
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if expect_owner is not None and row.lease_owner != expect_owner:
            raise LeaseLost(row.reference_id)
        row.last_error = exc.message
        _move(db, row, AttemptState.REFUSED, actor, exc.message)
        db.add(row)
        _finish_intent(db, row, actor)
        db.commit()
        db.refresh(row)
        return row


def record_error(engine: Engine, attempt: Attempt, exc: DollrError, actor: str) -> Attempt:
    return update(engine, attempt, actor, "error", last_error=exc.message)


def schedule(engine: Engine, attempt: Attempt, *, seconds: float, hold_sends: bool = False) -> Attempt:
    """When to look again; `hold_sends` also keeps every sender away until then (429)."""
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        row.next_poll_at = utcnow() + timedelta(seconds=seconds)
        if hold_sends:
            row.retry_not_before = row.next_poll_at
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def mark_unknown(engine: Engine, attempt: Attempt, actor: str) -> Attempt:
    """The sender's lease ran out mid-call: nobody knows whether Dollr got the request."""
    return move_and_save(engine, attempt, AttemptState.UNKNOWN, actor, "sender went silent")


def release(engine: Engine, attempt: Attempt, *, retry_in: timedelta | None = None) -> Attempt:
    """Give up the lease; a worker that failed asks for the next look a little later."""
    if retry_in is not None:
        attempt = schedule(engine, attempt, seconds=retry_in.total_seconds())
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        row.lease_owner = row.lease_until = None
        if row.local_state in (AttemptState.UNKNOWN, AttemptState.PREPARING) and row.next_poll_at is None:
            row.next_poll_at = utcnow() + timedelta(seconds=3)
        db.add(row)
        intent = db.get(Intent, row.intent_id)
        if intent is not None and intent.current_attempt_id == row.id:
            intent.lease_owner = intent.lease_until = None
            db.add(intent)
        db.commit()
        db.refresh(row)
        return row


def update(
    engine: Engine,
    attempt: Attempt,
    actor: str,
    action: str,
    *,
    state: AttemptState | None = None,
    expect_owner: str | None = None,
    **changes: Any,
) -> Attempt:
    """Write `changes` (and move to `state`, if given and new) in one transaction."""
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if expect_owner is not None and (
            row.lease_owner != expect_owner or row.local_state != attempt.local_state
        ):
            raise LeaseLost(row.reference_id)
        for name, value in changes.items():
            setattr(row, name, value)
        if state is not None and state != row.local_state:
            _move(db, row, state, actor, action)
        row.updated_at = utcnow()
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def move_and_save(
    engine: Engine,
    attempt: Attempt,
    state: AttemptState,
    actor: str,
    why: str,
    *,
    error: DollrError | None = None,
    expect_owner: str | None = None,
) -> Attempt:
    changes: dict[str, Any] = {}
    if error is not None:
        changes["last_error"] = error.message
    return update(engine, attempt, actor, why, state=state, expect_owner=expect_owner, **changes)


def _move(db: Session, attempt: Attempt, state: AttemptState, actor: str, why: str) -> None:
    transitions.move(db, attempt, state, actor=actor, detail=why[:500])


def _intent_to(db: Session, intent: Intent, state: IntentState, actor: str, why: str) -> None:
    transitions.move(db, intent, state, actor=actor, detail=why[:500])


def reload(engine: Engine, attempt: Attempt) -> Attempt:
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        return row


def current_attempt(engine: Engine, intent_key: str) -> Attempt:
    with Session(engine) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == intent_key)).one()
        if intent.current_attempt_id is None:
            raise IntentNotReady(not_ready_reason(IntentState(intent.state)))
        attempt = db.get(Attempt, intent.current_attempt_id)
        assert attempt is not None
        return attempt
