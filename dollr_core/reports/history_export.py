"""The payment history as a download (CSV or Excel), the same payments and columns as on screen.

The export walks the rows in short keyset-ordered chunks, each its own brief transaction, so a large
export never holds the ledger or memory for long.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

from sqlalchemy import Engine, and_, or_, select
from sqlmodel import col

from dollr_core.basics import spreadsheet
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.money import amount_text
from dollr_core.explain import NETWORK_TRANSACTION_ID
from dollr_core.ledger.tables import Attempt
from dollr_core.reports.history import (
    NEWEST_FIRST,
    ROW_COLUMNS,
    HistoryFilter,
    HistoryRow,
    filtered,
    row_from,
)
from dollr_core.services import Services

__all__ = ["EXPORT_HEADER", "export_csv", "export_line", "export_xlsx", "query_csv", "query_xlsx"]

A = Attempt

EXPORT_HEADER = (
    "Started (UTC)",
    "Payment reference",
    "Type",
    "Outcome",
    "Status at Dollr",
    "Name",
    "Phone",
    "Method",
    "Amount",
    "Currency",
    "Payer paid",
    "Payer currency",
    "Payee received",
    "Payee currency",
    "Document",
    NETWORK_TRANSACTION_ID,
    "Started by",
    "Finished (UTC)",
    "Reason",
)


def _time_text(value: datetime | None) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S") if value else ""


def export_line(row: HistoryRow) -> list[str]:
    return [
        _time_text(row.created_at),
        row.reference_id,
        row.operation,
        row.outcome.value,
        row.remote_status or "",
        row.party_name or "",
        row.phone,
        row.method or "",
        amount_text(row.amount, row.currency),
        row.currency,
        amount_text(row.payer_amount, row.payer_currency),
        row.payer_currency or "",
        amount_text(row.payee_amount, row.payee_currency),
        row.payee_currency or "",
        row.document_number or "",
        row.provider_transaction_id or "",
        row.operator or "",
        _time_text(row.final_at),
        row.reason or "",
    ]


def export_csv(svc: Services, actor: Actor, flt: HistoryFilter, *, chunk_rows: int = 2000) -> Iterator[str]:
    """Every matching payment as CSV text, for someone who may browse the history."""
    require(actor, Permission.VIEW_HISTORY)
    return query_csv(svc.engine, flt, chunk_rows=chunk_rows)


def export_xlsx(svc: Services, actor: Actor, flt: HistoryFilter, *, chunk_rows: int = 2000) -> bytes:
    """Every matching payment as an Excel workbook, for someone who may browse the history."""
    require(actor, Permission.VIEW_HISTORY)
    return query_xlsx(svc.engine, flt, chunk_rows=chunk_rows)


def query_csv(engine: Engine, flt: HistoryFilter, *, chunk_rows: int = 2000) -> Iterator[str]:
    """Every matching payment as CSV text, header first, newest first, in chunks of `chunk_rows`
    (no permission check: for the server's command line)."""
    yield spreadsheet.heading(EXPORT_HEADER)
    for chunk in _export_chunks(engine, flt, chunk_rows):
        yield spreadsheet.lines(export_line(row) for row in chunk)


def query_xlsx(engine: Engine, flt: HistoryFilter, *, chunk_rows: int = 2000) -> bytes:
    """Every matching payment as an Excel workbook, the same columns and guard as the CSV (no
    permission check: for the server's command line)."""
    lines = (export_line(row) for chunk in _export_chunks(engine, flt, chunk_rows) for row in chunk)
    return spreadsheet.workbook(EXPORT_HEADER, lines, sheet="Payments")


def _export_chunks(engine: Engine, flt: HistoryFilter, chunk_rows: int) -> Iterator[list[HistoryRow]]:
    """The matching payments, newest first, `chunk_rows` at a time.

    Each chunk is read in its own short transaction (keyset on created_at, id), so a large export
    never holds the ledger or memory for long.
    """
    base = filtered(select(*ROW_COLUMNS), flt, engine).order_by(*NEWEST_FIRST).limit(chunk_rows)
    after: tuple[datetime, int] | None = None
    while True:
        query = base
        if after is not None:
            created, row_id = after
            query = query.where(
                or_(col(A.created_at) < created, and_(col(A.created_at) == created, col(A.id) < row_id))
            )
        with engine.connect() as conn:
            rows = [row_from(r) for r in conn.execute(query)]
        if not rows:
            return
        yield rows
        if len(rows) < chunk_rows:
            return
        after = (rows[-1].created_at, rows[-1].id)
