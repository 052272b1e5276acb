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
    "HistoryFigures",
    "breakdown",
    "daily",
    "figures",
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


def _totals_columns() -> list[Any]:
    """What the totals are summed from, per group of rows (see `_add_total`)."""
    done = col(A.local_state) == AttemptState.COMPLETED.value
    return [
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
    ]


_TOTALS_GROUPS = (col(A.operation_type), col(A.currency), PAYER_CURRENCY, PAYEE_CURRENCY)
_Totals = dict[tuple[str, str], CurrencyTotal]


def _add_total(rows: _Totals, r: Any) -> None:
    """One group of `_totals_columns` into the totals per (operation, currency)."""

    def slot(operation: str, currency: str) -> CurrencyTotal:
        return rows.setdefault((operation, currency), CurrencyTotal(operation, currency))

    billed = slot(r.operation_type, r.currency)
    billed.count += int(r.n)
    billed.completed += int(r.n_done or 0)
    billed.failed += int(r.n_failed or 0)
    billed.open += int(r.n_open or 0)
    billed.amount += r.amount or ZERO
    billed.completed_amount += r.done_amount or ZERO
    slot(r.operation_type, r.payer_cur).payer_amount += r.payer or ZERO
    slot(r.operation_type, r.payee_cur).payee_amount += r.payee or ZERO


def _sorted_totals(rows: _Totals) -> list[CurrencyTotal]:
    return [rows[key] for key in sorted(rows)]


def query_totals(engine: Engine, flt: HistoryFilter) -> list[CurrencyTotal]:
    """Count and sums per (operation, currency) of the matching payments, ordered for display (no
    permission check: for reports that check their own, such as the home page)."""
    query = filtered(select(*_totals_columns()), flt, engine).group_by(*_TOTALS_GROUPS)
    rows: _Totals = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            _add_total(rows, r)
    return _sorted_totals(rows)


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


_Days = dict[tuple[date, str, Outcome], list[Any]]


def _add_day(merged: _Days, r: Any) -> None:
    """One group of (day, currency, local_state, n, amount) into the payments per day."""
    entry = merged.setdefault((_as_date(r.day), r.currency, outcome_of(r.local_state)), [0, ZERO])
    entry[0] += int(r.n)
    entry[1] += r.amount or ZERO


def _sorted_days(merged: _Days) -> list[DayRow]:
    return [DayRow(d, c, o, n, a) for (d, c, o), (n, a) in sorted(merged.items())]


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
            func.sum(col(A.amount)).label("amount"),
        ),
        flt,
        engine,
    ).group_by(day, col(A.currency), col(A.local_state))
    merged: _Days = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            _add_day(merged, r)
    return _sorted_days(merged)


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


_Breakdown = dict[str, BreakdownRow]


def _add_split(rows: _Breakdown, name: str, local_state: str, n: int) -> None:
    """`n` payments in `local_state` into the breakdown row `name`."""
    outcome = outcome_of(local_state)
    row = rows.setdefault(name, BreakdownRow(name))
    row.count += n
    row.per_outcome[outcome] = row.per_outcome.get(outcome, 0) + n
    if outcome is Outcome.COMPLETED:
        row.completed += n
    elif outcome in FAILED_OUTCOMES:
        row.failed += n
    elif outcome in OPEN_OUTCOMES:
        row.open += n


def _sorted_split(rows: _Breakdown) -> list[BreakdownRow]:
    return sorted(rows.values(), key=lambda row: (-row.count, row.key))


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
    rows: _Breakdown = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            name = outcome_of(r.local_state).value if by == "outcome" else (r.k or "—")
            _add_split(rows, name, r.local_state, int(r.n))
    return _sorted_split(rows)


# --------------------------------------------------------------------------- all at once


@dataclass(frozen=True)
class HistoryFigures:
    """Everything History shows above its table, for one filter."""

    totals: list[CurrencyTotal]
    daily: list[DayRow]
    by_method: list[BreakdownRow]
    by_outcome: list[BreakdownRow]


def figures(svc: Services, actor: Actor, flt: HistoryFilter) -> HistoryFigures:
    """The totals, the payments per day and the breakdowns by method and by outcome, from one
    GROUP BY of the matching payments: asked one by one, each read every matching row again (four
    passes over them, and four statements to compile, on the page's first open)."""
    require(actor, Permission.VIEW_HISTORY)
    engine = svc.engine
    day = _day(engine, flt.time_zone).label("day")
    method = _BREAKDOWN_COLUMNS["method"].label("k")
    groups = (*_TOTALS_GROUPS, day, col(A.local_state), method)
    query = filtered(select(*_totals_columns(), day, col(A.local_state), method), flt, engine)
    totals: _Totals = {}
    days: _Days = {}
    by_method: _Breakdown = {}
    by_outcome: _Breakdown = {}
    with engine.connect() as conn:
        for r in conn.execute(query.group_by(*groups)):
            _add_total(totals, r)
            _add_day(days, r)
            n = int(r.n)
            _add_split(by_method, r.k or "—", r.local_state, n)
            _add_split(by_outcome, outcome_of(r.local_state).value, r.local_state, n)
    return HistoryFigures(
        totals=_sorted_totals(totals),
        daily=_sorted_days(days),
        by_method=_sorted_split(by_method),
        by_outcome=_sorted_split(by_outcome),
    )
