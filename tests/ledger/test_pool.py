"""The ledger's PostgreSQL pool pings a connection only after it sat idle, and a connection the
server dropped meanwhile is replaced before anyone uses it."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import create_engine, text

from dollr_core.ledger import db as ledger_db
from tests.conftest import PG_URL

pytestmark = pytest.mark.postgres


def _backend(engine: Any) -> int:
    with engine.connect() as connection:
        pid: int = connection.execute(text("SELECT pg_backend_pid()")).scalar_one()
        return pid


def test_a_connection_used_a_moment_ago_is_not_pinged(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ledger_db.create_ledger_engine(pg_url)
    pings: list[object] = []
    ping = engine.dialect.do_ping
    monkeypatch.setattr(engine.dialect, "do_ping", lambda c: pings.append(c) or ping(c))
    first = _backend(engine)
    assert [_backend(engine) for _ in range(5)] == [first] * 5
    assert pings == []
    monkeypatch.setattr(ledger_db, "PING_AFTER_IDLE", 0.0)
    assert _backend(engine) == first and len(pings) == 1
    engine.dispose()


def test_a_connection_dropped_while_idle_is_replaced(pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = ledger_db.create_ledger_engine(pg_url)
    dropped = _backend(engine)
    admin = create_engine(PG_URL)
    with admin.begin() as connection:
        connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": dropped})
    admin.dispose()
    monkeypatch.setattr(ledger_db, "PING_AFTER_IDLE", 0.0)  # as if it sat idle long enough
    assert _backend(engine) != dropped
    engine.dispose()
