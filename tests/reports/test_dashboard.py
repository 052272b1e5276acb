"""Home figures and history against real sandbox payments, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from sqlalchemy import Engine

from dollr_core.basics.access import Actor, Role
from dollr_core.reports import dashboard, history, history_totals
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, executions_by_reference, pay_out, settle

from .fakes import NOON, add, attempt

OPERATOR = Actor("olivia@example.com", Role.OPERATOR)
FINANCE = Actor("fred@example.com", Role.FINANCE)


def test_figures_match_what_the_sandbox_holds(services: Services, fresh_sandbox: Sandbox) -> None:
    paid_out = pay_out(services, OPERATOR, uuid.uuid4().hex, amount="25")
    pay_out(services, OPERATOR, uuid.uuid4().hex, phone="231880000002", amount="5")  # refused by the wallet
    collected = collect(services, FINANCE, uuid.uuid4().hex)
    settle(services, fresh_sandbox)
    waiting = collect(services, FINANCE, uuid.uuid4().hex, wallet="231880000003")
    remote = executions_by_reference(fresh_sandbox)

    # every history row carries Dollr's own amounts and status
    for row in history.page(services, FINANCE, HistoryFilter(), 1, 100).rows:
        executed = remote[row.reference_id]
        assert row.remote_status == executed["status"]
        if row.outcome is Outcome.COMPLETED:
            assert (row.payer_amount, row.payee_amount) == (
                executed["payer_amount"],
                executed["payee_amount"],
            )

    figures = dashboard.home_figures(services, OPERATOR)  # every role sees the home page
    today = {(t.operation, t.currency): t for t in figures.today_totals}
    assert today[("PAYOUT", "USD")].completed_amount == Decimal("25")
    assert today[("COLLECTION", "USD")].completed_amount == Decimal("275")
    assert [(t.operation, t.completed_amount) for t in figures.week_totals] == [
        (t.operation, t.completed_amount) for t in figures.today_totals
    ]
    assert figures.open_count == 1 and figures.open_rows[0].reference_id == waiting.reference_id
    assert [f.party_name for f in figures.failures] == ["Musa Kollie"]
    assert "limit reached" in figures.failures[0].reason

    [usd] = figures.balances
    received = remote[collected.reference_id]["payee_amount"]
    debited = remote[paid_out.reference_id]["payer_amount"]
    assert (usd.currency, usd.collected, usd.sent, usd.estimate) == (
        "USD",
        received,
        debited,
        received - debited,
    )  # type: ignore[operator]

    # the dashboard's "today" is the history's "today": same numbers, same query
    same_day = history_totals.totals(
        services,
        FINANCE,
        HistoryFilter(since=figures.today, until=figures.today, outcomes=(Outcome.COMPLETED,)),
    )
    assert {(t.operation, t.currency, t.completed_amount) for t in same_day if t.count} == {
        (t.operation, t.currency, t.completed_amount) for t in figures.today_totals
    }
    assert dashboard.sandbox_balances(services) is None  # these services talk to a sandbox over HTTP


def test_days_and_weeks_are_utc_and_start_on_monday(services: Services) -> None:
    engine: Engine = services.engine
    try:
        sunday, monday = NOON - timedelta(days=1), NOON  # NOON is a Monday
        add(
            engine,
            attempt(created_at=sunday, amount="1.00"),
            attempt(created_at=monday.replace(hour=0, minute=0), amount="2.00"),
            attempt(created_at=monday + timedelta(days=2), amount="4.00"),
            attempt(created_at=monday + timedelta(days=2), amount="8.00", operation_type="COLLECTION"),
            attempt(created_at=monday + timedelta(days=2), amount="16.00", state="FAILED"),
            attempt(created_at=monday + timedelta(days=2), amount="3.00", operation_type="TRANSFER"),
        )
        figures = dashboard.home_figures(services, OPERATOR, now=monday + timedelta(days=2, hours=3))
        assert figures.week_start == monday.date()
        assert [(t.operation, t.completed_amount) for t in figures.today_totals] == [
            ("COLLECTION", Decimal("8.00")),
            ("PAYOUT", Decimal("4.00")),
        ]
        assert [(t.operation, t.completed_amount) for t in figures.week_totals] == [
            ("COLLECTION", Decimal("8.00")),
            ("PAYOUT", Decimal("6.00")),
        ]
        [usd] = figures.balances
        # collected 8.00; sent: payouts 1 + 2 + 4 and the transfer 3, each with 0.51 of fees
        assert (usd.collected, usd.sent, usd.estimate) == (
            Decimal("8.00"),
            Decimal("12.04"),
            Decimal("-4.04"),
        )
    finally:
        engine.dispose()


def test_days_are_the_company_s_days(services: Services) -> None:
    """In Kigali (UTC+2) a payment at 23:30 UTC on Monday was made on Tuesday: the Dashboard's
    today and History's day filter and daily chart say so."""
    engine: Engine = services.engine
    kigali = services.settings.model_copy(update={"time_zone": "Africa/Kigali"})
    late_monday = NOON.replace(hour=23, minute=30)  # Tuesday 01:30 in Kigali
    services.settings = kigali
    try:
        add(engine, attempt(created_at=late_monday, amount="5.00"), attempt(created_at=NOON, amount="7.00"))
        tuesday = (NOON + timedelta(days=1)).date()
        figures = dashboard.home_figures(services, OPERATOR, now=late_monday + timedelta(hours=1))
        assert figures.today == tuesday
        assert [t.completed_amount for t in figures.today_totals] == [Decimal("5.00")]
        on_tuesday = HistoryFilter(since=tuesday, until=tuesday, time_zone="Africa/Kigali")
        assert [r.amount for r in history.query_newest(engine, on_tuesday, 10)] == [Decimal("5.00")]
        days = history_totals.daily(services, FINANCE, HistoryFilter(time_zone="Africa/Kigali"))
        assert sorted((d.day, d.amount) for d in days) == [
            (NOON.date(), Decimal("7.00")),
            (tuesday, Decimal("5.00")),
        ]
    finally:
        engine.dispose()
