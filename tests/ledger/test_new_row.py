"""`columns.new_row`: a row object built straight into the instance must be the row that
`model(**values)` builds, column for column, and store the same through the ORM and through
`creating.store`."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, SQLModel

from dollr_core.basics.enums import OperationType, PaymentMethod, Provider, RelationshipType
from dollr_core.flows import creating
from dollr_core.ledger import open_ledger
from dollr_core.ledger.columns import new_row
from dollr_core.ledger.tables import AccountRecord, Customer, Intent, IntentState, Relationship

VALUES: list[tuple[type[SQLModel], dict[str, Any]]] = [
    (Customer, {"dollr_party_id": 7, "fullname": "Musa Kollie", "phone": "231550014321", "email": None}),
    (
        Relationship,
        {"dollr_counterparty_id": 8, "dollr_party_id": 7, "relationship_type": RelationshipType.BENEFICIARY},
    ),
    (
        AccountRecord,
        {
            "dollr_account_id": 9,
            "dollr_party_id": 7,
            "operation_type": OperationType.PAYOUT,
            "method": PaymentMethod.MTN_MOMO_LBR,
            "provider": Provider.PAWAPAY,
            "account_number": "231550014321",
            "is_active": True,
        },
    ),
    (
        Intent,
        {
            "intent_key": "k-1",
            "kind": "PAYOUT",
            "operation_type": "PAYOUT",
            "operator": "olu@example.com",
            "state": IntentState.READY,
            "amount": Decimal("12.5"),
            "currency": "USD",
            "lease_until": datetime(2026, 12, 6, tzinfo=UTC),
        },
    ),
]
PER_ROW = {"id", "created_at", "updated_at"}  # made per row, so they differ between two builds


def _columns(row: SQLModel, leave_out: set[str] = PER_ROW) -> dict[str, Any]:
    table = type(row).__table__  # type: ignore[attr-defined]
    return {c.key: getattr(row, c.key) for c in table.columns if c.key not in leave_out}


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_ledger(ledger_url)
    yield engine
    engine.dispose()


@pytest.mark.parametrize(("model", "values"), VALUES, ids=[m.__name__ for m, _ in VALUES])
def test_a_new_row_is_the_row_the_constructor_builds(model: type[SQLModel], values: dict[str, Any]) -> None:
    built, made = model(**values), new_row(model, **values)
    assert type(made) is model and made.id is None  # type: ignore[attr-defined]
    assert _columns(made) == _columns(built)
    for stamp in {"created_at", "updated_at"} & set(model.model_fields):
        assert getattr(made, stamp).tzinfo is not None  # its own time, made when it was built


@pytest.mark.parametrize(("model", "values"), VALUES, ids=[m.__name__ for m, _ in VALUES])
def test_a_new_row_stores_what_the_constructors_row_stores(
    engine: Engine, model: type[SQLModel], values: dict[str, Any]
) -> None:
    unique = {"dollr_party_id", "dollr_counterparty_id", "dollr_account_id", "intent_key", "account_number"}
    second = {
        k: (f"{v}-2" if isinstance(v, str) else v + 100) if k in unique else v for k, v in values.items()
    }
    with Session(engine, expire_on_commit=False) as db:
        by_orm, by_new_row = model(**values), new_row(model, **second)
        db.add_all([by_orm, by_new_row])
        db.commit()
    with Session(engine) as db:
        stored = [db.get(model, row.id) for row in (by_orm, by_new_row)]  # type: ignore[attr-defined]
    assert stored[0] is not None and stored[1] is not None
    assert _columns(stored[1], PER_ROW | unique) == _columns(stored[0], PER_ROW | unique)


def test_a_new_row_is_stored_by_creating_store(engine: Engine) -> None:
    model, values = VALUES[0]
    stored = creating.store(engine, new_row(model, **values))
    assert stored.id is not None  # type: ignore[attr-defined]
    with Session(engine) as db:
        read = db.get(model, stored.id)  # type: ignore[attr-defined]
    assert read is not None and _columns(read) == _columns(model(**values))
