"""Following a payment after it was sent: status refresh and the documents that follow it.

Pages, the reconciler and the bulk worker all call `refresh_payment`; it asks Dollr only when the
attempt is due and nobody else is asking, so any number of open pages cost one poll.
"""

from __future__ import annotations

from sqlmodel import Session, select

from dollr_core.api.errors import DollrError
from dollr_core.basics.enums import OperationType, SourceStatus, SourceType
from dollr_core.ledger import mirror
from dollr_core.ledger.db import read_only
from dollr_core.ledger.tables import Attempt, AttemptState, DocumentRecord
from dollr_core.payments import protocol
from dollr_core.services import Services


def refresh_payment(svc: Services, reference_id: str, *, actor: str, force: bool = False) -> Attempt:
    attempt = protocol.refresh(svc.engine, svc.client, reference_id, actor=actor, force=force)
    follow_document(svc, attempt)
    return attempt


def refresh_held(svc: Services, attempt: Attempt, *, owner: str, actor: str) -> Attempt:
    """`refresh_payment` of an attempt whose lease `owner` already took (`protocol.claim_due`)."""
    attempt = protocol.follow_held(svc.engine, svc.client, attempt, actor=actor, owner=owner)
    follow_document(svc, attempt)
    return attempt


def follow_document(svc: Services, attempt: Attempt) -> None:
    """Keep the invoice/order mirror in step with its collection (Dollr's word, not a guess)."""
    if attempt.op is not OperationType.COLLECTION or attempt.source_id is None or not attempt.source_type:
        return
    state = AttemptState(attempt.local_state)
    kind, dollr_id = attempt.source_type, attempt.source_id
    if state is AttemptState.COMPLETED:
        # Dollr's own status read just said the collection completed, which settles its document
        # PAID (contract §3.3): written from that answer, not read back with a second call.
        mirror.move_status(svc.engine, kind, dollr_id, None, SourceStatus.PAID, paid_at=attempt.final_at)
        return
    # Dollr accepted the collection, and a submitted collection makes its document PROCESSING
    # (contract §3.3): written from that answer too, only over the ACTIVE it was before.
    if state is AttemptState.ACCEPTED and mirror.move_status(
        svc.engine, kind, dollr_id, SourceStatus.ACTIVE, SourceStatus.PROCESSING
    ):
        return
    expected = {AttemptState.ACCEPTED: SourceStatus.PROCESSING, AttemptState.FAILED: SourceStatus.ACTIVE}
    if state not in expected:
        return
    with Session(read_only(svc.engine)) as db:
        record = db.exec(
            select(DocumentRecord).where(
                DocumentRecord.source_type == kind, DocumentRecord.dollr_id == dollr_id
            )
        ).first()
    if record is None or record.status == expected[state]:
        return  # not mirrored here (nothing to keep in step), or already in step
    try:
        status = svc.client.status.source(SourceType(kind), dollr_id)
    except DollrError:
        return  # the next refresh tries again
    mirror.set_status(svc.engine, kind, dollr_id, str(status.status), status.paid_at)
