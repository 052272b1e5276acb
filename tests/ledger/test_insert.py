"""`transitions.insert`: a new intent or attempt in one INSERT … RETURNING with its event. It
must store exactly what building the model object and flushing it stored, on SQLite and
PostgreSQL alike, and a taken key must write nothing."""

from __future__ import annotations

import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel, col, select

from dollr_core.ledger import open_ledger, transitions
from dollr_core.ledger.intents import fingerprint, open_new_intent
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState, LedgerEvent
from dollr_core.ledger.transitions import IllegalTransition
from tests.support.sql import statements


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_ledger(ledger_url)
    yield engine
    engine.dispose()


INTENT = {
    "kind": "PAYOUT",
    "operation_type": "PAYOUT",
    "operator": "olu@example.com",
    "state": IntentState.READY,
    "party_name": "Musa Kollie",
    "phone": "231550014321",
    "amount": Decimal("12.5"),
    "currency": "USD",
    "predicted_payee_amount": Decimal("12.50"),
    "predicted_platform_fee": Decimal("0.1250"),
    "lease_until": datetime(2026, 12, 2, 6, 0, tzinfo=UTC),
}


def _columns(row: SQLModel, leave_out: set[str]) -> dict[str, Any]:
    table = type(row).__table__  # type: ignore[attr-defined]
    return {c.key: getattr(row, c.key) for c in table.columns if c.key not in leave_out}


def _read(engine: Engine, model: type[SQLModel], row_id: int) -> SQLModel:
    with Session(engine) as db:
        row = db.get(model, row_id)
        assert row is not None
        return row


