"""`row_outcomes.record_outcome`: where a row's payment stands is copied onto the row while the
row is in flight, in one compare-and-set statement, and never onto a row that has left flight."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from dollr_core.bulk import row_outcomes
from dollr_core.ledger import open_ledger
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    LedgerEvent,
)

REFERENCE = "3f1c9a52-7d4e-4b8a-9f3e-2a6b1c0d9e8f"


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_ledger(ledger_url)
    yield engine
    engine.dispose()


def _row_in_flight(engine: Engine, state: BatchRowState = BatchRowState.SENT) -> int:
    with Session(engine) as db:
        batch = Batch(name="June salaries", state=BatchState.RUNNING, created_by="mo@example.com")
        db.add(batch)
        db.flush()
        assert batch.id is not None
        row = BatchRow(batch_id=batch.id, row_number=1, name="Musa Kollie", state=state, intent_key="key-1")
        db.add(row)
        db.commit()
        assert row.id is not None
        return row.id


def _attempt(state: AttemptState, **values: object) -> Attempt:
    return Attempt(reference_id=REFERENCE, local_state=state, **values)


def _row(engine: Engine, row_id: int) -> BatchRow:
    with Session(engine) as db:
        row = db.get(BatchRow, row_id)
        assert row is not None
        return row


def _events(engine: Engine, row_id: int) -> list[tuple[str | None, str]]:
    with Session(engine) as db:
        found = db.exec(select(LedgerEvent).where(col(LedgerEvent.batch_row_id) == row_id)).all()
        return [(event.from_state, event.to_state) for event in found]


def test_a_payment_on_its_way_names_itself_on_the_row_once(engine: Engine) -> None:
    row_id = _row_in_flight(engine)
    row_outcomes.record_outcome(engine, row_id, _attempt(AttemptState.ACCEPTED))
    assert _row(engine, row_id).reference_id == REFERENCE
    assert _row(engine, row_id).state == BatchRowState.SENT

    row_outcomes.record_outcome(engine, row_id, _attempt(AttemptState.ACCEPTED))  # seen again
    assert _row(engine, row_id).reference_id == REFERENCE
    assert _events(engine, row_id) == []  # no state changed, so no event


def test_a_completed_payment_marks_the_row_paid_with_its_amounts_and_one_event(engine: Engine) -> None:
    row_id = _row_in_flight(engine)
    completed = _attempt(
        AttemptState.COMPLETED, payer_amount=Decimal("10.1500"), payee_amount=Decimal("10.0000")
    )
    row_outcomes.record_outcome(engine, row_id, completed)
    row = _row(engine, row_id)
    assert (row.state, row.reference_id) == (BatchRowState.PAID, REFERENCE)
    assert (row.payer_amount, row.payee_amount, row.failure_reason) == (
        Decimal("10.1500"),
        Decimal("10.0000"),
        None,
    )
    assert _events(engine, row_id) == [(BatchRowState.SENT, BatchRowState.PAID)]


@pytest.mark.parametrize(
    ("state", "reason"),
    [
        (AttemptState.FAILED, "Insufficient balance"),
        (AttemptState.ABANDONED, "It never reached Dollr: nothing was paid."),
    ],
)
def test_a_payment_that_ended_without_paying_fails_the_row_with_the_reason(
    engine: Engine, state: AttemptState, reason: str
) -> None:
    row_id = _row_in_flight(engine)
    row_outcomes.record_outcome(engine, row_id, _attempt(state, last_error="Insufficient balance"))
    row = _row(engine, row_id)
    assert row.state == BatchRowState.FAILED
    assert reason in (row.failure_reason or "")
    assert _events(engine, row_id) == [(BatchRowState.SENT, BatchRowState.FAILED)]


@pytest.mark.parametrize("outcome", [AttemptState.ACCEPTED, AttemptState.COMPLETED])
def test_a_row_no_longer_in_flight_is_left_as_it_is(engine: Engine, outcome: AttemptState) -> None:
    row_id = _row_in_flight(engine, BatchRowState.QUEUED)  # requeued or canceled meanwhile
    row_outcomes.record_outcome(engine, row_id, _attempt(outcome, payer_amount=Decimal("1")))
    row = _row(engine, row_id)
    assert (row.state, row.reference_id, row.payer_amount) == (BatchRowState.QUEUED, None, None)
    assert _events(engine, row_id) == []
