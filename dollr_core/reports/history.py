"""Payment history from the ledger: filters, totals, charts and CSV export, all computed in SQL.

Every function takes a `HistoryFilter` and turns it into one WHERE clause, so the rows on screen,
the totals above them, the charts and the CSV download always describe the same payments.
Nothing here loads every row: totals and charts are GROUP BY queries (Money columns hold integer
1/10,000 units, so SUM is exact), pages use LIMIT/OFFSET, and the export walks the rows in short
keyset-ordered chunks, each its own brief transaction.

Days are UTC days, and a payment belongs to the day it was started (`Attempt.created_at`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from functools import lru_cache
from typing import Any, Literal, cast

from sqlalchemy import ColumnElement, Engine, and_, case, func, or_, select
from sqlmodel import col

from dollr_core.basics import spreadsheet
from dollr_core.basics.money import format_money, quantize
from dollr_core.basics.validation import printable
from dollr_core.errors import InputRefused
from dollr_core.explain import failure_reason
from dollr_core.ledger.tables import Attempt, AttemptState

__all__ = [
    "EXPORT_HEADER",
    "FAILED_OUTCOMES",
    "OPEN_OUTCOMES",
    "OPERATION_NAMES",
    "BreakdownRow",
    "CurrencyTotal",
    "DayRow",
    "HistoryFilter",
    "HistoryPage",
    "HistoryRow",
    "Outcome",
    "amount_text",
    "breakdown",
    "count",
    "daily",
    "export_csv",
    "export_line",
    "money_text",
    "operation_name",
    "operators",
    "outcome_of",
    "page",
    "totals",
]

ZERO = Decimal(0)

#: Operations as people call them.
OPERATION_NAMES: dict[str, str] = {
    "COLLECTION": "Collection (money in)",
    "PAYOUT": "Payout (money out)",
    "TRANSFER": "Transfer",
    "REFUND": "Refund",
}


def operation_name(operation: str) -> str:
    return OPERATION_NAMES.get(operation, operation.title())


class Outcome(StrEnum):
    """Where a payment stands, in the words the console uses (one per ledger state)."""

    COMPLETED = "Completed"
    FAILED = "Failed"
    REFUSED = "Refused by Dollr"
    PROCESSING = "Processing"
    CHECKING = "Being checked with Dollr"
    SENDING = "Being sent"
    NOT_SENT = "Never reached Dollr"


_OUTCOME_OF_STATE: dict[AttemptState, Outcome] = {
    AttemptState.COMPLETED: Outcome.COMPLETED,
    AttemptState.FAILED: Outcome.FAILED,
    AttemptState.REFUSED: Outcome.REFUSED,
    AttemptState.ACCEPTED: Outcome.PROCESSING,
    AttemptState.UNKNOWN: Outcome.CHECKING,
    AttemptState.PREPARING: Outcome.SENDING,
    AttemptState.SENDING: Outcome.SENDING,
    AttemptState.ABANDONED: Outcome.NOT_SENT,
}

#: Payments whose outcome is not known yet.
OPEN_OUTCOMES = (Outcome.PROCESSING, Outcome.CHECKING, Outcome.SENDING)
#: Payments that ended without money moving (ABANDONED ones never reached Dollr and are left out).
FAILED_OUTCOMES = (Outcome.FAILED, Outcome.REFUSED)


def outcome_of(local_state: str) -> Outcome:
    try:
        return _OUTCOME_OF_STATE[AttemptState(local_state)]
    except ValueError:
        return Outcome.CHECKING  # a state this code does not know yet is not final


def _states(outcomes: Sequence[Outcome]) -> list[str]:
    wanted = set(outcomes)
    return [state.value for state, outcome in _OUTCOME_OF_STATE.items() if outcome in wanted]


@dataclass(frozen=True)
class HistoryFilter:
    """What the person asked to see. Empty tuples mean "any"; `until` is inclusive."""

    since: date | None = None
    until: date | None = None
    operations: tuple[str, ...] = ()
    outcomes: tuple[Outcome, ...] = ()
    methods: tuple[str, ...] = ()
    currencies: tuple[str, ...] = ()
    operators: tuple[str, ...] = ()
    #: Part of a name, phone number, payment reference, document number or operator's transaction
    #: id, or an amount ("250", "USD 1,000.50").
    text: str = ""


A = Attempt
_payer_currency = func.coalesce(col(A.settled_payer_currency), col(A.payer_currency), col(A.currency))
_payee_currency = func.coalesce(col(A.payee_currency), col(A.currency))


def _like(text: str) -> str:
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"%{escaped}%"


def _contains(column: Any, pattern: str, dialect: str) -> ColumnElement[bool]:
    """Case-insensitive substring match. SQLite's LIKE already ignores case (ASCII, as its lower()
    does), and without lower() it is twice as fast; elsewhere ILIKE."""
    if dialect == "sqlite":
        return cast("ColumnElement[bool]", column.like(pattern, escape="/"))
    return cast("ColumnElement[bool]", column.ilike(pattern, escape="/"))


def _conditions(flt: HistoryFilter, dialect: str) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if flt.since is not None:
        where.append(col(A.created_at) >= datetime.combine(flt.since, time(), UTC))
    if flt.until is not None:
        where.append(col(A.created_at) < datetime.combine(flt.until + timedelta(days=1), time(), UTC))
    if flt.operations:
        where.append(col(A.operation_type).in_(flt.operations))
    if flt.outcomes:
        where.append(col(A.local_state).in_(_states(flt.outcomes)))
    if flt.methods:
        where.append(col(A.method).in_(flt.methods))
    if flt.currencies:
        where.append(col(A.currency).in_(flt.currencies))
    if flt.operators:
        where.append(col(A.operator).in_(flt.operators))
    text = " ".join(printable(flt.text).split()).lower()  # a NUL would make PostgreSQL fail
    if text:
        pattern = _like(text)
        matches = [
            _contains(col(column), pattern, dialect)
            for column in (A.party_name, A.reference_id, A.source_number, A.provider_transaction_id)
        ]
        digits = re.sub(r"[\s\-().+]", "", text)
        if digits.isdigit():
            matches.append(col(A.phone).like(_like(digits), escape="/"))
        amount = amount_in(text)
        if amount is not None:
            matches.append(col(A.amount) == amount)
        where.append(or_(*matches))
    return where


_AMOUNT = re.compile(r"^(?:[a-z]{3}\s*)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d{1,4})?(?:\s*[a-z]{3})?$")


def amount_in(text: str) -> Decimal | None:
    """The amount a search text stands for ("250", "USD 1,000.50", "25.5 usd"), else None."""
    found = _AMOUNT.match(text.strip().lower())
    if found is None:
        return None
    value = Decimal(found.group(1).replace(",", "") + (found.group(2) or ""))
    return value if 0 < value < Decimal(10) ** 12 else None


def _filtered(query: Any, flt: HistoryFilter, engine: Engine) -> Any:
    conditions = _conditions(flt, engine.dialect.name)
    return query.where(and_(*conditions)) if conditions else query


# --------------------------------------------------------------------------- rows and pages


@dataclass(frozen=True)
class HistoryRow:
    """One payment attempt as the history shows it."""

    id: int
    created_at: datetime
    reference_id: str
    operation: str
    outcome: Outcome
    remote_status: str | None
    local_state: str
    party_name: str
    phone: str
    method: str | None
    amount: Decimal | None
    currency: str
    #: What the payer paid and the payee received: set for completed payments only.
    payer_amount: Decimal | None
    payer_currency: str | None
    payee_amount: Decimal | None
    payee_currency: str | None
    source_type: str | None
    document_number: str | None
    provider_transaction_id: str | None
    operator: str
    final_at: datetime | None
    #: Why it failed, in plain words ("" unless it failed or was refused).
    reason: str

    @property
    def has_receipt(self) -> bool:
        """Receipts exist for documents paid by a completed collection."""
        return self.outcome is Outcome.COMPLETED and bool(self.document_number)


_ROW_COLUMNS = (
    col(A.id),
    col(A.created_at),
    col(A.reference_id),
    col(A.operation_type),
    col(A.remote_status),
    col(A.local_state),
    col(A.party_name),
    col(A.phone),
    col(A.method),
    col(A.amount),
    col(A.currency),
    col(A.payer_amount),
    _payer_currency.label("payer_cur"),
    col(A.payee_amount),
    _payee_currency.label("payee_cur"),
    col(A.source_type),
    col(A.source_number),
    col(A.provider_transaction_id),
    col(A.operator),
    col(A.final_at),
    col(A.gateway_message),
    col(A.wallet_message),
    col(A.last_error),
)

#: Newest first; `id` breaks ties so paging and export never skip or repeat a row.
_NEWEST_FIRST = (col(A.created_at).desc(), col(A.id).desc())


@lru_cache(maxsize=2048)  # the same few gateway messages repeat across thousands of rows
def _reason(outcome: Outcome, gateway: str | None, wallet: str | None, error: str | None) -> str:
    if outcome is Outcome.FAILED:
        if error in (gateway, wallet):
            error = None  # the same words are often stored as the error too: say them once
        return failure_reason(
            Attempt(
                reference_id="",
                intent_id=0,
                operation_type="",
                gateway_message=gateway,
                wallet_message=wallet,
                last_error=error,
            )
        )
    if outcome is Outcome.REFUSED:
        return error or "Dollr gave no reason"
    if outcome is Outcome.NOT_SENT:
        return "The payment session expired before the payment reached Dollr; nothing was charged."
    return ""


def _row(r: Any) -> HistoryRow:
    outcome = outcome_of(r.local_state)
    # Dollr states amounts for failed and pending executions too; only money that moved is shown.
    moved = outcome is Outcome.COMPLETED and r.payer_amount is not None
    return HistoryRow(
        id=r.id,
        created_at=r.created_at,
        reference_id=r.reference_id,
        operation=r.operation_type,
        outcome=outcome,
        remote_status=r.remote_status,
        local_state=r.local_state,
        party_name=r.party_name,
        phone=r.phone,
        method=r.method,
        amount=r.amount,
        currency=r.currency,
        payer_amount=r.payer_amount if moved else None,
        payer_currency=r.payer_cur if moved else None,
        payee_amount=r.payee_amount if moved else None,
        payee_currency=r.payee_cur if moved else None,
        source_type=r.source_type,
        document_number=r.source_number,
        provider_transaction_id=r.provider_transaction_id,
        operator=r.operator,
        final_at=r.final_at,
        reason=_reason(outcome, r.gateway_message, r.wallet_message, r.last_error),
    )


@dataclass(frozen=True)
class HistoryPage:
    rows: list[HistoryRow]
    total: int  # rows matching the filter, across all pages
    page: int  # 1-based
    size: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def first(self) -> int:
        """1-based position of the first row shown (0 when there is none)."""
        return (self.page - 1) * self.size + 1 if self.rows else 0

    @property
    def last(self) -> int:
        return self.first + len(self.rows) - 1 if self.rows else 0


def count(engine: Engine, flt: HistoryFilter) -> int:
    with engine.connect() as conn:
        return int(conn.execute(_filtered(select(func.count()).select_from(A), flt, engine)).scalar_one())


def page(
    engine: Engine, flt: HistoryFilter, page: int = 1, size: int = 50, *, total: int | None = None
) -> HistoryPage:
    """One page of matching payments, newest first, and how many match in all.

    Pass `total` when it is already known (e.g. from `totals`) to save a COUNT query.
    """
    size = max(1, min(int(size), 1000))
    total = count(engine, flt) if total is None else total
    last_page = max(1, -(-total // size))
    number = max(1, min(int(page), last_page))
    query = _filtered(select(*_ROW_COLUMNS), flt, engine).order_by(*_NEWEST_FIRST)
    query = query.limit(size).offset((number - 1) * size)
    with engine.connect() as conn:
        rows = [_row(r) for r in conn.execute(query)]
    return HistoryPage(rows=rows, total=total, page=number, size=size)


def newest(engine: Engine, flt: HistoryFilter, limit: int = 20) -> list[HistoryRow]:
    """The newest `limit` matching payments (no count: for a quick list, not a paged table)."""
    query = _filtered(select(*_ROW_COLUMNS), flt, engine).order_by(*_NEWEST_FIRST).limit(limit)
    with engine.connect() as conn:
        return [_row(r) for r in conn.execute(query)]


def operators(engine: Engine) -> list[str]:
    """Everyone who started a payment recorded in the ledger (for the operator filter)."""
    with engine.connect() as conn:
        found = conn.execute(select(col(A.operator)).distinct().where(col(A.operator) != "")).scalars()
        return sorted(str(o) for o in found)


# --------------------------------------------------------------------------- totals


@dataclass
class CurrencyTotal:
    """Sums for one operation in one currency.

    `amount` sums the amounts billed or paid out in this currency; `payer_amount` and `payee_amount`
    sum what payers paid and payees received *in this currency*, for completed payments only
    (a USD invoice paid in LRD adds to the USD row's amount and to the LRD row's payer amount).
    """

    operation: str
    currency: str
    count: int = 0
    completed: int = 0
    failed: int = 0
    open: int = 0
    amount: Decimal = ZERO
    completed_amount: Decimal = ZERO
    payer_amount: Decimal = ZERO
    payee_amount: Decimal = ZERO


def _flag(condition: ColumnElement[bool]) -> Any:
    return func.sum(case((condition, 1), else_=0))


def _when_done(column: Any) -> Any:
    return func.sum(case((col(A.local_state) == AttemptState.COMPLETED.value, column)))


def totals(engine: Engine, flt: HistoryFilter) -> list[CurrencyTotal]:
    """Count and sums per (operation, currency) of the matching payments, ordered for display."""
    done = col(A.local_state) == AttemptState.COMPLETED.value
    query = _filtered(
        select(
            col(A.operation_type),
            col(A.currency),
            _payer_currency.label("payer_cur"),
            _payee_currency.label("payee_cur"),
            func.count().label("n"),
            _flag(done).label("n_done"),
            _flag(col(A.local_state).in_(_states(FAILED_OUTCOMES))).label("n_failed"),
            _flag(col(A.local_state).in_(_states(OPEN_OUTCOMES))).label("n_open"),
            func.sum(col(A.amount)).label("amount"),
            _when_done(col(A.amount)).label("done_amount"),
            _when_done(col(A.payer_amount)).label("payer"),
            _when_done(col(A.payee_amount)).label("payee"),
        ),
        flt,
        engine,
    ).group_by(col(A.operation_type), col(A.currency), _payer_currency, _payee_currency)
    rows: dict[tuple[str, str], CurrencyTotal] = {}

    def slot(operation: str, currency: str) -> CurrencyTotal:
        return rows.setdefault((operation, currency), CurrencyTotal(operation, currency))

    with engine.connect() as conn:
        for r in conn.execute(query):
            billed = slot(r.operation_type, r.currency)
            billed.count += int(r.n)
            billed.completed += int(r.n_done or 0)
            billed.failed += int(r.n_failed or 0)
            billed.open += int(r.n_open or 0)
            billed.amount += r.amount or ZERO
            billed.completed_amount += r.done_amount or ZERO
            slot(r.operation_type, r.payer_cur).payer_amount += r.payer or ZERO
            slot(r.operation_type, r.payee_cur).payee_amount += r.payee or ZERO
    return [rows[key] for key in sorted(rows)]


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class DayRow:
    day: date
    currency: str
    outcome: Outcome
    count: int
    amount: Decimal


def _day(engine: Engine) -> Any:
    if engine.dialect.name == "postgresql":
        return func.date(func.timezone("UTC", col(A.created_at)))
    return func.date(col(A.created_at))  # SQLite keeps UTC as naive text: date() reads the day


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def daily(engine: Engine, flt: HistoryFilter) -> list[DayRow]:
    """Payments per UTC day, currency and outcome (count and amount), oldest day first."""
    day = _day(engine).label("day")
    query = _filtered(
        select(
            day,
            col(A.currency),
            col(A.local_state),
            func.count().label("n"),
            func.sum(col(A.amount)).label("amt"),
        ),
        flt,
        engine,
    ).group_by(day, col(A.currency), col(A.local_state))
    merged: dict[tuple[date, str, Outcome], list[Any]] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            key = (_as_date(r.day), r.currency, outcome_of(r.local_state))
            entry = merged.setdefault(key, [0, ZERO])
            entry[0] += int(r.n)
            entry[1] += r.amt or ZERO
    return [DayRow(d, c, o, n, a) for (d, c, o), (n, a) in sorted(merged.items())]


BreakdownKey = Literal["method", "operation", "currency", "operator", "outcome"]

_BREAKDOWN_COLUMNS: dict[str, Any] = {
    "method": func.coalesce(col(A.method), ""),
    "operation": col(A.operation_type),
    "currency": col(A.currency),
    "operator": col(A.operator),
}


@dataclass
class BreakdownRow:
    key: str
    count: int = 0
    completed: int = 0
    failed: int = 0
    open: int = 0
    per_outcome: dict[Outcome, int] = field(default_factory=dict)

    @property
    def success_rate(self) -> Decimal | None:
        """Completed share of the payments that reached an end (None before any did)."""
        ended = self.completed + self.failed
        return (Decimal(self.completed) / ended).quantize(Decimal("0.0001")) if ended else None


def breakdown(engine: Engine, flt: HistoryFilter, by: BreakdownKey) -> list[BreakdownRow]:
    """Counts per method, operation, currency, operator or outcome, with each one's success rate."""
    if by != "outcome" and by not in _BREAKDOWN_COLUMNS:
        raise InputRefused(f"Cannot break the history down by {by!r}.")
    key = _BREAKDOWN_COLUMNS.get(by, col(A.local_state)).label("k")
    query = _filtered(select(key, col(A.local_state), func.count().label("n")), flt, engine).group_by(
        key, col(A.local_state)
    )
    rows: dict[str, BreakdownRow] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            outcome = outcome_of(r.local_state)
            name = outcome.value if by == "outcome" else (r.k or "—")
            row = rows.setdefault(name, BreakdownRow(name))
            n = int(r.n)
            row.count += n
            row.per_outcome[outcome] = row.per_outcome.get(outcome, 0) + n
            if outcome is Outcome.COMPLETED:
                row.completed += n
            elif outcome in FAILED_OUTCOMES:
                row.failed += n
            elif outcome in OPEN_OUTCOMES:
                row.open += n
    return sorted(rows.values(), key=lambda row: (-row.count, row.key))


