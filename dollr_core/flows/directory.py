"""People we pay or collect from, and their payment accounts: created on Dollr once, then reused.

Dollr's creates have no idempotency key, so each one is stored the moment it succeeds, and before
creating anything we look for it: first in our own records, then on Dollr (contract §7 rule 7).
Two operators entering the same new person at once would both miss and both create, so the
creating part runs for one of them at a time (per record, across replicas on PostgreSQL).
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Connection, Engine, and_, bindparam, delete, func, or_, text
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from dollr_core.api.client import DollrClient
from dollr_core.api.models import (
    CounterpartyCreate,
    PartyCreate,
    PaymentAccountCreate,
)
from dollr_core.basics.enums import OperationType, PaymentMethod, Provider, RelationshipType
from dollr_core.basics.phone import normalize_phone
from dollr_core.basics.validation import check_text, printable
from dollr_core.errors import InputRefused
from dollr_core.ledger import statements
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import AccountRecord, ConsoleSetting, Customer, Relationship


@dataclass(frozen=True)
class Person:
    """What an operator types about a customer or beneficiary, already checked."""

    fullname: str
    phone: str
    email: str | None = None
    country_code: str | None = None

    @classmethod
    def checked(
        cls, fullname: str, phone: str, email: str | None = None, country_code: str | None = None
    ) -> Person:
        name = " ".join(fullname.split())
        if not name:
            raise InputRefused("Enter the person's full name.")
        check_text(name, "name", max_length=200)
        mail = (email or "").strip() or None
        if mail is not None:
            check_text(mail, "e-mail address", max_length=254)
        if mail is not None and (
            "@" not in mail or " " in mail or mail.startswith("@") or mail.endswith("@")
        ):
            raise InputRefused("The e-mail address does not look right.")
        country = (country_code or "").strip().upper() or None
        if country is not None and (len(country) != 2 or not country.isalpha()):
            raise InputRefused("The country must be a two-letter code such as LR or RW.")
        return cls(name, normalize_phone(phone), mail, country)


def search_customers(engine: Engine, text: str = "", *, limit: int = 50) -> list[Customer]:
    """Saved people whose name or phone contains `text` (all of them, newest first, when empty)."""
    with Session(read_only(engine)) as db:
        query = select(Customer).order_by(col(Customer.updated_at).desc()).limit(limit)
        if text.strip():
            like = f"%{printable(text.strip()).lower()}%"  # a NUL would make PostgreSQL fail
            digits = "".join(ch for ch in text if ch.isdigit())
            clauses = [func.lower(Customer.fullname).like(like)]
            if digits:
                clauses.append(col(Customer.phone).like(f"%{digits}%"))
            query = query.where(or_(*clauses))
        return list(db.exec(query).all())


def ensure_party(engine: Engine, client: DollrClient, person: Person) -> Customer:
    """The Dollr party for this name and phone: ours if we made it, Dollr's if it exists, else new."""
    named = {"phone": person.phone, "name": person.fullname}
    found = _first(engine, _PARTY, named)
    if found is not None:
        return found
    with _one_creator(engine, f"party:{person.phone}:{person.fullname}") as bind:
        found = _first(bind, _PARTY, named)  # stored by whoever created it while we waited
        return found if found is not None else _create_party(engine, bind, client, person)


def _create_party(engine: Engine, bind: _Bind, client: DollrClient, person: Person) -> Customer:
    # Dollr's create has no idempotency key: look there only if an earlier create may have landed
    # without being stored (its marker is still in the ledger), never before a first create.
    marker = creating_marker("party", person.phone, person.fullname)
    existing = None
    if is_marked(engine, marker):
        existing = next(
            (p for p in client.parties.list(fullname=person.fullname) if p.phone == person.phone), None
        )
    else:
        mark(engine, marker)
    party = existing or client.parties.create(
        PartyCreate(
            fullname=person.fullname,
            phone=person.phone,
            email=person.email,
            country_code=person.country_code,
        )
    )
    stored = _store(
        bind,
        Customer(
            dollr_party_id=party.id,
            fullname=person.fullname,
            phone=person.phone,
            email=person.email,
            country_code=person.country_code,
        ),
        lookup=select(Customer).where(Customer.dollr_party_id == party.id),
        unmarking=marker,
    )
    return stored


