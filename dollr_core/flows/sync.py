"""Nothing made elsewhere is missing: invoices and orders from Dollr's portal or another integration.

`sync_once` reads Dollr's invoice and order lists and brings every document the ledger does not
know into the mirror, with its items, marked "made outside the console"; a PAID one also gets its
payment booked (from its receipt) like any other. It only reads (list, retrieve, receipt, status):
it never creates anything at Dollr. Running it twice changes nothing the second time.

Part of the reconciler's loop, and `python -m dollr_core sync --once`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlmodel import Session, col, select

from dollr_core.api.models import DocumentDetail
from dollr_core.basics.enums import OperationType, SourceStatus, SourceType
from dollr_core.flows import documents, following
from dollr_core.ledger import mirror
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import Attempt, AttemptState, DocumentItem, DocumentRecord, PaymentOrigin
from dollr_core.services import Services


@dataclass
class SyncResult:
    """What one sync found: documents new to the ledger, status changes, payments booked."""

    listed: int = 0
    added: list[str] = field(default_factory=list)
    updated: int = 0
    payments_booked: int = 0

    def summary(self) -> str:
        return (
            f"{self.listed} document(s) at Dollr, {len(self.added)} new, {self.updated} updated,"
            f" {self.payments_booked} payment(s) booked"
        )


def sync_once(svc: Services) -> SyncResult:
    """One pass over Dollr's invoice and order lists (see the module docstring)."""
    result = SyncResult()
    for kind in (SourceType.INVOICE, SourceType.ORDER):
        api = documents.documents_api(svc, kind)
        for listed in api.list():
            result.listed += 1
            known = _known(svc, kind, listed.id)
            if known is None:
                record = _bring_in(svc, api.retrieve(listed.id))
                result.added.append(record.number or str(record.dollr_id))
            else:
                record = known
                if str(listed.status) != known.status:
                    mirror.set_status(svc.engine, kind, listed.id, str(listed.status), listed.paid_at)
                    record = documents.record_by_id(svc.engine, known.id or 0) or known
                    result.updated += 1
            if record.status == SourceStatus.PAID and not _payment_booked(svc, record):
                origin = PaymentOrigin.OUTSIDE if record.made_outside else PaymentOrigin.PAY_LINK
                if following.book_document_payment(svc, record, origin=origin) is not None:
                    result.payments_booked += 1
    return result


def _known(svc: Services, kind: SourceType, dollr_id: int) -> DocumentRecord | None:
    with Session(svc.engine) as db:
        return db.exec(
            select(DocumentRecord).where(
                DocumentRecord.source_type == kind, DocumentRecord.dollr_id == dollr_id
            )
        ).first()


def _bring_in(svc: Services, detail: DocumentDetail) -> DocumentRecord:
    """Mirror a document made elsewhere, with its items, marked as such (one transaction for both)."""
    record = documents.mirror(svc.engine, detail)
    with Session(svc.engine) as db:
        row = db.get(DocumentRecord, record.id)
        assert row is not None
        row.made_outside = True
        if not row.customer_name and detail.counterparty_id is not None:
            party = svc.client.counterparties.retrieve(detail.counterparty_id).party
            if party is not None:
                row.customer_name, row.customer_phone = party.fullname, party.phone
        row.updated_at = utcnow()
        db.add(row)
        db.exec(delete(DocumentItem).where(col(DocumentItem.document_id) == row.id))
        for item in detail.items:
            db.add(
                DocumentItem(
                    document_id=row.id or 0,
                    name=item.name,
                    qty=item.qty,
                    unit_amount=item.amount,
                    currency=item.currency or row.currency,
                )
            )
        db.commit()
        db.refresh(row)
        return row


def _payment_booked(svc: Services, record: DocumentRecord) -> bool:
    """A completed collection of the document is in the ledger already (ours, or booked before)."""
    with Session(svc.engine) as db:
        return (
            db.exec(
                select(Attempt.id).where(
                    Attempt.operation_type == OperationType.COLLECTION,
                    Attempt.source_type == record.source_type,
                    Attempt.source_id == record.dollr_id,
                    Attempt.local_state == AttemptState.COMPLETED,
                )
            ).first()
            is not None
        )


def items_of(svc: Services, record: DocumentRecord) -> list[DocumentItem]:
    """The items the sync kept for a document made outside the console."""
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(DocumentItem)
                .where(DocumentItem.document_id == record.id)
                .order_by(col(DocumentItem.id))
            ).all()
        )
