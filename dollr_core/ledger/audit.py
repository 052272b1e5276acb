"""The audit trail: append-only records of who did what, when, and how it ended."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, or_
from sqlmodel import Session, col, select

from dollr_core.basics import spreadsheet
from dollr_core.basics.redact import redact_text
from dollr_core.basics.validation import printable
from dollr_core.ledger.tables import AuditRecord


def record(
    engine: Engine,
    actor: str,
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    detail: str | None = None,
) -> None:
    """Append one record in a transaction of its own."""
    with Session(engine) as db:
        add(db, actor, action, target=target, outcome=outcome, detail=detail)
        db.commit()


def add(
    db: Session,
    actor: str,
    action: str,
    *,
    target: str = "",
    outcome: str = "ok",
    detail: str | None = None,
) -> None:
    """Append one record to an open transaction, so it commits (or not) with the change it describes.

    Details pass through the redactor, so no secret is kept. Numbers are kept as written: a caller
    mentioning a phone masks it (`phone.mask_phone`), as amounts must stay readable.
    """
    db.add(
        AuditRecord(
            actor=actor[:254],
            action=action[:64],
            target=target[:200],
            outcome=outcome[:16],
            detail=redact_text(detail, phones=False) if detail else None,
        )
    )


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    actor: str = ""
    action: str = ""
    text: str = ""


def search(engine: Engine, flt: AuditFilter, *, limit: int = 500, offset: int = 0) -> list[AuditRecord]:
    with Session(engine) as db:
        query = select(AuditRecord)
        if flt.since:
            query = query.where(AuditRecord.at >= flt.since)
        if flt.until:
            query = query.where(AuditRecord.at < flt.until)
        if flt.actor:
            query = query.where(func.lower(AuditRecord.actor).like(f"%{printable(flt.actor).lower()}%"))
        if flt.action:
            query = query.where(AuditRecord.action == flt.action)
        if flt.text:
            like = f"%{printable(flt.text).lower()}%"  # a NUL would make PostgreSQL fail
            query = query.where(
                or_(func.lower(AuditRecord.target).like(like), func.lower(AuditRecord.detail).like(like))
            )
        query = query.order_by(col(AuditRecord.id).desc()).offset(offset).limit(limit)
        return list(db.exec(query).all())


#: The columns of the trail as people read it, on screen and in the export.
COLUMNS = ("When (UTC)", "Who", "Action", "What", "Outcome", "Details")


def table(records: Iterable[AuditRecord]) -> list[dict[str, str]]:
    """Records as rows keyed by `COLUMNS`."""
    return [
        dict(
            zip(
                COLUMNS,
                (
                    r.at.strftime("%Y-%m-%d %H:%M:%S"),
                    r.actor,
                    r.action,
                    r.target,
                    r.outcome,
                    r.detail or "",
                ),
                strict=True,
            )
        )
        for r in records
    ]


def export_csv(rows: Iterable[dict[str, str]]) -> str:
    """The trail as a CSV file; what strangers typed (e-mails at sign-in) can never run as a formula."""
    return spreadsheet.document(COLUMNS, ([row[c] for c in COLUMNS] for row in rows))


def export_xlsx(rows: Iterable[dict[str, str]]) -> bytes:
    """The trail as an Excel workbook, guarded as the CSV is."""
    return spreadsheet.workbook(COLUMNS, ([row[c] for c in COLUMNS] for row in rows), sheet="Audit trail")


def actions(engine: Engine) -> list[str]:
    with Session(engine) as db:
        return sorted(db.exec(select(AuditRecord.action).distinct()).all())
