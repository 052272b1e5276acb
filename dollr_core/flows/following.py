"""Documents paid on Dollr's own page: followed until PAID, CANCELED or expired, then booked.

A customer who pays through a payment link or a hosted checkout leaves no execution in the
ledger: nothing the console sent. The reconciler therefore asks Dollr about every published
document that no console payment is following (ST5, one call), backing off from seconds to an
hour because a link can wait for days, and never asking again once the document is final. When
Dollr says PAID, `book_document_payment` turns the receipt into a completed collection in the
ledger, so it shows in History, totals, the Dashboard, balances, receipts, statements and exports
like any payment the console made.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, and_, exists, or_
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError
from dollr_core.api.models import Receipt
from dollr_core.basics.access import RECONCILER
from dollr_core.basics.enums import ExecutionStatus, OperationType, SourceStatus, SourceType
from dollr_core.flows import documents
from dollr_core.ledger import mirror
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import (
    OPEN_ATTEMPT_STATES,
    Attempt,
    AttemptState,
    DocumentRecord,
    Intent,
    IntentKind,
    IntentState,
    LedgerEvent,
    PaymentDetail,
    PaymentOrigin,
)
from dollr_core.services import Services

log = logging.getLogger("dollr_core.flows.following")

#: Published documents that may still be paid.
FOLLOWED = (SourceStatus.ACTIVE.value, SourceStatus.PROCESSING.value)
#: Who "started" a payment nobody in the console made.
OUTSIDE_OPERATOR = "outside the console"
#: A checkout is looked at once more this long after it expired (a payment may settle late).
EXPIRY_GRACE = timedelta(minutes=30)
#: FX rates are kept to the ledger's four places.
_FX_PLACES = Decimal("0.0001")


def next_check_delay(check_count: int, *, paying: bool = False) -> timedelta:
    """15 s at first, backing off to an hour; 5 s while Dollr says a payment is in flight."""
    if paying:
        return timedelta(seconds=min(5.0 * (1.5**check_count), 60.0))
    return timedelta(seconds=min(15.0 * (1.6**check_count), 3600.0))


def _collection_of_the_document(states: tuple[str, ...]) -> Any:
    return exists().where(
        col(Attempt.operation_type) == OperationType.COLLECTION.value,
        col(Attempt.source_type) == col(DocumentRecord.source_type),
        col(Attempt.source_id) == col(DocumentRecord.dollr_id),
        col(Attempt.local_state).in_(states),
    )


def _worth_a_look() -> Any:
    """Published and not final, with no console payment following it (its polling does); or PAID
    (another page saw it first) with no completed collection in the ledger yet: book it."""
    return or_(
        and_(
            col(DocumentRecord.status).in_(FOLLOWED),
            ~_collection_of_the_document(OPEN_ATTEMPT_STATES),
        ),
        and_(
            col(DocumentRecord.status) == SourceStatus.PAID.value,
            ~_collection_of_the_document((AttemptState.COMPLETED.value,)),
        ),
    )


def claim_due_documents(
    engine: Engine, *, limit: int = 50, now: datetime | None = None
) -> list[DocumentRecord]:
    """Take up to `limit` documents due for a look; their next look is booked at once (the lease)."""
    moment = now or utcnow()
    with Session(engine) as db:
        rows = list(
            db.exec(
                select(DocumentRecord)
                .where(
                    _worth_a_look(),
                    or_(
                        col(DocumentRecord.next_check_at).is_(None),
                        col(DocumentRecord.next_check_at) <= moment,
                    ),
                    or_(
                        col(DocumentRecord.expires_at).is_(None),
                        col(DocumentRecord.expires_at) > moment - EXPIRY_GRACE,
                    ),
                )
                .order_by(col(DocumentRecord.next_check_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        )
        for row in rows:
            row.next_check_at = moment + next_check_delay(
                row.check_count, paying=row.status == SourceStatus.PROCESSING
            )
            row.check_count += 1
            db.add(row)
        db.commit()
        for row in rows:
            db.refresh(row)
        return rows


def follow_documents(svc: Services, *, limit: int = 50) -> int:
    """One pass: every due document gets one status look. Returns how many were looked at."""
    due = claim_due_documents(svc.engine, limit=limit)
    for record in due:
        try:
            check_document(svc, record)
        except DollrError as exc:  # the next look (already booked) tries again
            log.warning("could not check %s %s: %s", record.source_type, record.number, exc.message)
        except Exception:  # one bad document must not stop the others
            log.exception("following %s %s failed", record.source_type, record.number)
    return len(due)


def check_document(svc: Services, record: DocumentRecord) -> str:
    """Ask Dollr how the document stands; book its payment when it is PAID. Returns the status."""
    if record.status == SourceStatus.PAID:  # known PAID already: only the booking is missing
        book_document_payment(svc, record, origin=_origin(record))
        return record.status
    status = svc.client.status.source(SourceType(record.source_type), record.dollr_id)
    value = str(status.status)
    if value == SourceStatus.PAID:
        book_document_payment(svc, record, origin=_origin(record))
    if value != record.status:
        mirror.set_status(svc.engine, record.source_type, record.dollr_id, value, status.paid_at)
        if value == SourceStatus.PROCESSING:
            _look_again_soon(svc.engine, record)
    return value


def _origin(record: DocumentRecord) -> PaymentOrigin:
    return PaymentOrigin.OUTSIDE if record.made_outside else PaymentOrigin.PAY_LINK


def _look_again_soon(engine: Engine, record: DocumentRecord) -> None:
    """A payment started on Dollr's page: look again within seconds, not the backed-off hour."""
    with Session(engine) as db:
        row = db.get(DocumentRecord, record.id)
        if row is not None:
            row.check_count = 0
            row.next_check_at = utcnow() + next_check_delay(0, paying=True)
            db.add(row)
            db.commit()


