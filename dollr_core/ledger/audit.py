"""The audit trail: append-only records of who did what, when, and how it ended."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, insert, or_
from sqlmodel import Session, col, select

from dollr_core.basics import spreadsheet
from dollr_core.basics.redact import redact_text
from dollr_core.basics.validation import printable
from dollr_core.basics.words import action_name, local_time, zone_label
from dollr_core.ledger.columns import utcnow
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
    record = {
        "at": utcnow(),
        "actor": actor[:254],
        "action": action[:64],
        "target": target[:200],
        "outcome": outcome[:16],
        "detail": redact_text(detail, phones=False) if detail else None,
    }
    # A table statement in the open transaction: an object for the unit of work to flush would
    # cost several times the INSERT, on every payment.
    db.connection().execute(_INSERT, record)


#: Built once: every record is this statement with its own values.
_INSERT = insert(AuditRecord.__table__)  # type: ignore[attr-defined]


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


#: How an outcome code reads on screen and in the export.
OUTCOME_WORDS = {
    "ok": "Done",
    "failed": "Failed",
    "refused": "Refused",
    "locked": "Locked out",
    "password_ok": "Password right, second step pending",
}


def columns(time_zone: str = "UTC") -> tuple[str, ...]:
    """The trail's columns as people read it, on screen and in the export; the time's heading names
    the company's zone, and the action's code stays beside its words for support."""
    return (f"When ({zone_label(time_zone)})", "Who", "Action", "What", "Outcome", "Details", "Action code")


def table(records: Iterable[AuditRecord], time_zone: str = "UTC") -> list[dict[str, str]]:
    """Records as rows keyed by `columns(time_zone)`."""
    headings = columns(time_zone)
    return [
        dict(
            zip(
                headings,
                (
                    local_time(r.at, time_zone, seconds=True),
                    r.actor,
                    action_name(r.action),
                    r.target,
                    OUTCOME_WORDS.get(r.outcome, r.outcome),
                    r.detail or "",
                    r.action,
                ),
                strict=True,
            )
        )
        for r in records
    ]


def export_csv(rows: list[dict[str, str]], time_zone: str = "UTC") -> str:
    """The trail as a CSV file; what strangers typed (e-mails at sign-in) can never run as a formula."""
    headings = columns(time_zone)
    return spreadsheet.document(headings, ([row[c] for c in headings] for row in rows))


def export_xlsx(rows: list[dict[str, str]], time_zone: str = "UTC") -> bytes:
    """The trail as an Excel workbook, guarded as the CSV is."""
    headings = columns(time_zone)
    return spreadsheet.workbook(headings, ([row[c] for c in headings] for row in rows), sheet="Audit trail")


def actions(engine: Engine) -> list[str]:
    with Session(engine) as db:
        return sorted(db.exec(select(AuditRecord.action).distinct()).all())
