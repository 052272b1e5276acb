"""The figures cache is never stale: every change History and the Dashboard show moves the marker.

Each step makes one kind of change the way the console makes it, then compares the remembered
figures with figures computed afresh (as a new process would)."""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Callable
from typing import Any

import pytest
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Role
from dollr_core.flows.books import follow_books
from dollr_core.ledger import mirror, open_ledger, transitions
from dollr_core.ledger.tables import Attempt, AttemptState
from dollr_core.reports import dashboard, figures_cache, history_totals
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import pay_out, settle
from tests.flows.test_books_following import pay_on_hosted_page, published

from .fakes import NOON, add, attempt

OPERATOR = Actor("olivia@example.com", Role.OPERATOR)
FINANCE = Actor("fred@example.com", Role.FINANCE)
EVERYTHING = HistoryFilter()


def shown(svc: Services) -> tuple[Any, ...]:
    """What the Dashboard and History show, through the cache, as their pages ask."""
    home = dataclasses.replace(dashboard.home_figures(svc, FINANCE), as_of=NOON)
    history = figures_cache.AsOf(svc.engine).remembered(
        "figures", EVERYTHING, lambda: history_totals.figures(svc, FINANCE, EVERYTHING)
    )
    return home, history.totals, history.by_outcome, history.daily, history.by_method


def check(svc: Services, change: Callable[[], object], *, moves: bool = True) -> tuple[Any, ...]:
    """Make `change`, then: the remembered figures are the fresh ones, and the marker moved."""
    before, marker = shown(svc), figures_cache.change_marker(svc.engine)
    change()
    remembered = shown(svc)
    figures_cache.forget()
    assert remembered == shown(svc), "a remembered figure went stale"
    assert (figures_cache.change_marker(svc.engine) != marker) is moves
    if moves:
        assert remembered != before, "the change should show"
    return remembered


def completed(figures: tuple[Any, ...]) -> int:
    return sum(t.completed for t in figures[1])


def test_every_change_history_shows_moves_the_marker(services: Services, fresh_sandbox: Sandbox) -> None:
    figures_cache.forget()
    shown(services)
    # a new attempt (a payout sent: Dollr holds it, the ledger says processing)
    figures = check(services, lambda: pay_out(services, OPERATOR, uuid.uuid4().hex, amount="25"))
    assert figures[0].open_count == 1 and completed(figures) == 0
    # a state change through ledger.transitions (the reconciler learns the payout completed)
    figures = check(services, lambda: settle(services, fresh_sandbox))
    assert figures[0].open_count == 0 and completed(figures) == 1

    # a document's status change: no figure reads a document, so nothing is recomputed, nothing stale
    record = published(services, FINANCE, "cache-doc-1")
    figures_cache.forget()
    shown(services)
    check(
        services,
        lambda: mirror.set_status(services.engine, record.source_type, record.dollr_id, "CANCELED", None),
        moves=False,
    )

    # a booking by the follower: a document paid on Dollr's own page, found with no click
    paid = published(services, FINANCE, "cache-doc-2")
    pay_on_hosted_page(services, FINANCE, fresh_sandbox, paid)
    figures = check(services, lambda: follow_books(services, sync=False))
    assert completed(figures) == 2
    assert [b.currency for b in figures[0].balances] == ["USD"]


@pytest.mark.postgres
def test_a_late_commit_below_the_newest_id_moves_the_marker(pg_url: str) -> None:
    """PostgreSQL hands out ids when rows are written, not when they commit: a state change that
    commits after a newer one leaves the newest id where it was."""
    engine = open_ledger(pg_url)
    figures_cache.forget()
    add(engine, attempt(state="ACCEPTED"), attempt(state="ACCEPTED"))
    with Session(engine) as db:  # closed, or its open transaction blocks the schema's drop
        first, second = (a.id for a in db.exec(select(Attempt).order_by(col(Attempt.id))).all())

    def complete(db: Session, attempt_id: int | None) -> None:
        row = db.get(Attempt, attempt_id, with_for_update=True)
        assert row is not None
        transitions.move(db, row, AttemptState.COMPLETED, actor="test", detail="late")
        db.flush()  # the event takes its id now

    def done() -> int:
        flt = HistoryFilter(outcomes=(Outcome.COMPLETED,))
        totals = figures_cache.remembered(
            engine, "totals", flt, lambda: history_totals.query_totals(engine, flt)
        )
        return sum(t.count for t in totals)

    with Session(engine) as early:
        complete(early, first)  # the lower event id, not committed yet
        with Session(engine) as later:
            complete(later, second)
            later.commit()
        assert done() == 1  # remembered under a marker whose newest event is the later one
        early.commit()
    assert done() == 2
    engine.dispose()


def test_one_reading_of_the_marker_serves_every_figure_of_a_run(services: Services) -> None:
    """A page asking for several figures reads the marker once; a change after that reading is
    seen by the next run's reading, never filed under the older marker."""
    figures_cache.forget()
    add(services.engine, attempt())
    asked: list[str] = []

    def totals(flt: HistoryFilter) -> list[history_totals.CurrencyTotal]:
        asked.append("totals")
        return history_totals.query_totals(services.engine, flt)

    run = figures_cache.AsOf(services.engine)
    for flt in (EVERYTHING, HistoryFilter(currencies=("USD",)), EVERYTHING):
        run.remembered("totals", flt, lambda flt=flt: totals(flt))
    assert asked == ["totals", "totals"]  # the third was the first again
    add(services.engine, attempt())
    assert run.remembered("totals", EVERYTHING, lambda: totals(EVERYTHING))[0].count == 1  # as of its reading
    later = figures_cache.AsOf(services.engine)
    assert later.marker != run.marker
    assert later.remembered("totals", EVERYTHING, lambda: totals(EVERYTHING))[0].count == 2
