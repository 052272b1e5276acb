"""Invoices and orders: drafted, itemised, published, cancelled, found again, paid.

Dollr is the source of truth; `DocumentRecord` is our mirror of it, refreshed after every change
we make and every status we read, so lists and searches cost no call to Dollr.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from functools import cache
from typing import Any

from sqlalchemy import Engine, bindparam, func, or_
from sqlmodel import Session, col, select

from dollr_core.api.errors import NotFoundError
from dollr_core.api.models import (
    CheckoutSource,
    Document,
    DocumentDetail,
    InvoiceCreate,
    ItemCreate,
    ItemUpdate,
    OrderCreate,
    Receipt,
)
from dollr_core.api.resources import Documents as DocumentsAPI
from dollr_core.basics.access import Actor, Permission, require, require_any
from dollr_core.basics.enums import FeeBearer, RelationshipType, SourceStatus, SourceType
from dollr_core.basics.money import check_currency, money_text, parse_amount
from dollr_core.basics.validation import NOTE_LENGTH, check_text, printable
from dollr_core.errors import ChangedMeanwhile, InputRefused
from dollr_core.flows.directory import (
    KnownCustomer,
    Person,
    ensure_counterparty,
    ensure_party,
    known_customer,
)
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.statements import dialect_insert
from dollr_core.ledger.tables import Customer, DocumentRecord
from dollr_core.services import Services


@dataclass(frozen=True)
class LineItem:
    name: str
    qty: int
    unit_amount: Decimal

    @classmethod
    def checked(cls, name: str, qty: int | str, unit_amount: str | Decimal, currency: str) -> LineItem:
        label = " ".join(str(name).split())
        if not label:
            raise InputRefused("Give the item a name.")
        check_text(label, "item name", max_length=200)
        try:
            count = int(qty)
        except (TypeError, ValueError):
            raise InputRefused("The quantity must be a whole number.") from None
        if count < 1:
            raise InputRefused("The quantity must be at least 1.")
        return cls(label, count, parse_amount(unit_amount, currency))


def documents_api(svc: Services, source_type: SourceType | str) -> DocumentsAPI:
    return svc.client.invoices if SourceType(source_type) is SourceType.INVOICE else svc.client.orders


def create_document(
    svc: Services,
    actor: Actor,
    *,
    draft_key: str,
    source_type: SourceType,
    customer: Person,
    currency: str,
    note: str,
    fee_bearer: FeeBearer,
    as_payment_link: bool = True,
    due_date: datetime | None = None,
    recovering: bool = True,
    records: KnownCustomer | None = None,
) -> DocumentRecord:
    """A draft for the customer. The same draft key never creates a second document.

    The key travels to Dollr as the document's own reference, so even a crash between Dollr's
    answer and our write is recovered by finding the document there. `records`: the customer's
    party and counterparty as the caller found or made them (`customer_records`).
    """
    require(actor, Permission.MANAGE_INVOICES)
    check_currency(currency)
    check_text(note.strip(), "note", max_length=NOTE_LENGTH, multiline=True)
    # Only a run that may have been cut off after Dollr's create can find a document under its
    # key (ours or Dollr's); one whose intent was opened just now has made nothing yet.
    existing = find_by_reference(svc, source_type, draft_key) if recovering else None
    if existing is not None:
        return existing
    records = records or customer_records(svc, customer)
    person, relationship = records.customer, records.relationship
    request: InvoiceCreate | OrderCreate
    if source_type is SourceType.INVOICE:
        request = InvoiceCreate(
            counterparty_id=relationship.dollr_counterparty_id,
            currency=currency,
            note=note.strip(),
            fee_bearer=fee_bearer,
            as_payment_link=as_payment_link,
            reference_id=draft_key,
            due_date=due_date,
        )
    else:
        request = OrderCreate(
            counterparty_id=relationship.dollr_counterparty_id,
            currency=currency,
            note=note.strip(),
            fee_bearer=fee_bearer,
            as_payment_link=as_payment_link,
            reference_id=draft_key,
        )
    document = documents_api(svc, source_type).create(request)
    return mirror(svc.engine, document, customer=person, created_by=actor.email)


def customer_records(svc: Services, customer: Person) -> KnownCustomer:
    """The customer's party and counterparty: the ledger's (both in one read), or made at Dollr."""
    known = known_customer(svc.engine, customer, RelationshipType.CUSTOMER)
    if known is not None:
        return known
    person = ensure_party(svc.engine, svc.client, customer)
    relationship = ensure_counterparty(
        svc.engine, svc.client, person.dollr_party_id, RelationshipType.CUSTOMER
    )
    return KnownCustomer(person, relationship)


def find_by_reference(
    svc: Services,
    source_type: SourceType,
    reference: str,
    *,
    ask_dollr: bool = True,
    statuses: Iterable[SourceStatus] = (SourceStatus.IDLE,),
) -> DocumentRecord | None:
    with Session(svc.engine) as db:
        mine = db.exec(_BY_REFERENCE, params={"type": source_type, "reference": reference}).first()
    if mine is not None or not ask_dollr:
        return mine
    for status in statuses:
        for document in documents_api(svc, source_type).list(status=status):
            if document.reference_id == reference:
                return mirror(svc.engine, document)
    return None


def mirror_checkout(
    engine: Engine, created: CheckoutSource, note: str, customer: Customer, created_by: str
) -> DocumentRecord:
    """Mirror a document made by the checkout shortcut from K1's own answer (no read back)."""
    assert created.source_number is not None
    document = Document(
        id=created.source_id,
        number=created.source_number,
        source_type=created.source_type,
        status=created.source_status or SourceStatus.ACTIVE,
        currency=created.currency or "",
        note=note,
        fee_bearer=FeeBearer.PAYER,  # checkout sources are payer-pays (contract §3.5)
        as_payment_link=True,
        counterparty_id=created.counterparty_id,
        reference_id=created.reference_id,
        total_amount=created.total_amount,
    )
    return mirror(engine, document, customer=customer, created_by=created_by)


