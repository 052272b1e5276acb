"""The batch and row records in the ledger: reading them, and moving a batch between states."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, bindparam
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, require_any
from dollr_core.bulk.states import BATCH_STATUS, BulkError
from dollr_core.ledger import transitions
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import (
    Attempt,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
)
from dollr_core.services import Services


def list_batches(svc: Services, actor: Actor, *, limit: int = 50) -> list[Batch]:
    """The newest batches first."""
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    with Session(read_only(svc.engine)) as db:
        return list(db.exec(select(Batch).order_by(col(Batch.id).desc()).limit(limit)).all())


def get_batch(svc: Services, actor: Actor, batch_id: int) -> Batch:
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    with Session(read_only(svc.engine)) as db:
        batch = db.get(Batch, batch_id)
    if batch is None:
        raise BulkError(f"There is no batch {batch_id}.")
    return batch


def batch_rows(svc: Services, actor: Actor, batch_id: int) -> list[BatchRow]:
    require_any(actor, Permission.BULK_PAYOUTS, Permission.APPROVE)
    return all_rows(svc.engine, batch_id)


def all_rows(engine: Engine, batch_id: int) -> list[BatchRow]:
    with Session(read_only(engine)) as db:
        return list(
            db.exec(
                select(BatchRow).where(BatchRow.batch_id == batch_id).order_by(col(BatchRow.row_number))
            ).all()
        )


def move_batch(
    engine: Engine,
    actor: Actor,
    batch_id: int,
    allowed: tuple[BatchState, ...],
    to: BatchState,
    *,
    detail: str | None = None,
) -> Batch:
    """Move the batch from one of the `allowed` states (else BulkError saying where it stands)."""
    with Session(engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise BulkError(f"There is no batch {batch_id}.")
        if batch.state not in allowed:
            raise BulkError("Not possible now: the batch is " + BATCH_STATUS[BatchState(batch.state)] + ".")
        transitions.move(db, batch, to, actor=actor.email, detail=detail or None)
        db.commit()
        db.refresh(batch)
        return batch


def worker_look(
    engine: Engine, batch_id: int, *, waiting: int, on_their_way: bool
) -> tuple[BatchState | None, list[Any] | None, list[int]]:
    """What the bulk worker decides on, in one read: the batch's state; when `on_their_way`, its
    rows handed over for payment, each with the reference it names and its current attempt's
    columns (`_ON_THEIR_WAY`), else None; and the ids of up to `waiting` of its waiting rows,
    first rows first."""
    params = {"batch": batch_id, "waiting": waiting}
    with read_only(engine).connect() as conn:
        state = conn.execute(_BATCH_STATE, params).scalar_one_or_none()
        sent = list(conn.execute(_ON_THEIR_WAY, params).all()) if on_their_way else None
        queued = list(conn.execute(_WAITING, params).scalars().all())
    return (BatchState(state) if state is not None else None), sent, queued


@dataclass(frozen=True)
class RowToPay:
    """A row handed over for payment, as the worker pays it, with its intent's state (None: no
    intent yet)."""

    state: str
    intent_key: str | None
    name: str
    phone: str
    amount: Decimal | None
    amount_text: str
    currency: str
    note: str
    intent_state: str | None


def row_to_pay(engine: Engine, row_id: int) -> RowToPay | None:
    """The row and its intent's state in one read (None: no such row)."""
    with read_only(engine).connect() as conn:
        found = conn.execute(_ROW_TO_PAY, {"row": row_id}).first()
    return None if found is None else RowToPay(*found)


# The worker's reads, built once (bound values) on the tables' own columns and run on a bare
# connection: it looks up to fifty times a second, and an ORM session around Core statements
# cost more than the statements (py-spy: a fifth of a bulk run's CPU in the coordinator).
_BATCH, _ROW = Batch.__table__.c, BatchRow.__table__.c  # type: ignore[attr-defined]
_INTENT, _ATTEMPT = Intent.__table__.c, Attempt.__table__.c  # type: ignore[attr-defined]
_ROW_AND_INTENT = BatchRow.__table__.outerjoin(  # type: ignore[attr-defined]
    Intent.__table__,  # type: ignore[attr-defined]
    _INTENT.intent_key == _ROW.intent_key,
)
_BATCH_STATE = sa_select(_BATCH.state).where(_BATCH.id == bindparam("batch"))
_ON_THEIR_WAY = (
    sa_select(
        _ROW.id,
        _INTENT.state,
        _ROW.reference_id,
        _ATTEMPT.id,
        _ATTEMPT.reference_id,
        _ATTEMPT.local_state,
        _ATTEMPT.next_poll_at,
        _ATTEMPT.sent_at,
        _ATTEMPT.retry_not_before,
        _ATTEMPT.lease_until,
        _ATTEMPT.final_at,
    )
    .select_from(_ROW_AND_INTENT)
    .outerjoin(Attempt.__table__, _ATTEMPT.id == _INTENT.current_attempt_id)  # type: ignore[attr-defined]
    .where(_ROW.batch_id == bindparam("batch"), _ROW.state == BatchRowState.SENT)
    .order_by(_ROW.row_number)
)
_ROW_TO_PAY = (
    sa_select(
        _ROW.state,
        _ROW.intent_key,
        _ROW.name,
        _ROW.phone,
        _ROW.amount,
        _ROW.amount_text,
        _ROW.currency,
        _ROW.note,
        _INTENT.state,
    )
    .select_from(_ROW_AND_INTENT)
    .where(_ROW.id == bindparam("row"))
)
_WAITING = (
    sa_select(_ROW.id)
    .where(_ROW.batch_id == bindparam("batch"), _ROW.state == BatchRowState.QUEUED)
    .order_by(_ROW.row_number)
    .limit(bindparam("waiting"))
)
