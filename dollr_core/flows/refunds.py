"""Refunds: money given back from a completed collection, full or partial, with a reason.

Never more than what was paid less what was refunded (or is being refunded) already. Above the
approval threshold a manager approves first. The refund itself goes through the execution
protocol like every execution: its reference_id is stored before the call, an unknown outcome is
settled by a status lookup, and it pays exactly once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError
from dollr_core.api.models import RefundExecute, RefundSessionCreate
from dollr_core.basics.access import Actor, Permission, require, require_any
from dollr_core.basics.enums import OperationType
from dollr_core.basics.money import money_text, parse_amount
from dollr_core.basics.validation import NOTE_LENGTH, check_text
from dollr_core.flows.money_out import (
    MoneyOutRefused,
    attach_detail,
    details_of,
    needs_approval,
    own_intent,
    submit,
)
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import EDITABLE, find_attempt, get_intent, open_intent
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentKind, IntentState, PaymentDetail
from dollr_core.payments import protocol
from dollr_core.services import Services

ZERO = Decimal(0)
#: How long a refund session may wait for its execution (we choose it: S4's `expires_at`).
SESSION_LIFETIME = timedelta(minutes=15)
#: Refund intents in these states hold no money back from the remainder.
_RELEASED = (IntentState.FAILED, IntentState.REJECTED, IntentState.CANCELED)


@dataclass(frozen=True)
class Refundable:
    """What one completed collection can still give back."""

    collection: Attempt
    currency: str
    paid: Decimal
    refunded: Decimal  # completed, in flight or waiting for approval

    @property
    def remaining(self) -> Decimal:
        return max(self.paid - self.refunded, ZERO)


def refunds_of(svc: Services, reference_id: str) -> list[Intent]:
    """Every refund made (or being made) of the collection, oldest first."""
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Intent)
                .join(PaymentDetail, col(PaymentDetail.intent_id) == col(Intent.id))
                .where(PaymentDetail.refund_of == reference_id, Intent.kind == IntentKind.REFUND)
                .order_by(col(Intent.id))
            ).all()
        )


def refunds_of_document(svc: Services, source_type: str, dollr_id: int) -> list[Intent]:
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Intent)
                .where(
                    Intent.kind == IntentKind.REFUND,
                    Intent.source_type == source_type,
                    Intent.source_id == dollr_id,
                )
                .order_by(col(Intent.id))
            ).all()
        )


def refundable(
    svc: Services, actor: Actor, reference_id: str, *, leaving_out: str | None = None
) -> Refundable:
    """The collection with this payment reference and what is left to refund of it."""
    require_any(actor, Permission.REFUND, Permission.VIEW_RECEIPTS)
    collection = find_attempt(svc.engine, reference_id.strip())
    if collection is None or collection.op is not OperationType.COLLECTION:
        raise MoneyOutRefused("No collection has this payment reference; only a collection can be refunded.")
    if collection.local_state != AttemptState.COMPLETED:
        raise MoneyOutRefused("Only a completed collection can be refunded: this payment did not complete.")
    held = sum(
        (
            i.amount or ZERO
            for i in refunds_of(svc, collection.reference_id)
            if IntentState(i.state) not in _RELEASED and i.intent_key != leaving_out
        ),
        ZERO,
    )
    currency = collection.payee_currency or collection.currency
    return Refundable(collection, currency, collection.amount or collection.payee_amount or ZERO, held)


def prepare_refund(
    svc: Services, actor: Actor, intent_key: str, *, reference_id: str, amount: str | Decimal, reason: str
) -> Intent:
    """Check the refund and store it, ready to send (or waiting for a manager above the threshold)."""
    require(actor, Permission.REFUND)
    existing = get_intent(svc.engine, intent_key)
    if existing is not None and IntentState(existing.state) not in EDITABLE:
        return existing  # a rerun of a refund already under way reports on it
    why = " ".join(check_text(reason, "reason", max_length=NOTE_LENGTH, multiline=True).split())
    if not why:
        raise MoneyOutRefused("Say why the money is refunded: the reason is kept with the refund.")
    info = refundable(svc, actor, reference_id, leaving_out=intent_key)
    value = parse_amount(amount, info.currency)
    if value > info.remaining:
        raise MoneyOutRefused(
            f"At most {money_text(info.remaining, info.currency)} can still be refunded"
            f" ({money_text(info.paid, info.currency)} paid, {money_text(info.refunded, info.currency)}"
            " refunded or being refunded already)."
        )
    original = info.collection
    payment_intent = original.payment_intent_id or _payment_intent_of(svc, original)
    if payment_intent is None:
        raise MoneyOutRefused(
            "Dollr has not said which payment intent this collection was; it cannot be refunded."
        )
    approval = needs_approval(svc, value, info.currency)
    intent = open_intent(
        svc.engine,
        intent_key,
        kind=IntentKind.REFUND,
        operation_type=OperationType.REFUND,
        operator=actor.email,
        state=IntentState.AWAITING_APPROVAL if approval else IntentState.READY,
        terms={"refund_of": original.reference_id, "amount": value, "reason": why},
        party_name=original.party_name,
        phone=original.phone,
        method=original.method,
        provider=original.provider,
        source_type=original.source_type,
        source_id=original.source_id,
        source_number=original.source_number,
        amount=value,
        currency=info.currency,
        payer_currency=info.currency,
        note=why,
        needs_approval=approval,
    )
    attach_detail(svc, intent, refund_of=original.reference_id, original_payment_intent_id=payment_intent)
    audit.record(
        svc.engine,
        actor.email,
        "refund_sent_for_approval" if approval else "refund_prepared",
        target=original.reference_id,
        detail=f"{info.currency} {value} to {original.party_name} ({original.source_number or '-'}): {why}",
    )
    return intent


def _payment_intent_of(svc: Services, collection: Attempt) -> int | None:
    try:
        execution = svc.client.status.execution(OperationType.COLLECTION, collection.reference_id)
    except DollrError:
        return None
    return execution.payment_intent_id if isinstance(execution.payment_intent_id, int) else None


@dataclass
class RefundPlan:
    svc: Services
    intent: Intent
    original_payment_intent_id: int
    operation_type: OperationType = OperationType.REFUND

    def open_session(self) -> protocol.OpenedSession:
        assert self.intent.amount is not None
        ends = utcnow() + SESSION_LIFETIME
        session = self.svc.client.sessions.refund(
            RefundSessionCreate(
                original_payment_intent_id=self.original_payment_intent_id,
                amount=self.intent.amount,
                expires_at=ends,
                reason=self.intent.note or None,
            )
        )
        return protocol.OpenedSession(session.id, session.expires_at or ends)

    def build(self, session_id: int, reference_id: str) -> BaseModel:
        return RefundExecute(session_id=str(session_id), reference_id=reference_id)


def confirm_refund(svc: Services, actor: Actor, intent_key: str) -> Attempt:
    """Send the prepared refund once; a repeat call reports on the attempt already made."""
    require(actor, Permission.REFUND)
    intent = own_intent(svc, actor, intent_key, IntentKind.REFUND)
    detail = details_of(svc, intent)
    if detail is None or detail.original_payment_intent_id is None:
        raise MoneyOutRefused("This refund was not prepared; start again from the form.")
    return submit(svc, actor, intent, RefundPlan(svc, intent, detail.original_payment_intent_id))