def mirror(
    engine: Engine,
    document: Document,
    *,
    customer: Customer | None = None,
    created_by: str | None = None,
    audited: tuple[Actor, str] | None = None,
) -> DocumentRecord:
    """Store what Dollr says about the document (insert or update), in one statement.

    What Dollr's answer leaves out (a detail's customer, a list's note) keeps what the mirror
    had; `customer` and `created_by` are ours and, when given, always win. `audited`: who did
    what to the document (published, canceled), recorded in the same transaction.
    """
    now = utcnow()
    party = (
        document.counterparty.party
        if isinstance(document, DocumentDetail) and document.counterparty is not None
        else None
    )
    named = customer or party
    always: dict[str, Any] = {
        "status": str(document.status),
        "currency": document.currency,
        "as_payment_link": bool(document.as_payment_link),
        "updated_at": now,
    }
    if_said: dict[str, Any] = {
        "number": document.number or None,
        "total_amount": document.total_amount,
        "fee_bearer": str(document.fee_bearer) if document.fee_bearer else None,
        "note": document.note,
        "dollr_counterparty_id": document.counterparty_id or None,
        "reference": document.reference_id or None,
        "paid_at": document.paid_at,
        "customer_name": named.fullname if named is not None else None,
        "customer_phone": named.phone if named is not None else None,
        "created_by": created_by,
    }
    said = {name: value for name, value in if_said.items() if value is not None}
    values = (
        if_said
        | _FIRST
        | said
        | always
        | {"source_type": str(document.source_type), "dollr_id": document.id, "created_at": now}
    )
    with Session(engine, expire_on_commit=False) as db:  # the row as written: never read back
        upsert = _upsert(db.get_bind().dialect.name, frozenset(always | said))
        row: DocumentRecord = db.scalars(upsert, values, execution_options={"populate_existing": True}).one()
        if audited is not None:
            _audit(db, *audited, row)
        db.commit()
        return row


#: What a document first seen without them is stored with.
_FIRST: dict[str, Any] = {
    "fee_bearer": str(FeeBearer.PAYER),
    "note": "",
    "customer_name": "",
    "customer_phone": "",
    "created_by": "",
    "made_outside": False,
    "expires_at": None,
    "next_check_at": None,
    "check_count": 0,
}


