"""Storing what Dollr made for us: Dollr's creates have no idempotency key, so a record is stored
the moment its create succeeds, one creator at a time makes it, and a create that may have landed
unstored leaves a marker in the ledger, so only then is Dollr listed before creating again
(contract §7 rule 7)."""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, delete, or_, text
from sqlmodel import Session, col, select

from dollr_core.ledger import statements
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import AccountRecord, ConsoleSetting, Customer, Relationship


def creating_marker(*what: str) -> str:
    """The ledger key saying "a create of this record was sent and may not be stored yet"."""
    return "creating:" + hashlib.sha256("\x1f".join(what).encode()).hexdigest()[:48]


def mark(engine: Engine, marker: str) -> bool:
    """Leave `marker` before the create goes out, committed on its own so a crash after it still
    leaves it. False: it was there already (one already there stands as it is): an earlier
    create may have landed unstored, so Dollr is searched before creating again. One statement
    both asks and marks."""
    values = {"key": marker, "value": "{}", "updated_by": "directory", "updated_at": utcnow()}
    with engine.begin() as connection:
        return connection.execute(_mark_statement(engine.dialect.name), values).first() is not None


@cache
def _mark_statement(dialect: str) -> Any:
    table = ConsoleSetting.__table__  # type: ignore[attr-defined]
    return statements.insert_statement(table, dialect, "key").returning(table.c.key)


def unmark(bind: Bind, marker: str) -> None:
    """The create `marker` stood for is settled."""
    with Session(bind) as db:
        _unmark_in(db, marker)
        db.commit()


def _unmark_in(db: Session, marker: str) -> None:
    db.connection().execute(_UNMARK, {"key": marker})


#: Built once (a bound key): the statement costs more to build than to run.
_UNMARK = delete(ConsoleSetting.__table__).where(  # type: ignore[attr-defined]
    ConsoleSetting.__table__.c.key == bindparam("key")  # type: ignore[attr-defined]
)


Row = TypeVar("Row", Customer, Relationship, AccountRecord)
#: Any record of what Dollr made for us.
Record = Customer | Relationship | AccountRecord


#: Where a creator reads and writes: the engine, or the connection holding the creator's lock.
Bind = Engine | Connection


class _KeyedLocks:
    """One lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def hold(self, key: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(key, (threading.Lock(), 0))
            self._locks[key] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[key]
                if users == 1:
                    del self._locks[key]
                else:
                    self._locks[key] = (lock, users - 1)


_creating = _KeyedLocks()


@contextmanager
def one_creator(engine: Engine, key: str) -> Iterator[Bind]:
    """Let one worker at a time create the record `key` names: a lock in this process and, on
    PostgreSQL, an advisory lock that other replicas of the console and jobs respect too.

    Only the first payment to or from a new person comes here; the lock is held for one Dollr
    create (three for a new payee's party, counterparty and account), so waiting is short, and
    the waiter then finds the record in the ledger. On
    PostgreSQL the record is written on the lock's own connection and committed as the lock ends
    (also if we die), so a creator holds one pooled connection, never two, and the lock works
    behind PgBouncer too.
    """
    with _creating.hold(key):
        if engine.dialect.name != "postgresql":
            yield engine
            return
        number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:8], "big", signed=True)
        with engine.begin() as connection:
            connection.execute(text("SELECT pg_advisory_xact_lock(:n)"), {"n": number})
            yield connection


def store(bind: Bind, row: Row, *, unmarking: str | None = None) -> Row:
    """Insert, or return the row a concurrent worker stored first (the unique key decides).

    `unmarking`: the create's marker (`creating_marker`), removed in the same transaction, since
    the record it stood for is stored now."""
    (stored,) = store_all(bind, [row], unmarking=unmarking)
    return stored  # type: ignore[return-value]


def store_all(
    bind: Bind,
    rows: list[Record],
    *,
    unmarking: str | None = None,
) -> list[Record]:
    """`store` of several records in one transaction, in order.

    A record is one INSERT on the connection, and its stored id is put on the caller's own
    object: the row is what was written, so nothing is read back and no unit of work builds it
    again (loading it through the ORM was most of a new payee's ledger CPU). A record whose key
    another worker stored first is read, the one case that needs a session."""
    with _writing(bind) as connection:
        dialect = connection.dialect.name
        stored_rows: list[Record] = []
        for row in rows:
            table = type(row).__table__  # type: ignore[union-attr]
            values = {column.key: getattr(row, column.key) for column in table.columns if column.key != "id"}
            statement = statements.insert_returning_id(table, dialect, statements.ANY_KEY)
            new_id = connection.execute(statement, values).scalar_one_or_none()
            if new_id is None:  # a key was taken: by this same record, stored by another worker
                with Session(connection, expire_on_commit=False) as db:
                    stored = db.exec(_same_record(row)).first()
                    if stored is None:
                        raise LookupError(f"{table.name}: a unique key of {values} is held by another record")
                    db.expunge(stored)
                stored_rows.append(stored)
                continue
            row.id = new_id
            stored_rows.append(row)
        if unmarking is not None:
            connection.execute(_UNMARK, {"key": unmarking})
    return stored_rows


@contextmanager
def _writing(bind: Bind) -> Iterator[Connection]:
    """A transaction on `bind`: the engine's own, committed at the end; or the creator's lock's
    connection, whose transaction commits when the lock ends."""
    if isinstance(bind, Connection):
        yield bind
        return
    with bind.begin() as connection:
        yield connection


def _same_record(row: Record) -> Any:
    """The stored record that holds one of `row`'s unique keys as `row` would: its Dollr id, or
    the same person, relationship or active account (an inactive account on the same number is
    not taken for a new one: that is an error)."""
    if isinstance(row, Customer):
        return select(Customer).where(Customer.dollr_party_id == row.dollr_party_id)
    if isinstance(row, Relationship):
        return select(Relationship).where(
            or_(
                col(Relationship.dollr_counterparty_id) == row.dollr_counterparty_id,
                (col(Relationship.dollr_party_id) == row.dollr_party_id)
                & (col(Relationship.relationship_type) == row.relationship_type),
            )
        )
    return select(AccountRecord).where(
        or_(
            col(AccountRecord.dollr_account_id) == row.dollr_account_id,
            and_(
                col(AccountRecord.dollr_party_id) == row.dollr_party_id,
                col(AccountRecord.operation_type) == row.operation_type,
                col(AccountRecord.method) == row.method,
                col(AccountRecord.account_number) == row.account_number,
                col(AccountRecord.is_active).is_(True),
            ),
        )
    )
