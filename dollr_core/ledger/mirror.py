"""The ledger's mirror of Dollr's documents (invoices and orders): its status follows Dollr's word.

Low in the layers on purpose: following a payment (dollr_core.payments) and the document flows
both move it, and neither may import the other's layer.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine, update
from sqlmodel import Session, select

from dollr_core.ledger import statements
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
    values: dict[str, object] = {"status": to, "updated_at": utcnow()}
    if paid_at is not None:
        values["paid_at"] = paid_at
    table = DocumentRecord.__table__  # type: ignore[attr-defined]
    with engine.begin() as connection:
        if frm is not None:  # the shape a payment's outcome takes: built once
            named = {"source_type": source_type, "dollr_id": dollr_id, "status": frm}
            return bool(statements.update_where(connection, table, named, values).rowcount)
        moved = connection.execute(
            update(table)
            .where(table.c.source_type == source_type, table.c.dollr_id == dollr_id, table.c.status != to)
            .values(values)
        )
        return bool(moved.rowcount)
