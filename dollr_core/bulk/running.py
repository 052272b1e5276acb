"""Starting, resuming, pausing and canceling a batch; the worker that pays it is started here."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dollr_core.basics import validation
from dollr_core.basics.access import Actor, Permission, require, require_any
from dollr_core.bulk import worker
from dollr_core.bulk.records import move_batch
from dollr_core.bulk.row_checks import references_elsewhere
from dollr_core.bulk.states import BATCH_STATUS, LIVE_BATCHES, BulkError, can_cancel
from dollr_core.ledger import audit, transitions
from dollr_core.ledger.tables import (
    HELD_REFERENCE_INDEX,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
    IntentState,
)
from dollr_core.services import Services

#: Starts of one batch that lose a reference race before giving up (each loss settles one race).
_QUEUE_TRIES = 3


def start_batch(svc: Services, actor: Actor, batch_id: int, passcode: str) -> Batch:
    """Start paying an approved batch, or resume a paused or interrupted one, with the passcode.

    The passcode goes to the worker only (held in memory, never stored or logged). Rows whose
    reference another batch paid since the approval are canceled, not sent.
    """
    require(actor, Permission.BULK_PAYOUTS)
    if not passcode.strip():
        raise BulkError("Enter the merchant passcode to start paying.")
    for tries_left in reversed(range(_QUEUE_TRIES)):
        try:
            batch, state = _mark_running(svc.engine, batch_id, actor)
            break
        except IntegrityError as exc:
            # Another batch took one of these references at the same instant; its claim is
            # committed now, so looking again cancels our row with the reason.
            if HELD_REFERENCE_INDEX not in str(exc.orig) or not tries_left:
                raise
    action = "batch_started" if state is BatchState.APPROVED else "batch_resumed"
    audit.record(svc.engine, actor.email, action, target=f"batch {batch_id}")
    worker.start(svc, actor, batch_id, passcode)
    return batch


def _mark_running(engine: Engine, batch_id: int, actor: Actor) -> tuple[Batch, BatchState]:
    """RUNNING, with an approved batch's rows queued (or canceled); returns the state it was in."""
    with Session(engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise BulkError(f"There is no batch {batch_id}.")
        state = BatchState(batch.state)
        if state not in (BatchState.APPROVED, *LIVE_BATCHES):
            raise BulkError("This batch cannot be started: it is " + BATCH_STATUS[state] + ".")
        if state is BatchState.APPROVED:
            _queue_rows(db, batch_id, actor)
        transitions.move(db, batch, BatchState.RUNNING, actor=actor.email)
        db.commit()
        db.refresh(batch)
        return batch, state


def _queue_rows(db: Session, batch_id: int, actor: Actor) -> None:
    """Queue the ready rows; a row whose reference another batch holds is canceled instead.

    The check alone can race with another batch starting at the same instant: the ledger's unique
    index on held references (`HELD_REFERENCE_INDEX`) makes the loser's claim fail. Rows holding
    a reference are claimed one by one in reference order, so two such batches never deadlock.
    """
    rows = list(
        db.exec(
            select(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.state == BatchRowState.VALID)
        ).all()
    )
    elsewhere = references_elsewhere(db, [r.own_reference for r in rows if r.own_reference], batch_id)
    for row in sorted(rows, key=lambda r: (r.own_reference or "").lower()):
        reason = elsewhere.get((row.own_reference or "").lower())
        row.failure_reason = f"Not sent: {reason}" if reason else None
        to = BatchRowState.CANCELED if reason else BatchRowState.QUEUED
        transitions.move(db, row, to, actor=actor.email, detail=reason)
        if row.own_reference and not reason:
            db.flush()


def resume_batch(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Resume a paused batch whose worker still holds the passcode (else use `start_batch`)."""
    require(actor, Permission.BULK_PAYOUTS)
    if not worker.holds_passcode(svc, batch_id):
        raise BulkError("Enter the merchant passcode to resume this batch.")
    batch = move_batch(svc.engine, actor, batch_id, (BatchState.PAUSED,), BatchState.RUNNING)
    audit.record(svc.engine, actor.email, "batch_resumed", target=f"batch {batch_id}")
    worker.wake(svc, batch_id)
    return batch


def pause_batch(svc: Services, actor: Actor, batch_id: int, *, reason: str = "") -> Batch:
    """Stop sending rows; rows already sent are still followed to their outcome."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    if problem := validation.text_problem(reason, "reason", max_length=500, multiline=True):
        raise BulkError(problem)
    batch = move_batch(svc.engine, actor, batch_id, (BatchState.RUNNING,), BatchState.PAUSED, detail=reason)
    audit.record(svc.engine, actor.email, "batch_paused", target=f"batch {batch_id}", detail=reason or None)
    return batch


def cancel_batch(svc: Services, actor: Actor, batch_id: int) -> Batch:
    """Cancel every row not yet sent. Rows already sent cannot be called back: they finish."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    with Session(svc.engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise BulkError(f"There is no batch {batch_id}.")
        if not can_cancel(batch):
            raise BulkError(
                "This batch cannot be canceled: it is " + BATCH_STATUS[BatchState(batch.state)] + "."
            )
        # One statement, so no row can be claimed for sending between the check and the change.
        canceled = len(
            transitions.move_where(
                db,
                BatchRow,
                BatchRowState.QUEUED,
                BatchRowState.CANCELED,
                where=[col(BatchRow.batch_id) == batch_id],
                values={"failure_reason": "Canceled before it was sent."},
                actor=actor.email,
                detail=f"batch {batch_id} canceled",
            )
        )
        canceled += _drop_unsent(db, batch_id, actor)
        transitions.move(db, batch, BatchState.CANCELED, actor=actor.email)
        db.commit()
        db.refresh(batch)
    audit.record(
        svc.engine,
        actor.email,
        "batch_canceled",
        target=f"batch {batch_id}",
        detail=f"{canceled} rows not sent",
    )
    return batch


def _drop_unsent(db: Session, batch_id: int, actor: Actor) -> int:
    """Rows taken for sending whose payment never reached Dollr (say Dollr could not be reached
    while preparing them) are canceled too. Their intent is withdrawn in the same transaction, so
    no worker can still send it; a row whose intent an attempt holds is left to finish."""
    dropped = 0
    claimed = db.exec(
        select(BatchRow).where(BatchRow.batch_id == batch_id, BatchRow.state == BatchRowState.SENT)
    ).all()
    for row in claimed:
        intent = None
        if row.intent_key:
            intent = db.exec(
                select(Intent).where(Intent.intent_key == row.intent_key).with_for_update()
            ).first()
        if intent is not None:
            if intent.current_attempt_id is not None or intent.state not in (
                IntentState.OPEN,
                IntentState.READY,
            ):
                continue
            transitions.move(
                db,
                intent,
                IntentState.CANCELED,
                actor=actor.email,
                detail=f"batch {batch_id} canceled before it was sent",
            )
        row.failure_reason = "Canceled before it was sent."
        transitions.move(
            db, row, BatchRowState.CANCELED, actor=actor.email, detail=f"batch {batch_id} canceled"
        )
        dropped += 1
    return dropped
