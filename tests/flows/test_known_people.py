"""`directory.known_customer` and `payee_records` read a person's records in one statement each: the
party by name and phone, its counterparty of the kind asked, and for a payee its active account
for the method and number. Each part that is missing makes the payee None, so `ensure_payee` finds
or makes it at Dollr (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from dollr_core.basics.enums import OperationType, PaymentMethod, RelationshipType
from dollr_core.flows.directory import Person, known_customer, payee_records
from dollr_core.ledger import open_ledger
from dollr_core.ledger.tables import AccountRecord, Customer, Relationship

AMARA = Person.checked("Amara Kamara", "231771230001", None, "LR")
WALLET = "231880001111"


@pytest.fixture
def engine(ledger_url: str) -> Engine:
    """Amara's party (501), her customer counterparty (601) and her wallet for payouts (701); a
    second person on the same phone (502) who is only a supplier (602), with no account."""
    made = open_ledger(ledger_url)
    with Session(made) as db:
        db.add(Customer(dollr_party_id=501, fullname=AMARA.fullname, phone=AMARA.phone))
        db.add(Relationship(dollr_counterparty_id=601, dollr_party_id=501, relationship_type="CUSTOMER"))
        db.add(
            AccountRecord(
                dollr_account_id=701,
                dollr_party_id=501,
                operation_type="PAYOUT",
                method="MTN_MOMO_LBR",
                provider="MTN",
                account_number=WALLET,
            )
        )
        db.add(Customer(dollr_party_id=502, fullname="Musa Kollie", phone=AMARA.phone))
        db.add(Relationship(dollr_counterparty_id=602, dollr_party_id=502, relationship_type="SUPPLIER"))
        db.commit()
    return made


def _payee(engine: Engine, person: Person = AMARA, **changes: object) -> tuple[int, int] | None:
    asked: dict[str, object] = {
        "relationship": RelationshipType.CUSTOMER,
        "operation": OperationType.PAYOUT,
        "method": PaymentMethod.MTN_MOMO_LBR,
        "number": WALLET,
    } | changes
    found = payee_records(engine, person, **asked).payee  # type: ignore[arg-type]
    return None if found is None else (found.customer.dollr_party_id, found.account.dollr_account_id)


def test_a_known_customer_comes_with_the_counterparty_of_the_kind_asked(engine: Engine) -> None:
    known = known_customer(engine, AMARA, RelationshipType.CUSTOMER)
    assert known is not None
    assert (known.customer.dollr_party_id, known.relationship.dollr_counterparty_id) == (501, 601)
    assert known_customer(engine, AMARA, RelationshipType.SUPPLIER) is None  # not hers: made at Dollr


def test_the_same_phone_under_another_name_is_another_person(engine: Engine) -> None:
    musa = Person.checked("Musa Kollie", AMARA.phone, None, "LR")
    known = known_customer(engine, musa, RelationshipType.SUPPLIER)
    assert known is not None and known.relationship.dollr_counterparty_id == 602
    assert known_customer(engine, musa, RelationshipType.CUSTOMER) is None
    assert _payee(engine, musa, relationship=RelationshipType.SUPPLIER) is None  # no account yet


def test_a_known_payee_needs_all_three_records(engine: Engine) -> None:
    assert _payee(engine) == (501, 701)
    assert _payee(engine, relationship=RelationshipType.SUPPLIER) is None
    assert _payee(engine, number="231880009999") is None
    assert _payee(engine, method=PaymentMethod.ORANGE_MONEY_LBR) is None
    assert _payee(engine, operation=OperationType.COLLECTION) is None


def test_an_account_dollr_refused_as_inactive_is_not_offered_again(engine: Engine) -> None:
    with Session(engine) as db:
        account = db.exec(select(AccountRecord).where(AccountRecord.dollr_account_id == 701)).one()
        account.is_active = False
        db.add(account)
        db.commit()
    assert _payee(engine) is None
