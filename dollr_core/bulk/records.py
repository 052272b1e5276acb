"""The batch and row records in the ledger: reading them, and moving a batch between states."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, require_any
from dollr_core.bulk.states import BATCH_STATUS, BulkError
from dollr_core.ledger import transitions
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import (
    Batch,
    BatchRow,
    BatchState,
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
