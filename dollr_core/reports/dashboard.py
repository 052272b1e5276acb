"""The figures on the console's home page, all read from the ledger (no call to Dollr).

Days and weeks are the company's (`Settings.time_zone`) and start at midnight (weeks on Monday).
A payment counts on the day it was started, as in the history, so a figure here equals the
history's totals for the same filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, func, select
from sqlmodel import col

from dollr_core.api.sandbox_controls import sandbox_wallets
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import OperationType
from dollr_core.ledger.tables import Attempt, AttemptState
from dollr_core.reports import figures_cache, history
from dollr_core.reports.history import (
    FAILED_OUTCOMES,
    OPEN_OUTCOMES,
    HistoryFilter,
    HistoryRow,
    Outcome,
)
from dollr_core.reports.history_totals import CurrencyTotal, query_totals
from dollr_core.services import Services

__all__ = ["BalanceEstimate", "HomeFigures", "balance_estimates", "home_figures", "sandbox_balances"]

ZERO = Decimal(0)
A = Attempt
#: Operations that take money out of our Dollr wallet.
_DEBITS = (OperationType.PAYOUT, OperationType.TRANSFER, OperationType.REFUND)


@dataclass(frozen=True)
class BalanceEstimate:
    """Money collected minus money sent out, per currency, as far as this console has recorded.

    Not Dollr's balance: Dollr has no balance endpoint, and this knows neither the opening balance
    nor anything done outside this console.
    """

    currency: str
    collected: Decimal  # what we received from completed collections (after fees)
    sent: Decimal  # what completed payouts, transfers and refunds took from the wallet (with fees)

    @property
    def estimate(self) -> Decimal:
        return self.collected - self.sent


@dataclass(frozen=True)
class HomeFigures:
    as_of: datetime
    today: date
    week_start: date
    #: Completed collections and payouts per currency.
    today_totals: list[CurrencyTotal]
    week_totals: list[CurrencyTotal]
    #: Payments whose outcome is not known yet, newest first (up to `open_limit`).
    open_count: int
    open_rows: list[HistoryRow]
    #: The most recent failures, newest first, with plain reasons.
    failures: list[HistoryRow]
    balances: list[BalanceEstimate]


def _completed_moves(since: date, until: date, zone: str) -> HistoryFilter:
    return HistoryFilter(
        since=since,
        until=until,
        time_zone=zone,
        operations=(OperationType.COLLECTION.value, OperationType.PAYOUT.value),
        outcomes=(Outcome.COMPLETED,),
    )


def _moved(rows: Sequence[CurrencyTotal]) -> list[CurrencyTotal]:
    """Only the rows where something completed (payer-currency-only rows have no count)."""
    return [r for r in rows if r.completed or r.payer_amount or r.payee_amount]


def _first_set(*values: str | None) -> str:
    """SQL's coalesce, in Python: the first value that is not NULL."""
    return next(v for v in values if v is not None)


def balance_estimates(engine: Engine) -> list[BalanceEstimate]:
    """Per currency: completed collections' payee amounts minus completed debits' payer amounts.

    One GROUP BY over the raw columns of `ix_attempt_moved`, in its order, so the database reads
    that index alone and never sorts; the currencies are resolved here, as `PAYER_CURRENCY` and
    `PAYEE_CURRENCY` do in SQL. No permission check: a part of `home_figures`, and of the bulk
    batch's balance check."""
    grouped = (
        col(A.operation_type),
        col(A.currency),
        col(A.payee_currency),
        col(A.settled_payer_currency),
        col(A.payer_currency),
    )
    query = (
        select(
            *grouped,
            func.sum(col(A.payee_amount)).label("payee"),
            func.sum(col(A.payer_amount)).label("payer"),
        )
        .where(col(A.local_state) == AttemptState.COMPLETED.value)
        .group_by(*grouped)
    )
    collected: dict[str, Decimal] = {}
    sent: dict[str, Decimal] = {}
    with engine.connect() as conn:
        for r in conn.execute(query):
            if r.operation_type == OperationType.COLLECTION:
                currency = _first_set(r.payee_currency, r.currency)
                collected[currency] = collected.get(currency, ZERO) + (r.payee or ZERO)
            elif r.operation_type in _DEBITS:
                currency = _first_set(r.settled_payer_currency, r.payer_currency, r.currency)
                sent[currency] = sent.get(currency, ZERO) + (r.payer or ZERO)
    return [
        BalanceEstimate(currency, collected.get(currency, ZERO), sent.get(currency, ZERO))
        for currency in sorted(set(collected) | set(sent))
    ]


def home_figures(
    svc: Services, actor: Actor, *, now: datetime | None = None, open_limit: int = 20, failure_limit: int = 10
) -> HomeFigures:
    """What moved today and this week, what is open, what failed: every role sees the home page.

    The counts and sums are remembered until the ledger changes (`figures_cache`); the few rows
    shown are read each time from the indexes (a row's details, such as Dollr's last word on an
    open payment, change with no state change)."""
    require(actor, Permission.VIEW_HOME)
    engine = svc.engine
    zone = svc.settings.time_zone
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    today = moment.astimezone(ZoneInfo(zone)).date()  # the company's today
    week_start = today - timedelta(days=today.weekday())
    sums = figures_cache.remembered(
        engine, "home", (today, zone), lambda: _home_sums(engine, today, week_start, zone)
    )
    return HomeFigures(
        as_of=moment,
        today=today,
        week_start=week_start,
        today_totals=sums.today_totals,
        week_totals=sums.week_totals,
        open_count=sums.open_count,
        open_rows=history.query_newest(engine, HistoryFilter(outcomes=OPEN_OUTCOMES), open_limit),
        failures=history.query_newest(engine, HistoryFilter(outcomes=FAILED_OUTCOMES), failure_limit),
        balances=sums.balances,
    )


@dataclass(frozen=True)
class _HomeSums:
    today_totals: list[CurrencyTotal]
    week_totals: list[CurrencyTotal]
    open_count: int
    balances: list[BalanceEstimate]


def _home_sums(engine: Engine, today: date, week_start: date, zone: str) -> _HomeSums:
    return _HomeSums(
        today_totals=_moved(query_totals(engine, _completed_moves(today, today, zone))),
        week_totals=_moved(query_totals(engine, _completed_moves(week_start, today, zone))),
        open_count=history.query_count(engine, HistoryFilter(outcomes=OPEN_OUTCOMES)),
        balances=balance_estimates(engine),
    )


def sandbox_balances(svc: Services) -> dict[str, Decimal] | None:
    """The embedded sandbox's true wallet balances (from its control API); None outside it.

    Pretend money, so no permission check: shown on the home page, used by the bulk balance check."""
    if svc.sandbox_url is None or svc.settings.is_live:
        return None
    return {
        w.currency: w.available for w in sorted(sandbox_wallets(svc.sandbox_url), key=lambda w: w.currency)
    }
