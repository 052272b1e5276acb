"""The ledger's engine: SQLite (WAL) by default, PostgreSQL through a URL, same code for both."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event, exc
from sqlalchemy.engine.url import make_url

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"
_migrate_lock = threading.Lock()
_MIGRATION_LOCK = 0x446F6C6C72  # "Dollr": the advisory lock every replica takes to migrate


def create_ledger_engine(url: str) -> Engine:
    """An engine tuned for the ledger's pattern: short write transactions from many threads."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            url, connect_args={"check_same_thread": False, "timeout": 30}, pool_size=20, max_overflow=20
        )
        _make_sqlite_transactions_immediate(engine)
        return engine
    if parsed.get_backend_name() == "postgresql" and parsed.drivername == "postgresql":
        url = parsed.set(drivername="postgresql+psycopg").render_as_string(hide_password=False)
    engine = create_engine(url, pool_size=20, max_overflow=20)
    _ping_after_idle(engine)
    return engine


#: A pooled connection given back less than this long ago is handed out without a ping.
PING_AFTER_IDLE = 2.0  # seconds


def _ping_after_idle(engine: Engine) -> None:
    """Ping a pooled connection before use only if it sat idle for `PING_AFTER_IDLE` or more.

    What `pool_pre_ping` does on every checkout costs a round trip and about 0.1 ms of CPU, and a
    payment step checks out a connection per transaction. A connection used a moment ago is
    alive but for a server restart in that moment, and then its statement fails and the pool is
    renewed, as without a ping. A failed ping renews the pool and hands out a new connection.
    """

    @event.listens_for(engine, "connect")
    @event.listens_for(engine, "checkin")
    def _idle_from(_dbapi_connection: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _ping_if_idle(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        if time.monotonic() - record.info.get("idle_since", 0.0) < PING_AFTER_IDLE:
            return
        try:
            engine.dialect.do_ping(dbapi_connection)
        except engine.dialect.loaded_dbapi.Error as error:
            raise exc.InvalidatePoolError(str(error)) from error


#: How long a transaction waits for SQLite's write lock, as `PRAGMA busy_timeout` below.
SQLITE_LOCK_WAIT = 30.0  # seconds


class _WriteTurn:
    """The process's one SQLite write transaction at a time, handed to the next thread at once.

    SQLite lets one transaction write at a time, and a connection that finds the lock taken polls
    for it, sleeping 1, 2, 5, 10 … up to 100 ms between tries: a transaction of a millisecond
    could keep the next one asleep a hundred times longer (py-spy found 16 bulk senders in that
    wait half the time). Threads of one process queue here instead and the next wakes the moment
    the holder's transaction ends; another process on the same file (a reconciler) still meets
    SQLite's own wait.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder: Any = None  # the driver connection whose transaction holds the turn

    def take(self, driver_connection: Any) -> None:
        if self._holder is driver_connection:
            return  # its last transaction ended without our hearing of it: the turn is still its
        if not self._lock.acquire(timeout=SQLITE_LOCK_WAIT):
            raise sqlite3.OperationalError("database is locked")
        self._holder = driver_connection

    def give_back(self, driver_connection: Any) -> None:
        if self._holder is driver_connection and driver_connection is not None:
            self._holder = None
            self._lock.release()


#: The execution option of `read_only`'s engine.
_READS_ONLY = "dollr_reads_only"


def read_only(engine: Engine) -> Engine:
    """`engine` for transactions that only read (one per engine, sharing its pool).

    On SQLite they begin DEFERRED and take no write turn: WAL lets them read beside the one
    writer, where an IMMEDIATE transaction would queue behind every write of the process (a bulk
    payout row reads the ledger as often as it writes it). On PostgreSQL nothing changes. A
    write in such a transaction is not lost, but it may fail at once with "database is locked",
    so only reads go here.
    """
    reading: Engine | None = getattr(engine, _READS_ONLY, None)
    if reading is None:
        # Kept on the engine itself (it refers back to it: a cycle the GC collects with both).
        reading = engine.execution_options(**{_READS_ONLY: True})
        setattr(engine, _READS_ONLY, reading)
    return reading


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    """Take SQLite's write lock when a transaction begins, not at its first write.

    Otherwise a transaction that reads, then writes, can fail with "database is locked" at once
    (WAL cannot upgrade a stale read snapshot) instead of waiting its turn. Threads take turns
    through `_WriteTurn`; a transaction gives its turn back once SQLite has ended it, on every
    way out: commit, rollback, a connection invalidated or closed, a connection back in the pool.
    Transactions of `read_only`'s engine begin DEFERRED and take no turn.
    """
    turn = _WriteTurn()

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(SQLITE_LOCK_WAIT * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: every transaction starts here, and SQLAlchemy's statement
        # machinery (a cursor, a result, events) would cost more than SQLite's BEGIN itself.
        driver = connection.connection.driver_connection
        if connection.get_execution_options().get(_READS_ONLY):
            driver.execute("BEGIN")
            return
        turn.take(driver)
        try:
            driver.execute("BEGIN IMMEDIATE")
        except BaseException:
            turn.give_back(driver)
            raise

    @event.listens_for(engine, "commit")
    def _on_commit(connection: Any) -> None:
        # SQLAlchemy's own commit comes after this event; the turn can only be handed on once
        # SQLite has committed, so commit here, and SQLAlchemy's commit then finds nothing open.
        driver = connection.connection.driver_connection
        try:
            driver.execute("COMMIT")
        except sqlite3.Error as error:
            # Raised as SQLAlchemy would have; the rollback that follows gives the turn back.
            raise exc.DBAPIError.instance("COMMIT", None, error, sqlite3.Error) from error
        turn.give_back(driver)

    @event.listens_for(engine, "rollback")
    def _on_rollback(connection: Any) -> None:
        if connection.invalidated:
            return  # the pool's invalidate event below gives the turn back
        driver = connection.connection.driver_connection
        try:
            if driver.in_transaction:
                driver.execute("ROLLBACK")
        finally:
            turn.give_back(driver)

    @event.listens_for(engine, "checkin")
    @event.listens_for(engine, "invalidate")
    @event.listens_for(engine, "close")
    def _on_connection_done(dbapi_connection: Any, *_: Any) -> None:
        turn.give_back(dbapi_connection)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision; an upgrade keeps every row."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with _migrate_lock, engine.begin() as connection:
        if connection.dialect.name == "postgresql":
            # Replicas starting together on an empty database: one migrates, the others wait.
            connection.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_MIGRATION_LOCK})")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_ledger(url: str) -> Engine:
    """An engine on a migrated ledger: what the console, the reconciler and the tests start with."""
    engine = create_ledger_engine(url)
    migrate(engine)
    return engine
