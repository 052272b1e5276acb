"""What refunds and wallet transfers share: the approval threshold, the maker's own intent, and the
hand-over to the execution protocol. (Payouts keep their own flow in `payouts`.)"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.errors import InputRefused
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import Attempt, Intent, PaymentDetail
from dollr_core.payments import protocol
from dollr_core.services import Services


class MoneyOutRefused(InputRefused):
    """The refund or transfer cannot go ahead as asked; the message says why in plain words."""


def needs_approval(svc: Services, amount: Decimal, currency: str) -> bool:
    """Above the approval threshold (the payouts' setting, per currency) a manager approves first."""
    threshold = svc.settings.approval_thresholds.get(currency)
    return threshold is not None and amount > threshold


def own_intent(svc: Services, actor: Actor, intent_key: str, kind: str) -> Intent:
    """The actor's own prepared intent of this kind; anyone else's is refused without detail."""
    intent = get_intent(svc.engine, intent_key)
    if intent is None or intent.kind != kind:
        raise protocol.IntentNotReady("This was not prepared; start again from the form.")
    if intent.operator.lower() != actor.email.lower():
        raise MoneyOutRefused(f"This was prepared by {intent.operator}; only they can send it.")
    return intent


def submit(svc: Services, actor: Actor, intent: Intent, plan: protocol.ExecutionPlan) -> Attempt:
    return protocol.submit(svc.engine, svc.client, intent.intent_key, plan, actor=actor.email)


def attach_detail(svc: Services, intent: Intent, **fields: Any) -> PaymentDetail:
    """The intent's details (what it refunds, where it goes), written once; a rerun finds them."""
    with Session(svc.engine) as db:
        found = db.exec(select(PaymentDetail).where(PaymentDetail.intent_id == intent.id)).first()
        if found is not None:
            return found
        detail = PaymentDetail(intent_id=intent.id or 0, **fields)
        db.add(detail)
        try:
            db.commit()
        except IntegrityError:  # a second tab wrote them a moment earlier
            db.rollback()
            return db.exec(select(PaymentDetail).where(PaymentDetail.intent_id == intent.id)).one()
        db.refresh(detail)
        return detail


def details_of(svc: Services, intent: Intent) -> PaymentDetail | None:
    with Session(svc.engine) as db:
        return db.exec(select(PaymentDetail).where(PaymentDetail.intent_id == intent.id)).first()
