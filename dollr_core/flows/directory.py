"""People we pay or collect from, and their payment accounts: created on Dollr once, then reused.

Before creating anything we look for it in our own records, and on Dollr only where an earlier
create may have landed unstored (`creating.py`: markers, one creator at a time per record,
across replicas on PostgreSQL, and storing what was made).
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, and_, bindparam, func, or_
from sqlalchemy import select as sa_select
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
from dollr_core.flows import creating
from dollr_core.ledger.columns import new_row
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import AccountRecord, Customer, Relationship


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
    with creating.one_creator(engine, _party_key(person)) as bind:
        found = _first(bind, _PARTY, named)  # stored by whoever created it while we waited
        if found is not None:
            return found
        marker = creating.creating_marker("party", person.phone, person.fullname)
        return creating.store(bind, _dollr_party(engine, client, person, marker), unmarking=marker)


def _party_key(person: Person) -> str:
    return f"party:{person.phone}:{person.fullname}"


def _dollr_party(engine: Engine, client: DollrClient, person: Person, marker: str) -> Customer:
    """The party made at Dollr (or found there, when an earlier create may have landed unstored),
    as a record still to be stored with `marker` removed."""
    # Dollr's create has no idempotency key: look there only if an earlier create may have landed
    # without being stored (its marker is still in the ledger), never before a first create.
    existing = None
    if not creating.mark(engine, marker):
        existing = next(
            (p for p in client.parties.list(fullname=person.fullname) if p.phone == person.phone), None
        )
    party = existing or client.parties.create(
        PartyCreate(
            fullname=person.fullname,
            phone=person.phone,
            email=person.email,
            country_code=person.country_code,
        )
    )
    return new_row(
        Customer,
        dollr_party_id=party.id,
        fullname=person.fullname,
        phone=person.phone,
        email=person.email,
        country_code=person.country_code,
    )


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


@dataclass(frozen=True)
class Payee:
    """What paying a person at a number needs: their party, counterparty and account at Dollr."""

    customer: Customer
    account: AccountRecord


@dataclass(frozen=True)
class PayeeRecords:
    """What the ledger holds of a payee, each None when missing."""

    customer: Customer | None
    dollr_counterparty_id: int | None  # the counterparty's id only: nothing a payment reads of it
    account: AccountRecord | None

    @property
    def payee(self) -> Payee | None:
        """All three, for a repeat payment (no Dollr call); None when one is missing."""
        if self.customer is None or self.dollr_counterparty_id is None or self.account is None:
            return None
        return Payee(self.customer, self.account)


def payee_records(
    engine: Engine,
    person: Person,
    relationship: RelationshipType,
    *,
    operation: OperationType,
    method: PaymentMethod,
    number: str,
) -> PayeeRecords:
    """The party by name and phone, its counterparty of `relationship` and its active account for
    `number`, in one read."""
    named = {
        "phone": person.phone,
        "name": person.fullname,
        "kind": relationship,
        "operation": operation,
        "method": method,
        "number": number,
    }
    with Session(read_only(engine)) as db:
        found = db.exec(_PAYEE, params=named).first()
    return PayeeRecords(None, None, None) if found is None else PayeeRecords(*found)


def ensure_payee(
    engine: Engine,
    client: DollrClient,
    person: Person,
    relationship: RelationshipType,
    *,
    operation: OperationType,
    method: PaymentMethod,
    provider: Provider,
    number: str,
    country_code: str | None,
) -> Payee:
    """The records to pay `person` at `number`, made at Dollr where the ledger lacks them.

    One read when the ledger holds them all (a repeat payment). A new person's party, then their
    counterparty and account side by side, are made under the party's creator lock and stored
    in one transaction: no one can know the party before it is stored, so no one else can be
    making its counterparty or account meanwhile. What was made is stored even when another
    create fails, so a retry makes only what is still missing."""
    held = payee_records(engine, person, relationship, operation=operation, method=method, number=number)
    if held.payee is not None:
        return held.payee
    wallet = _Wallet(operation, method, provider, number, country_code)
    customer = held.customer
    if customer is None:
        made = _create_payee(engine, client, person, relationship, wallet)
        if made is not None:
            return made
        customer = ensure_party(engine, client, person)  # made by another creator while we waited
    if held.dollr_counterparty_id is None:
        ensure_counterparty(engine, client, customer.dollr_party_id, relationship)
    return Payee(customer, held.account or _ensure_account(engine, client, customer, wallet))


@dataclass(frozen=True)
class _Wallet:
    """A mobile-money account as a payment wants it: operation, method and number."""

    operation: OperationType
    method: PaymentMethod
    provider: Provider
    number: str
    country_code: str | None


def _create_payee(
    engine: Engine,
    client: DollrClient,
    person: Person,
    relationship: RelationshipType,
    wallet: _Wallet,
) -> Payee | None:
    """A new person's three records, made and stored together. None: another creator stored the
    party while we waited for the lock (the caller finds or makes the rest one by one)."""
    with creating.one_creator(engine, _party_key(person)) as bind:
        if _party_held(bind, person):
            return None
        marker = creating.creating_marker("party", person.phone, person.fullname)
        made: list[creating.Record] = []
        failed: Exception | None = None
        try:
            customer = _dollr_party(engine, client, person, marker)
            made.append(customer)
            # The counterparty and the account need only the party: made side by side, one round
            # trip where there were two in a row (each 200-400 ms from Monrovia or Kigali).
            both, failed = _side_by_side(
                lambda: _dollr_counterparty(client, customer.dollr_party_id, relationship),
                lambda: _dollr_account(client, customer, wallet),
            )
            made.extend(both)
        except Exception as error:  # raised once what was made is stored and the lock's work committed
            failed = error
        stored = creating.store_all(bind, made, unmarking=marker) if made else []
    if failed is not None:
        raise failed
    stored_customer = next(row for row in stored if isinstance(row, Customer))
    stored_account = next(row for row in stored if isinstance(row, AccountRecord))
    return Payee(stored_customer, stored_account)


def _side_by_side(
    elsewhere: Callable[[], creating.Record], here: Callable[[], creating.Record]
) -> tuple[list[creating.Record], Exception | None]:
    """Run two creates at once, `elsewhere` on a thread of its own (in this thread's context, so a
    patient bulk sender's call waits its turn at the rate pacer too): what both made, in that
    order, once both ended, and the first error."""
    made: list[creating.Record] = []
    failed: Exception | None = None
    with ThreadPoolExecutor(1, thread_name_prefix="dollr-create") as pool:
        other = pool.submit(contextvars.copy_context().run, elsewhere)
        try:
            made.append(here())
        except Exception as error:
            failed = error
        try:
            made.insert(0, other.result())
        except Exception as error:
            failed = failed or error
    return made, failed


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
        customer = creating.store(
            engine,
            Customer(
                dollr_party_id=dollr_party_id,
                fullname=person.fullname,
                phone=person.phone,
                email=person.email,
                country_code=person.country_code,
            ),
        )
    if held is None:
        creating.store(
            engine,
            Relationship(
                dollr_counterparty_id=dollr_counterparty_id,
                dollr_party_id=dollr_party_id,
                relationship_type=relationship,
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
    with creating.one_creator(engine, f"counterparty:{dollr_party_id}:{relationship}") as bind:
        found = _first(bind, _COUNTERPARTY, named)
        if found is not None:
            return found
        return creating.store(bind, _dollr_counterparty(client, dollr_party_id, relationship))


def _dollr_counterparty(
    client: DollrClient, dollr_party_id: int, relationship: RelationshipType
) -> Relationship:
    """The counterparty made at Dollr, as a record still to be stored."""
    counterparty = client.counterparties.create(
        CounterpartyCreate(relationship_type=relationship, party_id=dollr_party_id)
    )
    return new_row(
        Relationship,
        dollr_counterparty_id=counterparty.id,
        dollr_party_id=dollr_party_id,
        relationship_type=relationship,
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
    wallet = _Wallet(operation, method, provider, number, country_code)
    return _ensure_account(engine, client, customer, wallet)


def _ensure_account(
    engine: Engine, client: DollrClient, customer: Customer, wallet: _Wallet
) -> AccountRecord:
    party = customer.dollr_party_id
    named = {"party": party, "operation": wallet.operation, "method": wallet.method, "number": wallet.number}
    found = _first(engine, _ACCOUNT, named)
    if found is not None:
        return found
    key = f"account:{party}:{wallet.operation}:{wallet.method}:{wallet.number}"
    with creating.one_creator(engine, key) as bind:
        found = _first(bind, _ACCOUNT, named)
        if found is not None:
            return found
        return creating.store(bind, _dollr_account(client, customer, wallet))


def _dollr_account(client: DollrClient, customer: Customer, wallet: _Wallet) -> AccountRecord:
    """The payment account made at Dollr, as a record still to be stored."""
    account = client.payment_accounts.create(
        PaymentAccountCreate(
            account_name=f"{customer.fullname} {wallet.method.value}"[:100],
            provider=wallet.provider,
            method=wallet.method,
            party_id=customer.dollr_party_id,
            country_code=wallet.country_code,
            insensitive_account_number=wallet.number,
        ),
        operation_type=wallet.operation,
    )
    return new_row(
        AccountRecord,
        dollr_account_id=account.id,
        dollr_party_id=customer.dollr_party_id,
        operation_type=wallet.operation,
        method=wallet.method,
        provider=wallet.provider,
        account_number=wallet.number,
        is_active=account.is_active is not False,
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


def _first(
    bind: creating.Bind, lookup: SelectOfScalar[creating.Row], params: dict[str, Any]
) -> creating.Row | None:
    # On an engine, a read of its own; on a creator's connection, inside the creator's transaction.
    with Session(read_only(bind) if isinstance(bind, Engine) else bind) as db:
        return db.exec(lookup, params=params).first()


def _party_held(bind: creating.Bind, person: Person) -> bool:
    """Whether the ledger holds `person`'s party: only its id is read (no record is built)."""
    named = {"phone": person.phone, "name": person.fullname}
    if isinstance(bind, Engine):
        with read_only(bind).connect() as connection:
            return connection.execute(_PARTY_ID, named).first() is not None
    return bind.execute(_PARTY_ID, named).first() is not None


# The lookups every payment to or from a known person makes, built once (bound values):
_PARTY = select(Customer).where(
    col(Customer.phone) == bindparam("phone"), col(Customer.fullname) == bindparam("name")
)
_PARTY_ID = sa_select(Customer.__table__.c.id).where(  # type: ignore[attr-defined]
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
# A payee's records, each None when missing: a repeat payment finds all three in one read.
_PAYEE = (
    select(Customer, col(Relationship.dollr_counterparty_id), AccountRecord)
    .outerjoin(Relationship, _HAS_COUNTERPARTY)
    .outerjoin(
        AccountRecord,
        and_(
            col(AccountRecord.dollr_party_id) == col(Customer.dollr_party_id),
            col(AccountRecord.operation_type) == bindparam("operation"),
            col(AccountRecord.method) == bindparam("method"),
            col(AccountRecord.account_number) == bindparam("number"),
            col(AccountRecord.is_active).is_(True),
        ),
    )
    .where(col(Customer.phone) == bindparam("phone"), col(Customer.fullname) == bindparam("name"))
    .order_by(col(Customer.id))
)