@cache
def _upsert(dialect: str, updated: frozenset[str]) -> Any:
    """The mirror's INSERT … ON CONFLICT DO UPDATE of the columns `updated`, built once per shape:
    building a statement costs more CPU than SQLite takes to run it."""
    table = DocumentRecord.__table__  # type: ignore[attr-defined]
    columns = [column.key for column in table.columns if column.key != "id"]
    statement = dialect_insert(dialect)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in columns}
    )
    return select(DocumentRecord).from_statement(
        statement.on_conflict_do_update(
            index_elements=["source_type", "dollr_id"],
            set_={name: statement.excluded[name] for name in sorted(updated)},
        ).returning(*table.columns)
    )


# A draft found again by its reference (every sale looks), built once (bound values).
_BY_REFERENCE = select(DocumentRecord).where(
    col(DocumentRecord.source_type) == bindparam("type"),
    col(DocumentRecord.reference) == bindparam("reference"),
)


def detail(svc: Services, actor: Actor, source_type: SourceType | str, dollr_id: int) -> DocumentDetail:
    """The document with its items, fresh from Dollr (the mirror follows)."""
    require_any(actor, Permission.MANAGE_INVOICES, Permission.COLLECT, Permission.VIEW_RECEIPTS)
    document = documents_api(svc, source_type).retrieve(dollr_id)
    mirror(svc.engine, document)
    return document


def find_document(svc: Services, actor: Actor, text: str) -> DocumentRecord | None:
    """By number (INV-…/ORD-…) or by Dollr id, in our mirror first, then on Dollr."""
    require_any(actor, Permission.MANAGE_INVOICES, Permission.LOOK_UP_STATUS, Permission.VIEW_RECEIPTS)
    value = printable(text.strip())  # a NUL would make PostgreSQL fail
    if not value:
        return None
    # An id is ASCII digits a 64-bit column can hold ("²" is a digit to Python, 23 digits overflow).
    dollr_id = int(value) if value.isascii() and value.isdigit() and len(value) <= 18 else None
    with Session(svc.engine) as db:
        query = select(DocumentRecord).where(func.upper(DocumentRecord.number) == value.upper())
        if dollr_id is not None:
            query = select(DocumentRecord).where(
                or_(
                    col(DocumentRecord.dollr_id) == dollr_id,
                    func.upper(DocumentRecord.number) == value.upper(),
                )
            )
        row = db.exec(query.order_by(col(DocumentRecord.id).desc())).first()
    if row is not None:
        return row
    kinds = [SourceType.ORDER] if value.upper().startswith("ORD") else [SourceType.INVOICE, SourceType.ORDER]
    for kind in kinds:
        api = documents_api(svc, kind)
        try:
            found = api.retrieve(dollr_id) if dollr_id is not None else api.retrieve_by_number(value.upper())
        except NotFoundError:
            continue
        return mirror(svc.engine, found)
    return None


def search_documents(
    engine: Engine,
    *,
    text: str = "",
    status: str | None = None,
    source_type: str | None = None,
    limit: int = 200,
) -> list[DocumentRecord]:
    with Session(engine) as db:
        query = select(DocumentRecord)
        if status:
            query = query.where(DocumentRecord.status == status)
        if source_type:
            query = query.where(DocumentRecord.source_type == source_type)
        if text.strip():
            like = f"%{printable(text.strip()).lower()}%"  # a NUL would make PostgreSQL fail
            query = query.where(
                or_(
                    func.lower(DocumentRecord.number).like(like),
                    func.lower(DocumentRecord.customer_name).like(like),
                    col(DocumentRecord.customer_phone).like(like),
                )
            )
        return list(db.exec(query.order_by(col(DocumentRecord.created_at).desc()).limit(limit)).all())


def add_item(svc: Services, actor: Actor, record: DocumentRecord, item: LineItem) -> DocumentDetail:
    require(actor, Permission.MANAGE_INVOICES)
    api = documents_api(svc, record.source_type)
    api.add_item(
        record.dollr_id,
        ItemCreate(name=item.name, currency=record.currency, qty=item.qty, amount=item.unit_amount),
    )
    return detail(svc, actor, record.source_type, record.dollr_id)


def add_items(svc: Services, actor: Actor, record: DocumentRecord, items: Iterable[LineItem]) -> None:
    """Several items at once, without reading the document back after each (publish reads it)."""
    require(actor, Permission.MANAGE_INVOICES)
    api = documents_api(svc, record.source_type)
    for item in items:
        api.add_item(
            record.dollr_id,
            ItemCreate(name=item.name, currency=record.currency, qty=item.qty, amount=item.unit_amount),
        )