def paid_intent_key(record: DocumentRecord) -> str:
    return f"paid:{record.source_type}:{record.dollr_id}"


def book_document_payment(svc: Services, record: DocumentRecord, *, origin: PaymentOrigin) -> Attempt | None:
    """The PAID document's payment as a completed collection in the ledger (exactly once).

    The receipt's reference_id is the payment's key: a payment the console made itself is found
    by it and only gains the receipt's fees; one made on Dollr's page is added with its intent,
    its ledger event and its details in one transaction. Returns None when there was no receipt.
    """
    try:
        receipt = documents.documents_api(svc, record.source_type).receipt(record.dollr_id)
    except DollrError as exc:
        log.warning("no receipt yet for %s: %s", record.number, exc.message)
        return None
    reference = receipt.reference_id or f"{record.source_type}-{record.dollr_id}-paid"
    with Session(svc.engine) as db:
        known = db.exec(select(Attempt).where(Attempt.reference_id == reference)).one_or_none()
    if known is not None:
        _add_receipt_details(svc.engine, known.intent_id, receipt, PaymentOrigin.CONSOLE)
        return known
    payment_intent_id = _payment_intent_of(svc, reference)
    paid_at = receipt.paid_at or record.paid_at or utcnow()
    by_us = origin is PaymentOrigin.PAY_LINK and record.created_by
    operator = record.created_by if by_us else OUTSIDE_OPERATOR
    method = str(receipt.payment_method) if receipt.payment_method else None
    provider = str(receipt.provider) if receipt.provider else None
    amount = receipt.total_amount if receipt.total_amount is not None else record.total_amount
    with Session(svc.engine) as db:
        intent = Intent(
            intent_key=paid_intent_key(record),
            kind=IntentKind.DOCUMENT_COLLECTION,
            operation_type=OperationType.COLLECTION,
            state=IntentState.COMPLETED,
            step="paid on Dollr",
            operator=operator,
            party_name=record.customer_name,
            phone=record.customer_phone,
            dollr_counterparty_id=record.dollr_counterparty_id,
            method=method,
            provider=provider,
            source_type=record.source_type,
            source_id=record.dollr_id,
            source_number=record.number,
            amount=amount,
            currency=record.currency,
            payer_currency=receipt.payer_currency,
            note=record.note,
            created_at=paid_at,
        )
        db.add(intent)
        try:
            db.flush()
        except IntegrityError:  # another reconciler booked it a moment ago
            db.rollback()
            return None
        attempt = Attempt(
            reference_id=reference,
            intent_id=intent.id or 0,
            operation_type=OperationType.COLLECTION,
            step="paid on Dollr",
            local_state=AttemptState.COMPLETED,
            remote_status=ExecutionStatus.COMPLETED.value,
            source_type=record.source_type,
            source_id=record.dollr_id,
            source_number=record.number,
            party_name=record.customer_name,
            phone=record.customer_phone,
            method=method,
            provider=provider,
            amount=amount,
            currency=record.currency,
            payer_currency=receipt.payer_currency,
            payer_amount=receipt.payer_amount,
            payee_amount=receipt.payee_amount,
            settled_payer_currency=receipt.payer_currency,
            payee_currency=receipt.payee_currency,
            provider_transaction_id=receipt.provider_transaction_id,
            payment_intent_id=payment_intent_id,
            operator=operator,
            created_at=paid_at,
            sent_at=paid_at,
            final_at=paid_at,
        )
        db.add(attempt)
        db.flush()
        intent.current_attempt_id = attempt.id
        db.add(intent)
        db.add(_details(intent.id or 0, receipt, origin))
        db.add(
            LedgerEvent(
                intent_id=intent.id,
                attempt_id=attempt.id,
                actor=RECONCILER.email,
                action="paid_on_dollr",
                to_state=AttemptState.COMPLETED,
                detail=f"{record.number} paid on Dollr ({origin.value})",
            )
        )
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
            return None
        db.refresh(attempt)
        return attempt


def _payment_intent_of(svc: Services, reference: str) -> int | None:
    """The collection's payment intent (what a refund names), from its status; None if unknown."""
    try:
        execution = svc.client.status.execution(OperationType.COLLECTION, reference)
    except DollrError:
        return None
    return execution.payment_intent_id if isinstance(execution.payment_intent_id, int) else None


def _details(intent_id: int, receipt: Receipt, origin: PaymentOrigin) -> PaymentDetail:
    return PaymentDetail(
        intent_id=intent_id,
        origin=origin,
        fee_bearer=str(receipt.fee_bearer) if receipt.fee_bearer else None,
        platform_fee=receipt.platform_fee,
        gateway_fee=receipt.gateway_fee,
        fx_fee=receipt.fx_fee,
        fee_currency=receipt.fee_currency or receipt.currency,
        fx_rate=receipt.fx_rate.quantize(_FX_PLACES) if receipt.fx_rate is not None else None,
        fx_currency_from=receipt.fx_currency_from,
        fx_currency_to=receipt.fx_currency_to,
        paid_at=receipt.paid_at,
    )


def _add_receipt_details(engine: Engine, intent_id: int, receipt: Receipt, origin: PaymentOrigin) -> None:
    with Session(engine) as db:
        if db.exec(select(PaymentDetail).where(PaymentDetail.intent_id == intent_id)).first() is not None:
            return
        db.add(_details(intent_id, receipt, origin))
        try:
            db.commit()
        except IntegrityError:
            db.rollback()
