"""The one writer of state: every allowed change applies with its event, in the caller's
transaction; every other pair is refused as a fault in our code."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from enum import StrEnum
from typing import Any

import pytest
from sqlalchemy import Engine, exists, func
from sqlmodel import Session, SQLModel, col, select

from dollr_core.ledger import open_ledger, transitions
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
    IntentState,
    LedgerEvent,
)
from dollr_core.ledger.transitions import TRANSITIONS, IllegalTransition

_STATES: dict[type[SQLModel], type[StrEnum]] = {
    Intent: IntentState,
    Attempt: AttemptState,
    Batch: BatchState,
    BatchRow: BatchRowState,
}
_COLUMN = {Intent: "state", Attempt: "local_state", Batch: "state", BatchRow: "state"}

ALLOWED = [
    (model, frm, to)
    for model, table in TRANSITIONS.items()
    for frm, tos in table.items()
    for to in sorted(tos)  # sorted: pytest-xdist workers must collect the same tests in one order
]
REFUSED = [
    (model, frm, to)
    for model, states in _STATES.items()
    for frm, to in itertools.product(states, states)
    if to not in TRANSITIONS[model][frm]
]


def _name(value: Any) -> str:
    return value.__name__ if isinstance(value, type) else str(value)


@pytest.fixture(scope="module")
def engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    engine = open_ledger(f"sqlite:///{tmp_path_factory.mktemp('transitions')}/ledger.db")
    yield engine
    engine.dispose()


_keys = itertools.count()


def _row(db: Session, model: type[SQLModel], state: StrEnum) -> Any:
    """A row of `model` stored in `state` (as if an earlier change had put it there)."""
    n = next(_keys)
    if model is Intent:
        row: Any = Intent(intent_key=f"k{n}", kind="PAYOUT", operation_type="PAYOUT", state=state)
    elif model is Attempt:
        row = Attempt(reference_id=f"ref-{n}", intent_id=1000 + n, operation_type="PAYOUT", local_state=state)
    elif model is Batch:
        row = Batch(name=f"b{n}", created_by="op@example.com", state=state)
    else:
        row = BatchRow(batch_id=77, row_number=n, state=state)
    db.add(row)
    db.commit()
    db.refresh(row)
    return row


def _events(db: Session, model: type[SQLModel], row_id: int) -> list[LedgerEvent]:
    query = select(LedgerEvent).order_by(col(LedgerEvent.id))
    if model is Intent:
        query = query.where(LedgerEvent.intent_id == row_id, col(LedgerEvent.attempt_id).is_(None))
    elif model is Attempt:
        query = query.where(LedgerEvent.attempt_id == row_id)
    elif model is Batch:
        query = query.where(LedgerEvent.batch_id == row_id, col(LedgerEvent.batch_row_id).is_(None))
    else:
        query = query.where(LedgerEvent.batch_row_id == row_id)
    return list(db.exec(query).all())


@pytest.mark.parametrize(("model", "frm", "to"), ALLOWED, ids=_name)
def test_every_allowed_change_applies_with_its_event(
    engine: Engine, model: type[SQLModel], frm: StrEnum, to: StrEnum
) -> None:
    with Session(engine) as db:
        row = _row(db, model, frm)
        transitions.move(db, row, to, actor="op@example.com", detail="because")  # type: ignore[call-overload]
        db.commit()
        db.refresh(row)
        assert getattr(row, _COLUMN[model]) == to
        (event,) = _events(db, model, row.id)
    assert (event.from_state, event.to_state, event.actor, event.detail) == (
        frm,
        to,
        "op@example.com",
        "because",
    )
    if model is Attempt:
        assert event.intent_id == row.intent_id
        assert (row.final_at is not None) == AttemptState(to).is_final
    if model is BatchRow:
        assert event.batch_id == row.batch_id


@pytest.mark.parametrize(("model", "frm", "to"), ALLOWED, ids=_name)
def test_a_rolled_back_change_leaves_neither_state_nor_event(
    engine: Engine, model: type[SQLModel], frm: StrEnum, to: StrEnum
) -> None:
    with Session(engine) as db:
        row = _row(db, model, frm)
        row_id = row.id
        transitions.move(db, row, to, actor="op@example.com")  # type: ignore[call-overload]
        db.flush()
        db.rollback()
    with Session(engine) as db:
        stored = db.get(model, row_id)
        assert getattr(stored, _COLUMN[model]) == frm
        assert _events(db, model, row_id) == []


@pytest.mark.parametrize(("model", "frm", "to"), REFUSED, ids=_name)
def test_every_other_pair_is_a_fault(
    engine: Engine, model: type[SQLModel], frm: StrEnum, to: StrEnum
) -> None:
    with Session(engine) as db:
        row = _row(db, model, frm)
        with pytest.raises(IllegalTransition, match=f"Fault in the console: {model.__name__}"):
            transitions.move(db, row, to, actor="op@example.com")  # type: ignore[call-overload]
        with pytest.raises(IllegalTransition):
            transitions.move_where(  # type: ignore[call-overload]
                db,
                model,
                frm,
                to,
                where=[col(model.id) == row.id],  # type: ignore[attr-defined]
                actor="op@example.com",
            )
        db.commit()
        db.refresh(row)
        assert getattr(row, _COLUMN[model]) == frm
        assert _events(db, model, row.id) == []


@pytest.mark.parametrize(("model", "frm", "to"), ALLOWED, ids=_name)
def test_compare_and_set_moves_only_rows_still_in_the_state(
    engine: Engine, model: type[SQLModel], frm: StrEnum, to: StrEnum
) -> None:
    with Session(engine) as db:
        row = _row(db, model, frm)
        row_id = row.id
        where = [col(model.id) == row_id]  # type: ignore[attr-defined]
        moved = transitions.move_where(db, model, frm, to, where=where, actor="w")  # type: ignore[call-overload]
        db.commit()
        assert moved == [row_id]
        again = [] if frm == to else transitions.move_where(db, model, frm, to, where=where, actor="w")  # type: ignore[call-overload]
        db.commit()
        assert again == []
        stored = db.get(model, row_id)
        db.refresh(stored)
        assert getattr(stored, _COLUMN[model]) == to
        (event,) = _events(db, model, row_id)
        assert (event.from_state, event.to_state) == (frm, to)


def test_compare_and_set_rolled_back_leaves_nothing(engine: Engine) -> None:
    with Session(engine) as db:
        row = _row(db, Intent, IntentState.READY)
        row_id = row.id
        transitions.move_where(
            db, Intent, IntentState.READY, IntentState.EXECUTING, where=[col(Intent.id) == row_id], actor="w"
        )
        db.rollback()
    with Session(engine) as db:
        stored = db.get(Intent, row_id)
        assert stored is not None and stored.state == IntentState.READY
        assert _events(db, Intent, row_id or 0) == []


def test_the_state_cannot_be_slipped_in_through_values(engine: Engine) -> None:
    with Session(engine) as db, pytest.raises(IllegalTransition):
        transitions.move_where(
            db, Intent, IntentState.READY, IntentState.EXECUTING, values={"state": "COMPLETED"}, actor="w"
        )


def test_a_row_is_created_only_in_a_starting_state(engine: Engine) -> None:
    with Session(engine) as db:
        intent = Intent(intent_key="new-one", kind="PAYOUT", operation_type="PAYOUT", state=IntentState.READY)
        transitions.created(db, intent, actor="op@example.com", action="intent_opened")
        db.commit()
        (event,) = _events(db, Intent, intent.id or 0)
        assert (event.action, event.from_state, event.to_state) == ("intent_opened", None, "READY")
        stray = Intent(
            intent_key="stray", kind="PAYOUT", operation_type="PAYOUT", state=IntentState.EXECUTING
        )
        with pytest.raises(IllegalTransition):
            transitions.created(db, stray, actor="op@example.com", action="intent_opened")


def test_the_table_names_every_state() -> None:
    for model, states in _STATES.items():
        assert set(TRANSITIONS[model]) == set(states)
        for frm in states:
            assert transitions.allowed(model, frm, "NOT-A-STATE") is False


def test_a_claim_commits_or_rolls_back_with_its_event_on_both_ledgers(ledger_url: str) -> None:
    """The bulk worker's claim, on SQLite and PostgreSQL: one statement moves the row only while its
    batch runs, and the event goes with it."""
    engine = open_ledger(ledger_url)
    with Session(engine) as db:
        batch = Batch(name="b", created_by="op@example.com", state=BatchState.RUNNING)
        db.add(batch)
        db.commit()
        batch_id = batch.id or 0
        row = BatchRow(batch_id=batch_id, row_number=1, state=BatchRowState.QUEUED)
        db.add(row)
        db.commit()
        row_id = row.id or 0
    running = exists().where(col(Batch.id) == BatchRow.batch_id, col(Batch.state) == BatchState.RUNNING)

    def claim(db: Session) -> list[int]:
        return transitions.move_where(
            db,
            BatchRow,
            BatchRowState.QUEUED,
            BatchRowState.SENT,
            where=[col(BatchRow.id) == row_id, running],
            values={"intent_key": func.coalesce(BatchRow.intent_key, "key-1")},
            actor="system:bulk-worker",
        )

    with Session(engine) as db:
        assert claim(db) == [row_id]
        db.rollback()
    with Session(engine) as db:
        assert db.get(BatchRow, row_id).state == BatchRowState.QUEUED  # type: ignore[union-attr]
        assert _events(db, BatchRow, row_id) == []
        assert claim(db) == [row_id]
        db.commit()
        assert claim(db) == []
        stored = db.get(BatchRow, row_id)
        assert stored is not None and (stored.state, stored.intent_key) == (BatchRowState.SENT, "key-1")
        (event,) = _events(db, BatchRow, row_id)
        assert (event.batch_id, event.from_state, event.to_state) == (batch_id, "QUEUED", "SENT")
    engine.dispose()