def creating_marker(*what: str) -> str:
    """The ledger key saying "a create of this record was sent and may not be stored yet"."""
    return "creating:" + hashlib.sha256("\x1f".join(what).encode()).hexdigest()[:48]


def is_marked(engine: Engine, marker: str) -> bool:
    with Session(read_only(engine)) as db:
        return db.get(ConsoleSetting, marker) is not None


def mark(engine: Engine, marker: str) -> None:
    """Committed on its own before the create goes out, so a crash after it still leaves the mark
    (one already there stands as it is)."""
    table = ConsoleSetting.__table__  # type: ignore[attr-defined]
    values = {"key": marker, "value": "{}", "updated_by": "directory", "updated_at": utcnow()}
    with engine.begin() as connection:
        connection.execute(statements.insert_statement(table, engine.dialect.name, "key"), values)


def unmark(bind: _Bind, marker: str) -> None:
    """The create `marker` stood for is settled."""
    with Session(bind) as db:
        _unmark_in(db, marker)
        db.commit()


def _unmark_in(db: Session, marker: str) -> None:
    db.exec(delete(ConsoleSetting).where(col(ConsoleSetting.key) == marker))


@dataclass(frozen=True)
class KnownCustomer:
    """A customer the ledger holds, with their counterparty of one relationship type."""

    customer: Customer
    relationship: Relationship


def known_customer(engine: Engine, person: Person, relationship: RelationshipType) -> KnownCustomer | None:
    """The counterparty the ledger already holds for this name and phone, if any (no Dollr call)."""
    named = {"phone": person.phone, "name": person.fullname, "kind": relationship}
    with Session(read_only(engine)) as db:
        found = db.exec(_KNOWN_CUSTOMER, params=named).first()
        return None if found is None else KnownCustomer(*found)


def known_payee(
    engine: Engine,
    person: Person,
    relationship: RelationshipType,
    *,
    operation: OperationType,
    method: PaymentMethod,
    number: str,
) -> tuple[Customer, AccountRecord] | None:
    """The customer, with their counterparty of `relationship` and their active account for
    `number`, when the ledger holds all three: one read for a repeat payment (no Dollr call).
    None: one is missing, and `ensure_party` and the rest find or make each."""
    named = {
        "phone": person.phone,
        "name": person.fullname,
        "kind": relationship,
        "operation": operation,
        "method": method,
        "number": number,
    }
    with Session(read_only(engine)) as db:
        found = db.exec(_KNOWN_PAYEE, params=named).first()
        return None if found is None else (found[0], found[1])


def remember_customer(
    engine: Engine,
    person: Person,
    dollr_party_id: int,
    dollr_counterparty_id: int,
    relationship: RelationshipType,
    *,
    known: KnownCustomer | None = None,
) -> Customer:
    """Store the party and counterparty Dollr created or matched for us (the checkout shortcut), so
    the next payment reuses them; a record already held is kept as it is. `known`: what
    `known_customer` found before the call; when Dollr named those same records, nothing is read."""
    if (
        known is not None
        and known.customer.dollr_party_id == dollr_party_id
        and known.relationship.dollr_counterparty_id == dollr_counterparty_id
    ):
        return known.customer
    with Session(engine) as db:
        customer = db.exec(select(Customer).where(Customer.dollr_party_id == dollr_party_id)).first()
        held = db.exec(
            select(Relationship).where(Relationship.dollr_counterparty_id == dollr_counterparty_id)
        ).first()
    if customer is None:
        customer = _store(
            engine,
            Customer(
                dollr_party_id=dollr_party_id,
                fullname=person.fullname,
                phone=person.phone,
                email=person.email,
                country_code=person.country_code,
            ),
            lookup=select(Customer).where(Customer.dollr_party_id == dollr_party_id),
        )
    if held is None:
        _store(
            engine,
            Relationship(
                dollr_counterparty_id=dollr_counterparty_id,
                dollr_party_id=dollr_party_id,
                relationship_type=relationship,
            ),
            lookup=select(Relationship).where(
                or_(
                    col(Relationship.dollr_counterparty_id) == dollr_counterparty_id,
                    (col(Relationship.dollr_party_id) == dollr_party_id)
                    & (col(Relationship.relationship_type) == relationship),
                )
            ),
        )
    return customer