# --------------------------------------------------------------------------- export

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
    "Operator's transaction id",
    "Started by",
    "Finished (UTC)",
    "Reason",
)


def amount_text(amount: Decimal | None, currency: str | None) -> str:
    """An exact amount as plain text in the currency's minor units ("25.00", "1400")."""
    if amount is None:
        return ""
    try:
        return f"{quantize(amount, currency or '')}"
    except ValueError:
        return f"{amount.normalize():f}"


def money_text(amount: Decimal | None, currency: str | None) -> str:
    """ "USD 1,234.50" for display; "" when unknown."""
    if amount is None or not currency:
        return ""
    try:
        return format_money(amount, currency)
    except ValueError:
        return f"{currency} {amount.normalize():f}"


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


def export_csv(engine: Engine, flt: HistoryFilter, *, chunk_rows: int = 2000) -> Iterator[str]:
    """Every matching payment as CSV text, header first, newest first, in chunks of `chunk_rows`."""
    yield spreadsheet.heading(EXPORT_HEADER)
    for chunk in _export_chunks(engine, flt, chunk_rows):
        yield spreadsheet.lines(export_line(row) for row in chunk)


def export_xlsx(engine: Engine, flt: HistoryFilter, *, chunk_rows: int = 2000) -> bytes:
    """Every matching payment as an Excel workbook, the same columns and guard as the CSV."""
    lines = (export_line(row) for chunk in _export_chunks(engine, flt, chunk_rows) for row in chunk)
    return spreadsheet.workbook(EXPORT_HEADER, lines, sheet="Payments")


def _export_chunks(engine: Engine, flt: HistoryFilter, chunk_rows: int) -> Iterator[list[HistoryRow]]:
    """The matching payments, newest first, `chunk_rows` at a time.

    Each chunk is read in its own short transaction (keyset on created_at, id), so a large export
    never holds the ledger or memory for long.
    """
    base = _filtered(select(*_ROW_COLUMNS), flt, engine).order_by(*_NEWEST_FIRST).limit(chunk_rows)
    after: tuple[datetime, int] | None = None
    while True:
        query = base
        if after is not None:
            created, row_id = after
            query = query.where(
                or_(col(A.created_at) < created, and_(col(A.created_at) == created, col(A.id) < row_id))
            )
        with engine.connect() as conn:
            rows = [_row(r) for r in conn.execute(query)]
        if not rows:
            return
        yield rows
        if len(rows) < chunk_rows:
            return
        after = (rows[-1].created_at, rows[-1].id)
