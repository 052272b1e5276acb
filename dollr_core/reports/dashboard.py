"""The figures on the console's home page, all read from the ledger (no call to Dollr).

Days and weeks are UTC and start at midnight (weeks on Monday). A payment counts on the day it was
started, as in the history, so a figure here equals the history's totals for the same filter.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from sqlalchemy import Engine

from dollr_core.api.sandbox_controls import sandbox_wallets
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import OperationType
from dollr_core.reports import history
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


def _completed_moves(since: date, until: date) -> HistoryFilter:
    return HistoryFilter(
        since=since,
        until=until,
        operations=(OperationType.COLLECTION.value, OperationType.PAYOUT.value),
        outcomes=(Outcome.COMPLETED,),
    )


def _moved(rows: Sequence[CurrencyTotal]) -> list[CurrencyTotal]:
    """Only the rows where something completed (payer-currency-only rows have no count)."""
    return [r for r in rows if r.completed or r.payer_amount or r.payee_amount]


def balance_estimates(engine: Engine) -> list[BalanceEstimate]:
    """Per currency: completed collections' payee amounts minus completed debits' payer amounts.

    No permission check: a part of `home_figures`, and of the bulk batch's balance check."""
    collected: dict[str, Decimal] = {}
    sent: dict[str, Decimal] = {}
    for row in query_totals(engine, HistoryFilter(outcomes=(Outcome.COMPLETED,))):
        if row.operation == OperationType.COLLECTION:
            collected[row.currency] = collected.get(row.currency, ZERO) + row.payee_amount
        elif row.operation in _DEBITS:
            sent[row.currency] = sent.get(row.currency, ZERO) + row.payer_amount
    return [
        BalanceEstimate(currency, collected.get(currency, ZERO), sent.get(currency, ZERO))
        for currency in sorted(set(collected) | set(sent))
    ]


def home_figures(
    svc: Services, actor: Actor, *, now: datetime | None = None, open_limit: int = 20, failure_limit: int = 10
) -> HomeFigures:
    """What moved today and this week, what is open, what failed: every role sees the home page."""
    require(actor, Permission.VIEW_HOME)
    engine = svc.engine
    moment = (now or datetime.now(UTC)).astimezone(UTC)
    today = moment.date()
    week_start = today - timedelta(days=today.weekday())
    waiting = history.query_page(engine, HistoryFilter(outcomes=OPEN_OUTCOMES), 1, open_limit)
    failed = history.query_page(engine, HistoryFilter(outcomes=FAILED_OUTCOMES), 1, failure_limit)
    return HomeFigures(
        as_of=moment,
        today=today,
        week_start=week_start,
        today_totals=_moved(query_totals(engine, _completed_moves(today, today))),
        week_totals=_moved(query_totals(engine, _completed_moves(week_start, today))),
        open_count=waiting.total,
        open_rows=waiting.rows,
        failures=failed.rows,
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