def test_an_inserted_intent_is_stored_as_the_orm_stored_it(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as db:
        built = Intent(intent_key="by-orm", **INTENT)
        transitions.created(db, built, actor="olu@example.com", action="intent_opened")
        inserted = transitions.insert(
            db, Intent, {"intent_key": "by-insert", **INTENT}, actor="olu@example.com", action="intent_opened"
        )
        db.commit()
    assert inserted is not None and built.id is not None and inserted.id is not None
    differ = {"id", "intent_key", "created_at", "updated_at"}
    by_orm, by_insert = _read(engine, Intent, built.id), _read(engine, Intent, inserted.id)
    assert _columns(by_insert, differ) == _columns(by_orm, differ)
    # What `insert` hands back is what a read gives: amounts to four places, times in UTC.
    assert _columns(inserted, set()) == _columns(by_insert, set())
    assert inserted.amount == Decimal("12.5000") and inserted.predicted_platform_fee == Decimal("0.1250")
    assert inserted.created_at == inserted.updated_at and inserted.created_at.tzinfo is not None
    assert inserted.approvals_needed == 1 and inserted.step == "" and inserted.needs_approval is False


def test_an_inserted_attempt_is_stored_as_the_orm_stored_it(engine: Engine) -> None:
    with Session(engine, expire_on_commit=False) as db:
        intent = transitions.insert(
            db, Intent, {"intent_key": "k", **INTENT}, actor="olu@example.com", action="intent_opened"
        )
        assert intent is not None and intent.id is not None
        common = {
            "intent_id": intent.id,
            "operation_type": "PAYOUT",
            "step": "execute",
            "local_state": AttemptState.PREPARING,
            "amount": Decimal("12.50"),
            "currency": "USD",
            "lease_owner": "worker-1",
            "lease_until": datetime.now(UTC) + timedelta(seconds=30),
        }
        built = Attempt(reference_id="ref-orm", **common)
        transitions.created(db, built, actor="olu@example.com", action="attempt_created")
        inserted = transitions.insert(
            db,
            Attempt,
            {"reference_id": "ref-insert", **common},
            actor="olu@example.com",
            action="attempt_created",
        )
        db.commit()
    assert inserted is not None and built.id is not None and inserted.id is not None
    differ = {"id", "reference_id", "created_at", "updated_at"}
    assert _columns(_read(engine, Attempt, inserted.id), differ) == _columns(
        _read(engine, Attempt, built.id), differ
    )
    assert inserted.poll_count == 0 and inserted.remote_status is None and inserted.final_at is None
    with Session(engine) as db:
        events = db.exec(select(LedgerEvent).where(LedgerEvent.attempt_id == inserted.id)).all()
    assert [(e.intent_id, e.from_state, e.to_state, e.action) for e in events] == [
        (intent.id, None, "PREPARING", "attempt_created")
    ]


def test_a_taken_key_writes_nothing(engine: Engine) -> None:
    values = {"intent_key": "same", **INTENT}
    with Session(engine) as db:
        first = transitions.insert(
            db, Intent, values, actor="a@example.com", action="intent_opened", unless_taken="intent_key"
        )
        db.commit()
    assert first is not None
    with Session(engine) as db, statements(engine) as seen:
        again = transitions.insert(
            db,
            Intent,
            values | {"party_name": "Someone Else"},
            actor="b@example.com",
            action="intent_opened",
            unless_taken="intent_key",
        )
        db.commit()
    assert again is None
    assert len(seen) == 1 and seen[0].startswith("INSERT INTO intent")  # and no event after it
    with Session(engine) as db:
        assert [i.party_name for i in db.exec(select(Intent)).all()] == ["Musa Kollie"]
        assert len(db.exec(select(LedgerEvent)).all()) == 1


def test_a_row_cannot_be_born_in_a_later_state(engine: Engine) -> None:
    with Session(engine) as db, pytest.raises(IllegalTransition):
        transitions.insert(
            db, Intent, {"intent_key": "x", **INTENT, "state": IntentState.EXECUTING}, actor="a", action="x"
        )
    with Session(engine) as db:
        assert db.exec(select(Intent)).all() == []


def test_two_windows_opening_one_new_intent_get_the_same_one(engine: Engine) -> None:
    """A double click on a fresh form: one intent, one event, and each caller knows which it was."""
    barrier = threading.Barrier(4)
    results: list[tuple[int | None, bool]] = []
    lock = threading.Lock()

    def open_it() -> None:
        barrier.wait()
        intent, made = open_new_intent(
            engine,
            "fresh-key",
            kind="DOCUMENT_COLLECTION",
            operation_type="COLLECTION",
            operator="fred@example.com",
            state=IntentState.OPEN,
            terms={"new_document": "fresh-key"},
            party_name="Amara Kamara",
        )
        with lock:
            results.append((intent.id, made))

    threads = [threading.Thread(target=open_it) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len({intent_id for intent_id, _ in results}) == 1
    assert sorted(made for _, made in results) == [False, False, False, True]
    with Session(engine) as db:
        [stored] = db.exec(select(Intent)).all()
        events = db.exec(select(LedgerEvent).where(col(LedgerEvent.intent_id) == stored.id)).all()
    assert stored.params_fingerprint == fingerprint({"new_document": "fresh-key"})
    assert [(e.action, e.to_state) for e in events] == [("intent_opened", "OPEN")]


def test_an_inserted_row_is_held_by_its_session_as_a_loaded_one(engine: Engine) -> None:
    """Built without the ORM's loader, the row is still the session's own: a change to it is an
    UPDATE of that row at the next flush, never a second INSERT, and a move of it is recorded."""
    with Session(engine, expire_on_commit=False) as db:
        intent = transitions.insert(
            db, Intent, {"intent_key": "held", **INTENT}, actor="olu@example.com", action="intent_opened"
        )
        assert intent is not None and intent.id is not None
        assert db.get(Intent, intent.id) is intent  # in the identity map: no read
        assert intent not in db.new and intent not in db.dirty  # nothing pending
        intent.note = "changed after the insert"
        with statements(engine) as seen:
            db.flush()
        assert [s.split()[0] for s in seen] == ["UPDATE"]
        transitions.move(db, intent, IntentState.EXECUTING, actor="olu@example.com", detail="claimed")
        db.commit()
    row = _read(engine, Intent, intent.id)
    assert (row.note, row.state) == ("changed after the insert", IntentState.EXECUTING)
    with Session(engine) as db:
        moves = db.exec(select(LedgerEvent.to_state).where(LedgerEvent.intent_id == intent.id)).all()
    assert moves == ["READY", "EXECUTING"]


def test_an_insert_is_a_fresh_processs_first_ledger_work(tmp_path: Path) -> None:
    """Nothing has configured the ORM's mappers in a process whose first ledger work is an
    insert (a script, `bench.vs_documented`): the row is still built and mapped."""
    script = f"""
from dollr_core.ledger import open_ledger, transitions
from dollr_core.ledger.columns import new_row
from dollr_core.ledger.tables import Customer, Intent, IntentState
from sqlmodel import Session

engine = open_ledger("sqlite:///{tmp_path / "ledger.db"}")
with Session(engine, expire_on_commit=False) as db:
    made = transitions.insert(
        db, Intent,
        {{"intent_key": "k", "kind": "PAYOUT", "operation_type": "PAYOUT", "operator": "a",
          "state": IntentState.READY}},
        actor="a", action="intent_opened",
    )
    db.commit()
assert made is not None and made.id is not None
assert new_row(Customer, dollr_party_id=1, fullname="A B", phone="231880001234").phone == "231880001234"
print("ok")
"""
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"
