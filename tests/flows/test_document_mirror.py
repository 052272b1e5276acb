"""The ledger's mirror of a document: one statement that inserts or updates it, keeping what a
later answer from Dollr leaves out (a list has no customer, a publish no note)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select

from dollr_core.api.models import CounterpartyDetail, Document, DocumentDetail, Party
from dollr_core.flows.documents import mirror
from dollr_core.ledger.db import open_ledger
from dollr_core.ledger.tables import Customer, DocumentRecord
from tests.support.sql import statements


@pytest.fixture
def engine(ledger_url: str) -> Iterator[Engine]:
    engine = open_ledger(ledger_url)
    yield engine
    engine.dispose()


def _created(**changes: object) -> Document:
    fields: dict[str, object] = {
        "id": 41,
        "invoice_number": "INV-2026-00041",
        "source_type": "INVOICE",
        "status": "IDLE",
        "currency": "USD",
        "note": "Consulting, November",
        "fee_bearer": "PAYEE",
        "as_payment_link": True,
        "counterparty_id": 7,
        "reference_id": "draft-41",
        "total_amount": "0",
    }
    return Document.model_validate(fields | changes)


def _stored(engine: Engine) -> list[DocumentRecord]:
    with Session(engine) as db:
        return list(db.exec(select(DocumentRecord)).all())


def test_a_new_document_is_stored_as_dollr_answered_with_our_customer(engine: Engine) -> None:
    buyer = Customer(dollr_party_id=3, fullname="Amara Kamara", phone="231771231234")
    with statements(engine) as seen:
        row = mirror(engine, _created(), customer=buyer, created_by="fred@example.com")
    assert len(seen) == 1 and seen[0].startswith("INSERT INTO document")  # no read before, none after
    [stored] = _stored(engine)
    for record in (row, stored):
        assert (record.id, record.dollr_id, record.number, record.status) == (
            stored.id,
            41,
            "INV-2026-00041",
            "IDLE",
        )
        assert (record.fee_bearer, record.note) == ("PAYEE", "Consulting, November")
        assert record.reference == "draft-41"
        assert (record.customer_name, record.customer_phone, record.created_by) == (
            "Amara Kamara",
            "231771231234",
            "fred@example.com",
        )
        assert record.dollr_counterparty_id == 7 and record.as_payment_link is True
        assert record.total_amount == Decimal("0") and isinstance(record.total_amount, Decimal)
        assert record.created_at.tzinfo is not None and record.paid_at is None


def test_a_later_answer_updates_what_it_says_and_keeps_what_it_leaves_out(engine: Engine) -> None:
    buyer = Customer(dollr_party_id=3, fullname="Amara Kamara", phone="231771231234")
    first = mirror(engine, _created(), customer=buyer, created_by="fred@example.com")
    paid_at = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
    # A list entry: no note, no fee bearer, no counterparty, no reference, no customer.
    later = _created(
        status="PAID",
        note=None,
        fee_bearer=None,
        counterparty_id=None,
        reference_id=None,
        total_amount="275.00",
        paid_at=paid_at,
        as_payment_link=None,
    )
    row = mirror(engine, later)
    [stored] = _stored(engine)
    for record in (row, stored):
        assert record.id == first.id
        assert (record.status, record.total_amount, record.paid_at) == ("PAID", Decimal("275.00"), paid_at)
        assert (record.note, record.fee_bearer) == ("Consulting, November", "PAYEE")
        assert record.reference == "draft-41"
        assert (record.customer_name, record.created_by, record.dollr_counterparty_id) == (
            "Amara Kamara",
            "fred@example.com",
            7,
        )
        assert record.as_payment_link is False  # said as nothing: Dollr's answer is the truth
        assert record.created_at == first.created_at and record.updated_at >= first.updated_at


def test_a_detail_names_the_customer_and_a_list_entry_gets_defaults(engine: Engine) -> None:
    listed = mirror(engine, _created(id=52, note=None, fee_bearer=None, invoice_number="INV-52"))
    assert (listed.note, listed.fee_bearer, listed.customer_name, listed.created_by) == ("", "PAYER", "", "")
    detail = DocumentDetail.model_validate(
        _created(id=52, invoice_number="INV-52").model_dump()
        | {
            "counterparty": CounterpartyDetail(
                id=7, party=Party(id=3, fullname="Jean-Paul Habimana", phone="250788123456")
            )
        }
    )
    row = mirror(engine, detail)
    assert (row.customer_name, row.customer_phone, row.note) == (
        "Jean-Paul Habimana",
        "250788123456",
        "Consulting, November",
    )
    assert len(_stored(engine)) == 1