def ensure_counterparty(
    engine: Engine, client: DollrClient, dollr_party_id: int, relationship: RelationshipType
) -> Relationship:
    """One counterparty per party and relationship type, reused for every later document."""
    named = {"party": dollr_party_id, "kind": relationship}
    found = _first(engine, _COUNTERPARTY, named)
    if found is not None:
        return found
    with _one_creator(engine, f"counterparty:{dollr_party_id}:{relationship}") as bind:
        found = _first(bind, _COUNTERPARTY, named)
        if found is not None:
            return found
        return _create_counterparty(bind, client, dollr_party_id, relationship, _COUNTERPARTY.params(named))


def _create_counterparty(
    bind: _Bind,
    client: DollrClient,
    dollr_party_id: int,
    relationship: RelationshipType,
    lookup: SelectOfScalar[Relationship],
) -> Relationship:
    counterparty = client.counterparties.create(
        CounterpartyCreate(relationship_type=relationship, party_id=dollr_party_id)
    )
    return _store(
        bind,
        Relationship(
            dollr_counterparty_id=counterparty.id,
            dollr_party_id=dollr_party_id,
            relationship_type=relationship,
        ),
        lookup=lookup,
    )


def ensure_account(
    engine: Engine,
    client: DollrClient,
    *,
    customer: Customer,
    operation: OperationType,
    method: PaymentMethod,
    provider: Provider,
    number: str,
    country_code: str | None,
) -> AccountRecord:
    """A mobile-money account is reused per party + method + number (contract §3.7)."""
    named = {"party": customer.dollr_party_id, "operation": operation, "method": method, "number": number}
    lookup = _ACCOUNT.params(named)  # for a create that finds it taken
    found = _first(engine, _ACCOUNT, named)
    if found is not None:
        return found
    with _one_creator(engine, f"account:{customer.dollr_party_id}:{operation}:{method}:{number}") as bind:
        found = _first(bind, _ACCOUNT, named)
        if found is not None:
            return found
        return _create_account(
            bind,
            client,
            customer=customer,
            operation=operation,
            method=method,
            provider=provider,
            number=number,
            country_code=country_code,
            lookup=lookup,
        )


def _create_account(
    bind: _Bind,
    client: DollrClient,
    *,
    customer: Customer,
    operation: OperationType,
    method: PaymentMethod,
    provider: Provider,
    number: str,
    country_code: str | None,
    lookup: SelectOfScalar[AccountRecord],
) -> AccountRecord:
    account = client.payment_accounts.create(
        PaymentAccountCreate(
            account_name=f"{customer.fullname} {method.value}"[:100],
            provider=provider,
            method=method,
            party_id=customer.dollr_party_id,
            country_code=country_code,
            insensitive_account_number=number,
        ),
        operation_type=operation,
    )
    return _store(
        bind,
        AccountRecord(
            dollr_account_id=account.id,
            dollr_party_id=customer.dollr_party_id,
            operation_type=operation,
            method=method,
            provider=provider,
            account_number=number,
            is_active=account.is_active is not False,
        ),
        lookup=lookup,
    )


def customer_for_counterparty(engine: Engine, dollr_counterparty_id: int) -> Customer | None:
    """The customer whose counterparty this is, when the ledger holds both (one read)."""
    with Session(read_only(engine)) as db:
        return db.exec(_BY_COUNTERPARTY_CUSTOMER, params={"counterparty": dollr_counterparty_id}).first()


def deactivate_account(engine: Engine, dollr_account_id: int) -> None:
    """Dollr refused the account as inactive: never offer it again."""
    with Session(engine) as db:
        row = db.exec(select(AccountRecord).where(AccountRecord.dollr_account_id == dollr_account_id)).first()
        if row is not None:
            row.is_active = False
            db.add(row)
            db.commit()


_Row = TypeVar("_Row", Customer, Relationship, AccountRecord)


