"""Rows in flight: the worker claims a row, records its payment's outcome, fails or requeues it,
and finishes or stops its batch. Each step is one guarded statement or transaction, and every
state change goes through `ledger.transitions`, which writes its ledger event."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Engine, String, bindparam, cast, exists, func, literal, or_, update
from sqlmodel import Session, col, select

from dollr_core.api.errors import RATE_LIMITED
from dollr_core.bulk.states import IN_FLIGHT_ROWS, LIVE_BATCHES
from dollr_core.explain import failure_reason
from dollr_core.ledger import audit, transitions
from dollr_core.ledger.db import read_only
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
)

#: Who the ledger says moved a row or batch the worker moved.
WORKER = "system:bulk-worker"


def claim_rows(engine: Engine, row_ids: Sequence[int]) -> dict[int, str]:
    """Take waiting rows for sending, in one transaction: each QUEUED → SENT, with its intent key
    stored before anything is sent. Returns the rows taken and their keys; a row no longer waiting
    (or whose batch is not running: pause, cancel) is left as it is and out of the answer."""
    if not row_ids:
        return {}
    # A key of its own per row, made by the statement itself (one statement for every row): this
    # claim's stamp and the row's id. A key already on a row is kept: an intent may exist under it.
    stamp = f"{new_intent_key()}-"
    with Session(engine) as db:
        running = exists().where(col(Batch.id) == BatchRow.batch_id, col(Batch.state) == BatchState.RUNNING)
        claimed = transitions.move_where(
            db,
            BatchRow,
            BatchRowState.QUEUED,
            BatchRowState.SENT,
            where=[col(BatchRow.id).in_(row_ids), running],
            values={
                "intent_key": func.coalesce(
                    BatchRow.intent_key, literal(stamp, String) + cast(BatchRow.id, String)
                ),
                "failure_reason": None,
            },
            actor=WORKER,
        )
        if not claimed:
            return {}
        # In the claim's transaction: the keys as they were just written (a bare read, no ORM rows).
        keys = {row: key for row, key in db.connection().execute(_ROW_INTENT_KEYS, {"rows": claimed})}
        db.commit()
        return keys


def still_sent(engine: Engine, row_id: int) -> bool:
    """The row is still handed over for payment (not settled, requeued or failed meanwhile)."""
    with read_only(engine).connect() as conn:
        state = conn.execute(_ROW_STATE, {"row": row_id}).scalar_one_or_none()
    return state == BatchRowState.SENT


def record_outcome(engine: Engine, row_id: int, attempt: Attempt) -> None:
    """`record_outcomes` of one row."""
    record_outcomes(engine, [(row_id, attempt)])


def record_outcomes(engine: Engine, outcomes: Sequence[tuple[int, Attempt]]) -> None:
    """Copy where each row's payment stands onto its row, only while the row is in flight, in one
    transaction: a payment still on its way names itself on its row (if it does not yet); a final
    one moves its row to PAID or FAILED, each a compare-and-set UPDATE on the row still SENT with
    its event, nothing read first."""
    on_their_way = [
        {"row": row_id, "reference": attempt.reference_id}
        for row_id, attempt in outcomes
        if not AttemptState(attempt.local_state).is_final
    ]
    paid: list[tuple[int, dict[str, Any], str | None]] = []
    failed: list[tuple[int, dict[str, Any], str | None]] = []
    for row_id, attempt in outcomes:
        state, reference = AttemptState(attempt.local_state), attempt.reference_id
        if state is AttemptState.COMPLETED:
            values = {
                "payer_amount": attempt.payer_amount,
                "payee_amount": attempt.payee_amount,
                "failure_reason": None,
            }
            paid.append((row_id, {"reference_id": reference, **values}, reference))
        elif state is AttemptState.ABANDONED:
            reason = "It never reached Dollr: nothing was paid."
            failed.append((row_id, {"reference_id": reference, "failure_reason": reason}, reference))
        elif state.is_final:  # failed or refused
            reason = failure_reason(attempt)[:500]
            failed.append((row_id, {"reference_id": reference, "failure_reason": reason}, reference))
    if not (on_their_way or paid or failed):
        return
    with Session(engine) as db:
        if on_their_way:
            db.connection().execute(_NOTE_REFERENCE, on_their_way)
        for to, rows in ((BatchRowState.PAID, paid), (BatchRowState.FAILED, failed)):
            if rows:
                transitions.move_each(db, BatchRow, BatchRowState.SENT, to, rows, actor=WORKER)
        db.commit()


# Built once (bound values): a row's state, read on a bare connection before each send.
_ROW_STATE = select(BatchRow.__table__.c.state).where(  # type: ignore[attr-defined]
    BatchRow.__table__.c.id == bindparam("row")  # type: ignore[attr-defined]
)
_ROW_INTENT_KEYS = select(BatchRow.__table__.c.id, BatchRow.__table__.c.intent_key).where(  # type: ignore[attr-defined]
    BatchRow.__table__.c.id.in_(bindparam("rows", expanding=True))  # type: ignore[attr-defined]
)
# Built once (bound values): a row in flight takes its payment's reference the first time it is seen.
_NOTE_REFERENCE = (
    update(BatchRow)
    .where(
        col(BatchRow.id) == bindparam("row"),
        col(BatchRow.state) == BatchRowState.SENT,
        or_(col(BatchRow.reference_id).is_(None), col(BatchRow.reference_id) != bindparam("reference")),
    )
    .values(reference_id=bindparam("reference"))
)


def fail_row(engine: Engine, row_id: int, reason: str) -> None:
    """Nothing was paid and nothing will be: Dollr or the checks refused the row."""
    with Session(engine) as db:
        transitions.move_where(
            db,
            BatchRow,
            BatchRowState.SENT,
            BatchRowState.FAILED,
            where=[col(BatchRow.id) == row_id],
            values={"failure_reason": reason[:500]},
            actor=WORKER,
            detail=reason[:500],
        )
        db.commit()


def turned_away(attempt: Attempt) -> bool:
    """Dollr answered 429 to opening the payment's session, and the protocol recorded the attempt
    as refused. Nothing was sent (no session, no execution), so nothing was paid, and a rate is
    no verdict on the row: it may go again under a fresh intent (`requeue_row`)."""
    return (
        AttemptState(attempt.local_state) is AttemptState.REFUSED
        and attempt.session_id is None
        and attempt.sent_at is None
        and RATE_LIMITED in (attempt.last_error or "")
    )


def requeue_row(engine: Engine, row_id: int, reason: str) -> None:
    """Put a row whose payment provably moved no money back in the queue, under a fresh intent.

    Used when the whole batch had to stop (wrong passcode, wallet too short): the row is sent
    again on resume; and when Dollr turned its session away for the rate (`turned_away`). Its
    failed attempt stays in the ledger.
    """
    with Session(engine) as db:
        transitions.move_where(
            db,
            BatchRow,
            BatchRowState.SENT,
            BatchRowState.QUEUED,
            where=[col(BatchRow.id) == row_id],
            values={
                "intent_key": None,
                "reference_id": None,
                "failure_reason": f"Not sent yet: {reason}"[:500],
            },
            actor=WORKER,
            detail=reason[:500],
        )
        db.commit()


def sync_rows(engine: Engine, batch_id: int) -> int:
    """Copy the outcome of every settled payment (the worker's, or the reconciler's) onto its row."""
    with Session(engine) as db:
        settled = db.exec(
            select(BatchRow.id, Attempt)
            .join(Intent, col(Intent.intent_key) == col(BatchRow.intent_key))
            .join(Attempt, col(Attempt.id) == col(Intent.current_attempt_id))
            .where(
                BatchRow.batch_id == batch_id,
                BatchRow.state == BatchRowState.SENT,
                col(Attempt.local_state).in_(
                    (AttemptState.COMPLETED, AttemptState.FAILED, AttemptState.REFUSED)
                ),
            )
        ).all()
    record_outcomes(engine, [(row_id, attempt) for row_id, attempt in settled if row_id is not None])
    return len(settled)


def finish_if_done(engine: Engine, batch_id: int) -> Batch | None:
    """A running or paused batch with no row waiting or in flight is finished."""
    with Session(engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None or batch.state not in LIVE_BATCHES:
            return batch
        open_rows = db.exec(
            select(func.count())
            .select_from(BatchRow)
            .where(col(BatchRow.batch_id) == batch_id, col(BatchRow.state).in_(IN_FLIGHT_ROWS))
        ).one()
        if open_rows:
            return batch
        transitions.move(db, batch, BatchState.FINISHED, actor=WORKER)
        db.commit()
        db.refresh(batch)
    audit.record(engine, WORKER, "batch_finished", target=f"batch {batch_id}")
    return batch


def stop_for(engine: Engine, batch_id: int, reason: str) -> None:
    """The worker pauses a running batch that cannot go on (passcode refused, wallet short)."""
    with Session(engine) as db:
        paused = transitions.move_where(
            db,
            Batch,
            BatchState.RUNNING,
            BatchState.PAUSED,
            where=[col(Batch.id) == batch_id],
            actor=WORKER,
            detail=reason,
        )
        db.commit()
    if paused:
        audit.record(engine, WORKER, "batch_paused", target=f"batch {batch_id}", detail=reason)
