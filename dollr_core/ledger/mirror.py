"""The ledger's mirror of Dollr's documents (invoices and orders): its status follows Dollr's word.

Low in the layers on purpose: following a payment (dollr_core.payments) and the document flows
both move it, and neither may import the other's layer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import DocumentRecord


def set_status(
    engine: Engine, source_type: str, dollr_id: int, status: str, paid_at: datetime | None
) -> None:
    with Session(engine) as db:
        row = db.exec(
            select(DocumentRecord).where(
                DocumentRecord.source_type == source_type, DocumentRecord.dollr_id == dollr_id
            )
        ).first()
        if row is not None and (row.status != status or (paid_at and row.paid_at != paid_at)):
            row.status = status
            row.paid_at = paid_at or row.paid_at
            row.updated_at = utcnow()
            db.add(row)
            db.commit()


def move_status(
    engine: Engine,
    source_type: str,
    dollr_id: int,
    frm: str | None,
    to: str,
    *,
    paid_at: datetime | None = None,
) -> bool:
    """One statement: the mirrored document goes to `to` if it is in `frm` (in any other state
    when `frm` is None). False when no row was in that state (none mirrored, or moved on)."""
    named = [col(DocumentRecord.source_type) == source_type, col(DocumentRecord.dollr_id) == dollr_id]
    state = col(DocumentRecord.status) == frm if frm is not None else col(DocumentRecord.status) != to
    values: dict[str, object] = {"status": to, "updated_at": utcnow()}
    if paid_at is not None:
        values["paid_at"] = paid_at
    with Session(engine) as db:
        moved = db.exec(update(DocumentRecord).where(*named, state).values(values))
        db.commit()
        return bool(moved.rowcount)
