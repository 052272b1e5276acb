"""Totals and charts of the payment history, computed in SQL for the history's own filter.

Totals and charts are GROUP BY queries (Money columns hold integer 1/10,000 units, so SUM is exact),
so they always describe the same payments as the rows on screen.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, Engine, case, func, select
from sqlmodel import col

from dollr_core.basics.access import Actor, Permission, require
from dollr_core.ledger.tables import Attempt, AttemptState
from dollr_core.reports.history import (
    FAILED_OUTCOMES,
    OPEN_OUTCOMES,
    PAYEE_CURRENCY,
    PAYER_CURRENCY,
    HistoryFilter,
    Outcome,
    filtered,
    outcome_of,
    states_of,
)
from dollr_core.services import Services

__all__ = [
    "BreakdownKey",
    "BreakdownRow",
    "CurrencyTotal",
    "DayRow",
    "breakdown",
    "daily",
    "query_totals",
    "totals",
]

ZERO = Decimal(0)
A = Attempt


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


def query_totals(engine: Engine, flt: HistoryFilter) -> list[CurrencyTotal]:
    """Count and sums per (operation, currency) of the matching payments, ordered for display (no
    permission check: for reports that check their own, such as the home page)."""
    done = col(A.local_state) == AttemptState.COMPLETED.value
    query = filtered(
        select(
            col(A.operation_type),
            col(A.currency),
            PAYER_CURRENCY.label("payer_cur"),
            PAYEE_CURRENCY.label("payee_cur"),
            func.count().label("n"),
            _flag(done).label("n_done"),
            _flag(col(A.local_state).in_(states_of(FAILED_OUTCOMES))).label("n_failed"),
            _flag(col(A.local_state).in_(states_of(OPEN_OUTCOMES))).label("n_open"),
            func.sum(col(A.amount)).label("amount"),
            _when_done(col(A.amount)).label("done_amount"),
            _when_done(col(A.payer_amount)).label("payer"),
            _when_done(col(A.payee_amount)).label("payee"),
        ),
        flt,
        engine,
    ).group_by(col(A.operation_type), col(A.currency), PAYER_CURRENCY, PAYEE_CURRENCY)
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


def totals(svc: Services, actor: Actor, flt: HistoryFilter) -> list[CurrencyTotal]:
    """The history's totals per (operation, currency), for someone who may browse it."""
    require(actor, Permission.VIEW_HISTORY)
    return query_totals(svc.engine, flt)


# --------------------------------------------------------------------------- charts


@dataclass(frozen=True)
class DayRow:
    day: date
    currency: str
    outcome: Outcome
    count: int
    amount: Decimal


def _day(engine: Engine, time_zone: str) -> Any:
    """The company's day a payment was started on."""
    if engine.dialect.name == "postgresql":
        return func.date(func.timezone(time_zone, col(A.created_at)))
    # SQLite keeps UTC as naive text and knows no zones: date() reads the day after the zone's
    # offset now. Exact for zones without summer time (Liberia's and Rwanda's); elsewhere a
    # payment in the hour after midnight can fall on the day before for half the year.
    offset = datetime.now(ZoneInfo(time_zone)).utcoffset()
    minutes = int(offset.total_seconds() // 60) if offset is not None else 0
    return func.date(col(A.created_at), f"{minutes:+d} minutes")


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    return date.fromisoformat(str(value)[:10])


def daily(svc: Services, actor: Actor, flt: HistoryFilter) -> list[DayRow]:
    """Payments per company day (`flt.time_zone`), currency and outcome (count, amount), oldest first."""
    require(actor, Permission.VIEW_HISTORY)
    engine = svc.engine
    day = _day(engine, flt.time_zone).label("day")
    query = filtered(
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


def breakdown(svc: Services, actor: Actor, flt: HistoryFilter, by: BreakdownKey) -> list[BreakdownRow]:
    """Counts per method, operation, currency, operator or outcome, with each one's success rate."""
    require(actor, Permission.VIEW_HISTORY)
    engine = svc.engine
    if by != "outcome" and by not in _BREAKDOWN_COLUMNS:
        raise ValueError(f"Cannot break the history down by {by!r}.")
    key = _BREAKDOWN_COLUMNS.get(by, col(A.local_state)).label("k")
    query = filtered(select(key, col(A.local_state), func.count().label("n")), flt, engine).group_by(
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
