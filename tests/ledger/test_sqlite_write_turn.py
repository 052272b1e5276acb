"""SQLite's write transactions take turns inside a process (`ledger.db._WriteTurn`): every way a
transaction ends hands the turn on, and a COMMIT that fails is never taken for one that worked.

A turn kept by mistake would stop every later transaction of the process for `SQLITE_LOCK_WAIT`,
so each case checks that another thread's transaction then runs; the 5 s given to it only
bounds a hang, it measures no speed."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, exc, text
from sqlmodel import Session

from dollr_core.ledger.db import create_ledger_engine, read_only

HANG = 5.0  # seconds: far more than any transaction here takes, far less than SQLITE_LOCK_WAIT


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = create_ledger_engine(f"sqlite:///{tmp_path / 'turns.db'}")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE parent (id INTEGER PRIMARY KEY)"))
        connection.execute(
            text("CREATE TABLE child (id INTEGER PRIMARY KEY, parent_id INTEGER REFERENCES parent(id))")
        )
    yield engine
    engine.dispose()


def _another_thread_writes(engine: Engine, value: int) -> None:
    """A transaction from a thread of its own ends within `HANG`, or the turn was kept."""
    done = threading.Event()

    def write() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO parent (id) VALUES (:v)"), {"v": value})
        done.set()

    worker = threading.Thread(target=write, daemon=True)
    worker.start()
    worker.join(HANG)
    assert done.is_set(), "the write turn was not handed on"


def _parents(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return [row[0] for row in connection.execute(text("SELECT id FROM parent ORDER BY id"))]


def _commit(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO parent (id) VALUES (1)"))


def _raise_inside(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as connection:
        connection.execute(text("INSERT INTO parent (id) VALUES (1)"))
        raise RuntimeError("the step failed")


def _close_unfinished_session(engine: Engine) -> None:
    with Session(engine) as db:
        db.connection().execute(text("INSERT INTO parent (id) VALUES (1)"))  # never committed


def _fail_a_statement(engine: Engine) -> None:
    with pytest.raises(exc.IntegrityError), engine.begin() as connection:
        connection.execute(text("INSERT INTO parent (id) VALUES (1)"))
        connection.execute(text("INSERT INTO parent (id) VALUES (1)"))


def _invalidate_mid_transaction(engine: Engine) -> None:
    connection = engine.connect()
    connection.execute(text("INSERT INTO parent (id) VALUES (1)"))
    connection.invalidate()  # as after a driver error that leaves the connection unusable
    connection.close()


@pytest.mark.parametrize(
    ("ending", "kept"),
    [
        (_commit, [1]),
        (_raise_inside, []),
        (_close_unfinished_session, []),
        (_fail_a_statement, []),
        (_invalidate_mid_transaction, []),
    ],
    ids=["commit", "exception", "session-closed", "failed-statement", "invalidated"],
)
def test_every_way_a_transaction_ends_hands_the_turn_on(
    engine: Engine, ending: Callable[[Engine], None], kept: list[int]
) -> None:
    ending(engine)
    _another_thread_writes(engine, 2)
    assert _parents(engine) == [*kept, 2]


def test_a_commit_sqlite_refuses_raises_and_stores_nothing(engine: Engine) -> None:
    """The turn's COMMIT runs before SQLAlchemy's own, which then finds nothing to commit: a
    COMMIT that fails raises SQLAlchemy's error, stores nothing and hands the turn on."""
    with pytest.raises(exc.IntegrityError, match="FOREIGN KEY"), engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA defer_foreign_keys = ON")  # checked at COMMIT
        connection.execute(text("INSERT INTO child (id, parent_id) VALUES (1, 99)"))
    with engine.connect() as connection:
        assert connection.execute(text("SELECT count(*) FROM child")).scalar_one() == 0
    _another_thread_writes(engine, 3)


def test_a_writer_outside_the_process_is_still_waited_for(engine: Engine, tmp_path: Path) -> None:
    """Another process on the file (a reconciler) meets SQLite's own lock, not the turn."""
    outsider = sqlite3.connect(tmp_path / "turns.db", isolation_level=None)
    outsider.execute("BEGIN IMMEDIATE")
    outsider.execute("INSERT INTO parent (id) VALUES (1)")
    waiting = threading.Thread(target=_another_thread_writes, args=(engine, 2), daemon=True)
    waiting.start()
    waiting.join(0.3)
    assert waiting.is_alive(), "wrote while another process held SQLite's write lock"
    outsider.execute("COMMIT")
    outsider.close()
    waiting.join(HANG)
    assert _parents(engine) == [1, 2]


def test_a_read_only_transaction_reads_beside_an_open_write(engine: Engine) -> None:
    """`read_only`'s transactions take no turn: one reads (the last commit, not the open write)
    while another thread's write transaction holds the turn."""
    _commit(engine)
    writing, finish = threading.Event(), threading.Event()

    def write_slowly() -> None:
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO parent (id) VALUES (2)"))
            writing.set()
            finish.wait(HANG)

    writer = threading.Thread(target=write_slowly, daemon=True)
    writer.start()
    assert writing.wait(HANG)
    read: list[list[int]] = []

    def read_now() -> None:
        with Session(read_only(engine)) as db:
            rows = db.connection().execute(text("SELECT id FROM parent ORDER BY id"))
            read.append([row[0] for row in rows])

    reader = threading.Thread(target=read_now, daemon=True)
    reader.start()
    reader.join(HANG)
    finish.set()
    writer.join(HANG)
    assert read == [[1]], "the read waited for the write turn"
    assert _parents(engine) == [1, 2]


def test_an_open_read_only_transaction_keeps_no_writer_waiting(engine: Engine) -> None:
    with Session(read_only(engine)) as db:
        db.connection().execute(text("SELECT count(*) FROM parent"))
        _another_thread_writes(engine, 2)  # while the read is still open
    assert _parents(engine) == [2]
    assert read_only(engine) is read_only(engine)  # one per engine, sharing its pool