#: Where a creator reads and writes: the engine, or the connection holding the creator's lock.
_Bind = Engine | Connection


def _first(bind: _Bind, lookup: SelectOfScalar[_Row], params: dict[str, Any]) -> _Row | None:
    # On an engine, a read of its own; on a creator's connection, inside the creator's transaction.
    with Session(read_only(bind) if isinstance(bind, Engine) else bind) as db:
        return db.exec(lookup, params=params).first()


# The lookups every payment to or from a known person makes, built once (bound values):
_PARTY = select(Customer).where(
    col(Customer.phone) == bindparam("phone"), col(Customer.fullname) == bindparam("name")
)
_COUNTERPARTY = select(Relationship).where(
    col(Relationship.dollr_party_id) == bindparam("party"),
    col(Relationship.relationship_type) == bindparam("kind"),
)
_BY_COUNTERPARTY_CUSTOMER = (
    select(Customer)
    .join(Relationship, col(Relationship.dollr_party_id) == col(Customer.dollr_party_id))
    .where(col(Relationship.dollr_counterparty_id) == bindparam("counterparty"))
    .order_by(col(Relationship.id), col(Customer.id))
)
_ACCOUNT = select(AccountRecord).where(
    col(AccountRecord.dollr_party_id) == bindparam("party"),
    col(AccountRecord.operation_type) == bindparam("operation"),
    col(AccountRecord.method) == bindparam("method"),
    col(AccountRecord.account_number) == bindparam("number"),
    col(AccountRecord.is_active).is_(True),
)
# A known person's records in one statement (one read where each was a statement of its own):
# the party by name and phone, its counterparty of a kind, and for a payee its active account.
_HAS_COUNTERPARTY = and_(
    col(Relationship.dollr_party_id) == col(Customer.dollr_party_id),
    col(Relationship.relationship_type) == bindparam("kind"),
)
_KNOWN_CUSTOMER = (
    select(Customer, Relationship)
    .join(Relationship, _HAS_COUNTERPARTY)
    .where(col(Customer.phone) == bindparam("phone"), col(Customer.fullname) == bindparam("name"))
)
_KNOWN_PAYEE = (
    select(Customer, AccountRecord)
    .join(Relationship, _HAS_COUNTERPARTY)
    .join(AccountRecord, col(AccountRecord.dollr_party_id) == col(Customer.dollr_party_id))
    .where(
        col(Customer.phone) == bindparam("phone"),
        col(Customer.fullname) == bindparam("name"),
        col(AccountRecord.operation_type) == bindparam("operation"),
        col(AccountRecord.method) == bindparam("method"),
        col(AccountRecord.account_number) == bindparam("number"),
        col(AccountRecord.is_active).is_(True),
    )
)


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
def _one_creator(engine: Engine, key: str) -> Iterator[_Bind]:
    """Let one worker at a time create the record `key` names: a lock in this process and, on
    PostgreSQL, an advisory lock that other replicas of the console and jobs respect too.

    Only the first payment to or from a new person comes here; the lock is held for one Dollr
    create, so waiting is short, and the waiter then finds the record in the ledger. On
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


def _store(bind: _Bind, row: _Row, *, lookup: Any, unmarking: str | None = None) -> _Row:
    """Insert, or return the row a concurrent worker stored first (the unique key decides).

    `unmarking`: the create's marker (`creating_marker`), removed in the same transaction, since
    the record it stood for is stored now."""
    model = type(row)
    table = model.__table__  # type: ignore[attr-defined]
    values = {column.key: getattr(row, column.key) for column in table.columns if column.key != "id"}
    with Session(bind, expire_on_commit=False) as db:  # the row as written: never read back
        statement = statements.insert_row(model, db.get_bind().dialect.name, statements.ANY_KEY)
        stored: _Row | None = db.scalars(statement, values).one_or_none()
        if stored is None:  # a key was taken: by this same record, stored by another worker
            stored = db.exec(lookup).first()
            if stored is None:
                raise LookupError(f"{table.name}: a unique key of {values} is held by another record")
        if unmarking is not None:
            _unmark_in(db, unmarking)
        db.commit()
        return stored
