"""The ledger's engine: SQLite (WAL) by default, PostgreSQL through a URL, same code for both."""

from __future__ import annotations

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


def _make_sqlite_transactions_immediate(engine: Engine) -> None:
    """Take SQLite's write lock when a transaction begins, not at its first write.

    Otherwise a transaction that reads, then writes, can fail with "database is locked" at once
    (WAL cannot upgrade a stale read snapshot) instead of waiting its turn.
    """

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # we issue BEGIN ourselves
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        # Straight to the driver: every transaction starts here, and SQLAlchemy's statement
        # machinery (a cursor, a result, events) would cost more than SQLite's BEGIN itself.
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE")


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