def update_item(
    svc: Services, actor: Actor, record: DocumentRecord, item_id: int, item: LineItem
) -> DocumentDetail:
    require(actor, Permission.MANAGE_INVOICES)
    documents_api(svc, record.source_type).update_item(
        record.dollr_id, item_id, ItemUpdate(name=item.name, qty=item.qty, amount=item.unit_amount)
    )
    return detail(svc, actor, record.source_type, record.dollr_id)


def remove_item(svc: Services, actor: Actor, record: DocumentRecord, item_id: int) -> DocumentDetail:
    require(actor, Permission.MANAGE_INVOICES)
    documents_api(svc, record.source_type).remove_item(record.dollr_id, item_id)
    return detail(svc, actor, record.source_type, record.dollr_id)


def publish(
    svc: Services, actor: Actor, record: DocumentRecord, *, itemised_now: bool = False
) -> DocumentRecord:
    """IDLE → ACTIVE: the items lock and the document can be paid. Publishing twice is harmless.

    `itemised_now`: the caller created this draft and added its items a moment ago, so Dollr's
    answers to those calls already said it is IDLE with items, and it is not read back first."""
    require(actor, Permission.MANAGE_INVOICES)
    if not itemised_now:
        current = detail(svc, actor, record.source_type, record.dollr_id)
        if current.status != SourceStatus.IDLE:
            return mirror(svc.engine, current)
        if not current.items:
            raise InputRefused("Add at least one item before publishing.")
    answer = documents_api(svc, record.source_type).publish(record.dollr_id)
    return mirror(svc.engine, answer, audited=(actor, "published"))


def cancel(svc: Services, actor: Actor, record: DocumentRecord) -> DocumentRecord:
    require(actor, Permission.MANAGE_INVOICES)
    current = detail(svc, actor, record.source_type, record.dollr_id)
    if current.status == SourceStatus.PROCESSING:
        raise ChangedMeanwhile(
            "A payment for this document is in progress; wait for its outcome before cancelling."
        )
    if current.status in (SourceStatus.PAID, SourceStatus.CANCELED):
        raise ChangedMeanwhile(f"This document is already {str(current.status).lower()}.")
    answer = documents_api(svc, record.source_type).cancel(record.dollr_id)
    return mirror(svc.engine, answer, audited=(actor, "canceled"))


def _audit(db: Session, actor: Actor, what: str, record: DocumentRecord) -> None:
    audit.add(
        db,
        actor.email,
        f"{record.source_type.lower()}_{what}",
        target=record.number or str(record.dollr_id),
        detail=f"{money_text(record.total_amount, record.currency)} for {record.customer_name}",
    )


def pay_link(svc: Services, actor: Actor, record: DocumentRecord) -> str:
    """The hosted page where the customer pays by mobile money or card (needs a published document)."""
    require_any(actor, Permission.MANAGE_INVOICES, Permission.COLLECT)
    if not record.number:
        raise InputRefused("The document has no number yet.")
    return svc.client.links.pay(SourceType(record.source_type), record.number).url


def receipt(svc: Services, actor: Actor, record: DocumentRecord) -> Receipt:
    require(actor, Permission.VIEW_RECEIPTS)
    return documents_api(svc, record.source_type).receipt(record.dollr_id)


def record_by_id(engine: Engine, record_id: int) -> DocumentRecord | None:
    """The mirrored document by our own row id (what a page keeps while a document is open)."""
    with Session(engine) as db:
        return db.get(DocumentRecord, record_id)


def record_by_number(engine: Engine, number: str) -> DocumentRecord | None:
    """The mirrored document with exactly this number (INV-…/ORD-…); never asks Dollr."""
    value = number.strip().upper()
    if not value:
        return None
    with Session(engine) as db:
        return db.exec(
            select(DocumentRecord)
            .where(func.upper(DocumentRecord.number) == value)
            .order_by(col(DocumentRecord.id).desc())
        ).first()


def lines_total(items: Iterable[LineItem]) -> Decimal:
    """What the items come to (Σ quantity × unit price), before any fee."""
    return sum((item.qty * item.unit_amount for item in items), Decimal(0))
