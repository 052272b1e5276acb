"""People we pay or collect from, and their payment accounts: created on Dollr once, then reused.

Dollr's creates have no idempotency key, so each one is stored the moment it succeeds, and before
creating anything we look for it: first in our own records, then on Dollr (contract §7 rule 7).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeVar

from sqlalchemy import Engine, func, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dollr_core.client import DollrClient
from dollr_core.enums import OperationType, PaymentMethod, Provider, RelationshipType
from dollr_core.ledger.tables import AccountRecord, Customer, Relationship
from dollr_core.models import (
    CounterpartyCreate,
    PartyCreate,
    PaymentAccountCreate,
)
from dollr_core.phone import normalize_phone


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
            raise ValueError("Enter the person's full name.")
        if len(name) > 200:
            raise ValueError("The name is too long (200 characters at most).")
        mail = (email or "").strip() or None
        if mail is not None and (
            "@" not in mail or " " in mail or mail.startswith("@") or mail.endswith("@")
        ):
            raise ValueError("The e-mail address does not look right.")
        country = (country_code or "").strip().upper() or None
        if country is not None and (len(country) != 2 or not country.isalpha()):
            raise ValueError("The country must be a two-letter code such as LR or RW.")
        return cls(name, normalize_phone(phone), mail, country)


def search_customers(engine: Engine, text: str = "", *, limit: int = 50) -> list[Customer]:
    """Saved people whose name or phone contains `text` (all of them, newest first, when empty)."""
    with Session(engine) as db:
        query = select(Customer).order_by(col(Customer.updated_at).desc()).limit(limit)
        if text.strip():
            like = f"%{text.strip().lower()}%"
            digits = "".join(ch for ch in text if ch.isdigit())
            clauses = [func.lower(Customer.fullname).like(like)]
            if digits:
                clauses.append(col(Customer.phone).like(f"%{digits}%"))
            query = query.where(or_(*clauses))
        return list(db.exec(query).all())


def ensure_party(engine: Engine, client: DollrClient, person: Person) -> Customer:
    """The Dollr party for this name and phone: ours if we made it, Dollr's if it exists, else new."""
    with Session(engine) as db:
        found = db.exec(
            select(Customer).where(Customer.phone == person.phone, Customer.fullname == person.fullname)
        ).first()
        if found is not None:
            return found
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
    return _store(
        engine,
        Customer(
            dollr_party_id=party.id,
            fullname=person.fullname,
            phone=person.phone,
            email=person.email,
            country_code=person.country_code,
        ),
        lookup=select(Customer).where(Customer.dollr_party_id == party.id),
    )


def ensure_counterparty(
    engine: Engine, client: DollrClient, dollr_party_id: int, relationship: RelationshipType
) -> Relationship:
    """One counterparty per party and relationship type, reused for every later document."""
    lookup = select(Relationship).where(
        Relationship.dollr_party_id == dollr_party_id, Relationship.relationship_type == relationship
    )
    with Session(engine) as db:
        found = db.exec(lookup).first()
        if found is not None:
            return found
    counterparty = client.counterparties.create(
        CounterpartyCreate(relationship_type=relationship, party_id=dollr_party_id)
    )
    return _store(
        engine,
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
    lookup = select(AccountRecord).where(
        AccountRecord.dollr_party_id == customer.dollr_party_id,
        AccountRecord.operation_type == operation,
        AccountRecord.method == method,
        AccountRecord.account_number == number,
        col(AccountRecord.is_active).is_(True),
    )
    with Session(engine) as db:
        found = db.exec(lookup).first()
        if found is not None:
            return found
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
        engine,
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
    with Session(engine) as db:
        relationship = db.exec(
            select(Relationship).where(Relationship.dollr_counterparty_id == dollr_counterparty_id)
        ).first()
        if relationship is None:
            return None
        return db.exec(select(Customer).where(Customer.dollr_party_id == relationship.dollr_party_id)).first()


def deactivate_account(engine: Engine, dollr_account_id: int) -> None:
    """Dollr refused the account as inactive: never offer it again."""
    with Session(engine) as db:
        row = db.exec(select(AccountRecord).where(AccountRecord.dollr_account_id == dollr_account_id)).first()
        if row is not None:
            row.is_active = False
            db.add(row)
            db.commit()


_Row = TypeVar("_Row", Customer, Relationship, AccountRecord)


def _store(engine: Engine, row: _Row, *, lookup: Any) -> _Row:
    """Insert, or return the row a concurrent worker stored first (the unique key decides)."""
    with Session(engine) as db:
        db.add(row)
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            winner: _Row | None = db.exec(lookup).first()
            if winner is None:
                raise
            return winner
        db.refresh(row)
        return row
