"""Where the state lives between runs.

Why SQLite and not a JSON snapshot: a snapshot rewritten after every mutating request costs
O(state) per request, so 2,000 executions (each with its session and account, a few MB of JSON)
would take minutes of rewriting. SQLite lets each request commit only the records it changed,
in one transaction, before the response leaves; a crash or restart then loses nothing that was
acknowledged, and a half-written file cannot happen. WAL with ``synchronous=FULL`` keeps each
commit durable at the cost of one fsync.

Rows are ``(kind, key, json)``: the records are pydantic models, so their JSON is the schema.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path

Row = tuple[str, str, str]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS records (
    kind TEXT NOT NULL,
    key  TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (kind, key)
) WITHOUT ROWID
"""


class StateStoreError(RuntimeError):
    pass


class MemoryStore:
    """No persistence: the state lives as long as the process."""

    def load(self) -> list[Row]:
        return []

    def write(self, upserts: Iterable[Row], replace: bool = False) -> None:
        pass

    def close(self) -> None:
        pass


class SqliteStore(MemoryStore):
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The state lock serialises writers; this lock only guards the connection against misuse.
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise StateStoreError(f"{self.path} is not a sandbox state database: {exc}") from exc

    def load(self) -> list[Row]:
        with self._lock:
            return list(self._db.execute("SELECT kind, key, data FROM records"))

    def write(self, upserts: Iterable[Row], replace: bool = False) -> None:
        """Upsert ``upserts`` in one transaction; with ``replace`` they become the only rows."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                if replace:
                    self._db.execute("DELETE FROM records")
                self._db.executemany(
                    "INSERT INTO records (kind, key, data) VALUES (?, ?, ?) "
                    "ON CONFLICT (kind, key) DO UPDATE SET data = excluded.data",
                    list(upserts),
                )
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()
