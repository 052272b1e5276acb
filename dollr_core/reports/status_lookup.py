"""Where a payment stands: by its reference, or by the invoice or order it pays.

Two answers are kept apart on purpose (contract §5). The *execution* status belongs to one
payment attempt (keyed by its reference_id: PENDING → PROCESSING → COMPLETED | FAILED); the
*document* status belongs to the invoice or order (IDLE → ACTIVE → PROCESSING → PAID, or
CANCELED). A PROCESSING payment does not mean the invoice failed, and an ACTIVE invoice may have
had a failed payment. Every lookup here asks Dollr, so callers run it on a person's click only.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError, NotFoundError
from dollr_core.api.models import Execution, SourceStatusResult
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import ExecutionStatus, OperationType, SourceStatus, SourceType
from dollr_core.basics.words import SHORT_REFERENCE
from dollr_core.errors import InputRefused
from dollr_core.explain import attempt_outcome, failure_reason
from dollr_core.flows import documents
from dollr_core.ledger import mirror
from dollr_core.ledger.intents import find_attempt
from dollr_core.ledger.tables import Attempt, AttemptState, DocumentRecord
from dollr_core.payments.follow_up import refresh_payment
from dollr_core.reports import history
from dollr_core.services import Services

#: What each execution status means to the person asking (payouts and the rest have no payer).
_EXECUTION_MEANINGS = {
    ExecutionStatus.PENDING: "Dollr has received it and is handing it to the operator. Waiting is safe:"
    " do not send it again.",
    ExecutionStatus.COMPLETED: "Completed: the money has moved.",
    ExecutionStatus.FAILED: "Failed: no money moved.",
}
_PROCESSING_COLLECTION = (
    "Processing: the payer's operator is still working on it, and the payer may need to approve it on"
    " their phone. This can take a few minutes. Waiting is safe: do not send it again."
)
_PROCESSING_OTHER = (
    "Processing: the operator is still working on it. This can take a few minutes."
    " Waiting is safe: do not send it again."
)

_DOCUMENT_MEANINGS = {
    SourceStatus.IDLE: "Draft: not published yet, so it cannot be paid.",
    SourceStatus.ACTIVE: "Published and waiting to be paid (a failed payment leaves it waiting here).",
    SourceStatus.PROCESSING: "A payment for it is in progress; its outcome decides whether it becomes paid.",
    SourceStatus.PAID: "Paid in full.",
    SourceStatus.CANCELED: "Cancelled: it can no longer be paid.",
}


def execution_meaning(status: str | None, operation: str | None = None) -> str:
    """One plain sentence on an execution status (Dollr's word)."""
    if status == ExecutionStatus.PROCESSING:
        return _PROCESSING_COLLECTION if operation == OperationType.COLLECTION else _PROCESSING_OTHER
    try:
        return _EXECUTION_MEANINGS[ExecutionStatus(str(status))]
    except (KeyError, ValueError):
        return "Dollr reported a status this console does not know; ask an admin before acting on it."


def document_meaning(status: str | None) -> str:
    try:
        return _DOCUMENT_MEANINGS[SourceStatus(str(status))]
    except (KeyError, ValueError):
        return "Dollr reported a status this console does not know."


@dataclass(frozen=True)
class PaymentStatus:
    """The execution side: one payment attempt as Dollr (or, before Dollr saw it, our ledger) knows it."""

    reference_id: str
    operation_type: str | None
    #: Dollr's execution status; None when Dollr never received the payment.
    status: str | None
    meaning: str
    payer_amount: Decimal | None = None
    payer_currency: str | None = None
    payee_amount: Decimal | None = None
    payee_currency: str | None = None
    provider_transaction_id: str | None = None
    #: Why it failed, in plain words (failed payments only).
    reason: str | None = None


@dataclass(frozen=True)
class DocumentStatus:
    """The document side: the invoice's or order's own status."""

    source_type: str
    source_id: int
    number: str | None
    status: str
    meaning: str
    currency: str | None = None
    total_amount: Decimal | None = None
    paid_at: datetime | None = None
    customer_name: str = ""
    #: False when Dollr could not be asked just now and the status is our last known copy.
    fresh: bool = True

    @property
    def label(self) -> str:
        """'Invoice' or 'Order', for headings."""
        return "Order" if self.source_type == SourceType.ORDER else "Invoice"


@dataclass(frozen=True)
class ReferenceLookup:
    reference_id: str
    payment: PaymentStatus | None  # None: neither our ledger nor Dollr knows this reference
    attempt: Attempt | None = None  # our ledger's record, when this console sent it
    document: DocumentStatus | None = None  # the invoice/order it paid (collections only)

    @property
    def found(self) -> bool:
        return self.payment is not None


@dataclass(frozen=True)
class DocumentLookup:
    query: str
    document: DocumentStatus | None  # None: no such invoice or order
    #: Payments this console sent for it, newest first (hosted-page payments are not among them).
    attempts: list[Attempt] = field(default_factory=list)
    latest: PaymentStatus | None = None  # the newest of them, brought up to date

    @property
    def found(self) -> bool:
        return self.document is not None


def parse_reference(text: str) -> str | None:
    """The canonical reference when `text` is a payment reference (a UUID), else None."""
    try:
        return str(uuid.UUID(text.strip()))
    except (ValueError, AttributeError):
        return None


@dataclass(frozen=True)
class PaymentSearch:
    """Payments in the ledger found by a name, phone digits, amount or document number."""

    query: str
    matches: list[history.HistoryRow]
    #: True when the person may see only the payments they sent or collected themselves.
    own_only: bool

    @property
    def found(self) -> bool:
        return bool(self.matches)


_DOCUMENT_NUMBER = re.compile(r"^(inv|ord)-", re.IGNORECASE)
#: A reference as screens show it: its first characters (`words.short_reference`).
_SHORT_REFERENCE = re.compile(rf"^[0-9a-f]{{{SHORT_REFERENCE}}}$", re.IGNORECASE)


def look_up(svc: Services, actor: Actor, text: str) -> ReferenceLookup | DocumentLookup | PaymentSearch:
    """Whatever `text` is: a payment reference, an invoice/order number or id, or else a name,
    phone number (or its last digits) or amount to find in the ledger."""
    require(actor, Permission.LOOK_UP_STATUS)
    query = text.strip()
    if not query:
        raise InputRefused(
            "Enter a payment reference, an invoice or order number, a name, a phone or an amount."
        )
    if parse_reference(query) is not None:
        return lookup_reference(svc, actor, query)
    if _SHORT_REFERENCE.match(query):
        found = search_payments(svc, actor, query)
        starting = [r for r in found.matches if r.reference_id.lower().startswith(query.lower())]
        if len(starting) == 1:  # the short reference a screen showed: that one payment
            return lookup_reference(svc, actor, starting[0].reference_id)
    if _DOCUMENT_NUMBER.match(query):
        return lookup_document(svc, actor, query)
    if query.isascii() and query.isdigit() and len(query) <= 9:  # a document id, or an amount or digits
        document = lookup_document(svc, actor, query)
        if document.found:
            return document
    return search_payments(svc, actor, query)


def search_payments(svc: Services, actor: Actor, text: str, *, limit: int = 20) -> PaymentSearch:
    """The newest payments matching `text`. Whoever may not browse the history sees only their own."""
    require(actor, Permission.LOOK_UP_STATUS)
    own_only = not actor.can(Permission.VIEW_HISTORY)
    flt = history.HistoryFilter(text=text, operators=(actor.email,) if own_only else ())
    return PaymentSearch(text.strip(), history.query_newest(svc.engine, flt, limit), own_only)


def my_payments(svc: Services, actor: Actor, page: int = 1, size: int = 25) -> history.HistoryPage:
    """What this person sent or collected, newest first: every signed-in person has their own."""
    return history.query_page(svc.engine, history.HistoryFilter(operators=(actor.email,)), page, size)


def lookup_reference(svc: Services, actor: Actor, text: str) -> ReferenceLookup:
    """From our ledger when this console sent it (brought up to date), else from Dollr, asking each
    operation type in turn: a reference is unique across all four."""
    require(actor, Permission.LOOK_UP_STATUS)
    reference = parse_reference(text)
    if reference is None:
        raise InputRefused("A payment reference looks like 550e8400-e29b-41d4-a716-446655440000.")
    attempt = find_attempt(svc.engine, reference)
    if attempt is not None:
        if not AttemptState(attempt.local_state).is_final:
            attempt = refresh_payment(svc, reference, actor=actor.email, force=True)
        document = None
        if attempt.source_type and attempt.source_id is not None:
            document = _document_status(svc, attempt.source_type, attempt.source_id)
        return ReferenceLookup(reference, payment_of(attempt), attempt, document)
    if uuid.UUID(reference).version != 4:
        return ReferenceLookup(reference, None)  # Dollr only accepts UUID v4 references
    for operation in OperationType:
        try:
            execution = svc.client.status.execution(operation, reference)
        except NotFoundError:
            continue
        return ReferenceLookup(reference, _from_execution(execution, operation))
    return ReferenceLookup(reference, None)


def lookup_document(svc: Services, actor: Actor, text: str) -> DocumentLookup:
    """The invoice or order (by number or id) with Dollr's status, and the payments we sent for it."""
    require(actor, Permission.LOOK_UP_STATUS)
    query = text.strip()
    record = documents.find_document(svc, actor, query)
    if record is None:
        return DocumentLookup(query, None)
    document = _document_status(svc, record.source_type, record.dollr_id, record)
    attempts = _attempts_for(svc, record)
    latest = None
    if attempts:
        newest = attempts[0]
        if not AttemptState(newest.local_state).is_final:
            attempts[0] = newest = refresh_payment(svc, newest.reference_id, actor=actor.email, force=True)
        latest = payment_of(newest)
    return DocumentLookup(query, document, attempts, latest)


def payment_of(attempt: Attempt) -> PaymentStatus:
    """What our ledger knows about one payment it sent."""
    status = attempt.remote_status
    state = AttemptState(attempt.local_state)
    if status is not None:
        meaning = execution_meaning(status, attempt.operation_type)
    else:  # Dollr has not (or not yet, as far as we know) received it
        said = attempt_outcome(attempt)
        meaning = f"{said.headline} {said.advice}"
    failed = state in (AttemptState.FAILED, AttemptState.REFUSED)
    return PaymentStatus(
        reference_id=attempt.reference_id,
        operation_type=attempt.operation_type,
        status=status,
        meaning=meaning,
        payer_amount=attempt.payer_amount or attempt.predicted_payer_amount,
        payer_currency=attempt.settled_payer_currency or attempt.payer_currency or attempt.currency,
        payee_amount=attempt.payee_amount or attempt.predicted_payee_amount,
        payee_currency=attempt.payee_currency or attempt.currency,
        provider_transaction_id=attempt.provider_transaction_id,
        reason=failure_reason(attempt) if failed else None,
    )


# --------------------------------------------------------------------------- helpers


def _from_execution(execution: Execution, operation: OperationType) -> PaymentStatus:
    status = str(execution.status) if execution.status is not None else None
    op = str(execution.operation_type or operation)
    reason = None
    if status == ExecutionStatus.FAILED:
        reason = execution.wallet_message or execution.gateway_message or "Dollr gave no reason"
    return PaymentStatus(
        reference_id=execution.reference_id,
        operation_type=op,
        status=status,
        meaning=execution_meaning(status, op),
        payer_amount=execution.payer_amount,
        payer_currency=execution.payer_currency,
        payee_amount=execution.payee_amount,
        payee_currency=execution.payee_currency,
        provider_transaction_id=execution.provider_transaction_id,
        reason=reason,
    )


def _document_status(
    svc: Services, source_type: str, source_id: int, record: DocumentRecord | None = None
) -> DocumentStatus:
    """Dollr's word on the document (ST5), kept in our mirror; our last copy if Dollr can't answer."""
    if record is None:
        with Session(svc.engine) as db:
            record = db.exec(
                select(DocumentRecord).where(
                    DocumentRecord.source_type == source_type, DocumentRecord.dollr_id == source_id
                )
            ).first()
    try:
        answer: SourceStatusResult | None = svc.client.status.source(SourceType(source_type), source_id)
    except DollrError:
        answer = None
    if answer is not None:
        mirror.set_status(svc.engine, source_type, source_id, str(answer.status), answer.paid_at)
        status = str(answer.status)
        return DocumentStatus(
            source_type=source_type,
            source_id=source_id,
            number=answer.source_number or (record.number if record else None),
            status=status,
            meaning=document_meaning(status),
            currency=answer.currency or (record.currency if record else None),
            total_amount=answer.total_amount if answer.total_amount is not None else _total(record),
            paid_at=answer.paid_at or (record.paid_at if record else None),
            customer_name=record.customer_name if record else "",
        )
    status = record.status if record else "unknown"
    return DocumentStatus(
        source_type=source_type,
        source_id=source_id,
        number=record.number if record else None,
        status=status,
        meaning=document_meaning(status),
        currency=record.currency if record else None,
        total_amount=_total(record),
        paid_at=record.paid_at if record else None,
        customer_name=record.customer_name if record else "",
        fresh=False,
    )


def _total(record: DocumentRecord | None) -> Decimal | None:
    return record.total_amount if record is not None else None


def _attempts_for(svc: Services, record: DocumentRecord) -> list[Attempt]:
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Attempt)
                .where(Attempt.source_type == record.source_type, Attempt.source_id == record.dollr_id)
                .order_by(col(Attempt.id).desc())
            ).all()
        )
