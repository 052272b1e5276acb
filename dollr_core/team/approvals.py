"""Maker-checker: a large payout, and every bulk batch, waits for a manager who did not create it.

The decision is recorded on the item (who, when, why) and in the audit trail; the maker then
confirms with the merchant passcode. Nobody approves their own payment. Above the two-manager
threshold (`approval_rules`) a payout needs two different managers; a request left undecided, or an
approval left unsent, returns to its maker after the rules' expiry time (`expire_decisions`).

A decision binds what the approver was shown: it carries a fingerprint of the payout or batch as
the screen showed it (`payout_fingerprint`, `batch_fingerprint`), checked in the decision's own
transaction, so content changed meanwhile (withdrawn, edited, sent again) is never approved.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor, Permission, require, require_any
from dollr_core.basics.money import money_text
from dollr_core.basics.phone import mask_phone
from dollr_core.errors import InputRefused
from dollr_core.ledger import audit, transitions
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.intents import fingerprint
from dollr_core.ledger.tables import (
    Batch,
    BatchRow,
    BatchRowState,
    BatchState,
    Intent,
    IntentState,
)
from dollr_core.services import Services
from dollr_core.team import approval_rules, notify


class ApprovalError(InputRefused):
    """The decision cannot be made; the message says why."""


@dataclass(frozen=True)
class Decision:
    approve: bool
    reason: str
    #: The fingerprint of what the approver was shown (`payout_fingerprint`, `batch_fingerprint`).
    shown: str


#: Batch rows that are not paid, so neither shown for approval nor counted in the totals.
_UNPAID_ROWS = (BatchRowState.INVALID, BatchRowState.EXCLUDED, BatchRowState.CANCELED)


def _stamp(shown: dict[str, Any]) -> str:
    """A stable hash of what a screen showed: amounts compare by value (25 = 25.0000)."""

    def canonical(value: Any) -> Any:
        if isinstance(value, Decimal):
            return format(value.normalize(), "f")
        if isinstance(value, dict):
            return {k: canonical(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [canonical(v) for v in value]
        return value

    return fingerprint(canonical(shown))


def payout_fingerprint(intent: Intent) -> str:
    """What an approver is shown of a payout: recipient, wallet, amount, currency, note, fees."""
    return _stamp(
        {
            "recipient": intent.party_name,
            "phone": intent.phone,
            "method": intent.method,
            "amount": intent.amount,
            "currency": intent.currency,
            "note": intent.note,
            "fees": [intent.predicted_platform_fee, intent.predicted_gateway_fee, intent.predicted_fx_fee],
            "debit": intent.predicted_payer_amount,
        }
    )


def batch_fingerprint(batch: Batch, rows: Iterable[BatchRow]) -> str:
    """What an approver is shown of a batch: every row to be paid, and the totals per currency.

    `rows` may hold the batch's unpaid rows too (invalid, left out): they are not counted.
    """
    paid = sorted((r for r in rows if r.state not in _UNPAID_ROWS), key=lambda r: r.row_number)
    shown = [
        {
            "row": r.row_number,
            "recipient": r.name,
            "phone": r.phone,
            "carrier": r.carrier,
            "amount": r.amount,
            "currency": r.currency,
            "note": r.note,
            "reference": r.own_reference,
            "fees": r.predicted_fees,
            "debit": r.predicted_debit,
        }
        for r in paid
    ]
    totals = _totals(paid)
    return _stamp(
        {
            "batch": batch.id,
            "name": batch.name,
            "rows": shown,
            "totals": [totals.rows, totals.amounts, totals.fees, totals.debits],
        }
    )


def _unchanged(kind: str, shown: str, now: str) -> None:
    if shown != now:
        raise ApprovalError(
            f"This {kind} changed since you opened it, so nothing was approved or rejected:"
            " look at it again, then decide."
        )


def may_decide(actor: Actor, maker: str) -> bool:
    """Whether `actor` may approve or reject what `maker` made: a manager, and never their own."""
    return actor.can(Permission.APPROVE) and actor.email.lower() != maker.lower()


def _check(actor: Actor, maker: str, decision: Decision) -> str:
    require(actor, Permission.APPROVE)
    if not may_decide(actor, maker):
        raise ApprovalError("You created this payment, so someone else must approve it.")
    reason = " ".join(decision.reason.split())
    if not decision.approve and not reason:
        raise ApprovalError("Say why you reject it: the person who made it will see your reason.")
    return reason[:500]


def pending_payouts(svc: Services, actor: Actor) -> list[Intent]:
    require(actor, Permission.APPROVE)
    expire_decisions(svc)
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Intent)
                .where(Intent.state == IntentState.AWAITING_APPROVAL)
                .order_by(col(Intent.created_at))
            ).all()
        )


def decide_payout(svc: Services, actor: Actor, intent_key: str, decision: Decision) -> Intent:
    """Approve or reject a payout as shown; the first of two approvals keeps it waiting for a second."""
    require(actor, Permission.APPROVE)
    expire_decisions(svc)
    rules = approval_rules.current(svc.engine, svc.settings)
    with Session(svc.engine) as db:
        intent = db.exec(
            select(Intent).where(Intent.intent_key == intent_key).with_for_update()
        ).one_or_none()
        if intent is None:
            raise ApprovalError("No such payout.")
        reason = _check(actor, intent.operator, decision)
        if intent.state != IntentState.AWAITING_APPROVAL:
            raise ApprovalError("This payout is no longer waiting for approval.")
        _unchanged("payout", decision.shown, payout_fingerprint(intent))
        first = intent.first_approved_by
        if decision.approve and first is not None and first.lower() == actor.email.lower():
            raise ApprovalError(
                "You approved this payout already: a second, different manager must approve it."
            )
        second_needed = decision.approve and intent.approvals_needed >= 2 and first is None
        if second_needed:
            new_state, action = IntentState.AWAITING_APPROVAL, "approved_first_of_two"
            intent.first_approved_by, intent.first_approved_at = actor.email, utcnow()
        elif decision.approve:
            new_state, action = IntentState.READY, "approved"
            intent.decided_by, intent.decided_at, intent.decision_reason = (
                actor.email,
                utcnow(),
                reason or None,
            )
            intent.approval_due_at = utcnow() + rules.expiry  # to be sent within this time
        else:
            new_state, action = IntentState.REJECTED, "rejected"
            intent.decided_by, intent.decided_at, intent.decision_reason = (
                actor.email,
                utcnow(),
                reason or None,
            )
        transitions.move(db, intent, new_state, actor=actor.email, action=action, detail=reason or None)
        what = f"{money_text(intent.amount, intent.currency)} to {intent.party_name}; {reason}".strip("; ")
        if second_needed:
            what += "; a second manager must approve"
        audit.add(
            db,
            actor.email,
            "payout_rejected" if not decision.approve else "payout_approved",
            target=intent_key,
            detail=what,
        )
        if not second_needed:
            notify.decision(
                db,
                svc,
                key=f"payout:{intent_key}:{intent.decided_at.isoformat() if intent.decided_at else ''}",
                what=f"your payout of {_money(intent)} to {mask_phone(intent.phone)}",
                maker=intent.operator,
                verdict="approved" if decision.approve else "rejected",
                by=actor.email,
            )
        db.commit()
        db.refresh(intent)
    return intent


EXPIRY_ACTOR = "system:approvals"


def _money(intent: Intent) -> str:
    return money_text(intent.amount, intent.currency) or intent.currency


def expire_decisions(svc: Services) -> list[Intent]:
    """Return to their makers the payouts whose request or approval outlived the rules' expiry.

    A request nobody decided goes back undecided; an approval its maker never sent goes back too,
    so money never leaves on a manager's word from long ago. Each change is its own ledger event.
    """
    hours = approval_rules.current(svc.engine, svc.settings).approval_expiry_hours
    now = utcnow()
    expired: list[Intent] = []
    with Session(svc.engine, expire_on_commit=False) as db:
        due = db.exec(
            select(Intent)
            .where(
                col(Intent.state).in_((IntentState.AWAITING_APPROVAL, IntentState.READY)),
                col(Intent.approval_due_at).is_not(None),
                col(Intent.approval_due_at) <= now,
                col(Intent.current_attempt_id).is_(None),
            )
            .with_for_update()
        ).all()
        for intent in due:
            waiting = intent.state == IntentState.AWAITING_APPROVAL
            said = (
                f"No manager decided within {hours} hours."
                if waiting
                else f"The approval was not used within {hours} hours."
            )
            transitions.move(
                db, intent, IntentState.OPEN, actor=EXPIRY_ACTOR, action="approval_expired", detail=said
            )
            audit.add(
                db,
                EXPIRY_ACTOR,
                "payout_approval_expired",
                target=intent.intent_key,
                detail=f"{money_text(intent.amount, intent.currency)} to {mask_phone(intent.phone)}; {said}",
            )
            intent.decided_by = intent.decided_at = intent.first_approved_by = intent.first_approved_at = None
            intent.approval_due_at = None
            intent.decision_reason = f"{said} Send it for approval again, or withdraw it."
            intent.updated_at = now
            db.add(intent)
            expired.append(intent)
        db.commit()
    return expired


def pending_batches(svc: Services, actor: Actor) -> list[Batch]:
    require(actor, Permission.APPROVE)
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Batch)
                .where(Batch.state == BatchState.AWAITING_APPROVAL)
                .order_by(col(Batch.created_at))
            ).all()
        )


def decide_batch(svc: Services, actor: Actor, batch_id: int, decision: Decision) -> Batch:
    require(actor, Permission.APPROVE)
    with Session(svc.engine) as db:
        batch = db.get(Batch, batch_id, with_for_update=True)
        if batch is None:
            raise ApprovalError("No such batch.")
        reason = _check(actor, batch.created_by, decision)
        if batch.state != BatchState.AWAITING_APPROVAL:
            raise ApprovalError("This batch is no longer waiting for approval.")
        # Rows change only in a draft, under this batch's lock: they stay as read until commit.
        _unchanged("batch", decision.shown, batch_fingerprint(batch, _batch_rows(db, batch_id)))
        first = batch.first_approved_by
        if decision.approve and first is not None and first.lower() == actor.email.lower():
            raise ApprovalError(
                "You approved this batch already: a second, different manager must approve it."
            )
        # The first of two approvals leaves updated_at alone: the batch is still the one that waits.
        if decision.approve and batch.approvals_needed >= 2 and first is None:
            batch.first_approved_by, batch.first_approved_at = actor.email, utcnow()
            db.add(batch)
            audit.add(
                db,
                actor.email,
                "batch_approved",
                target=f"batch {batch_id}",
                detail="first of two approvals; a second manager must approve",
            )
            db.commit()
            db.refresh(batch)
            return batch
        verdict = BatchState.APPROVED if decision.approve else BatchState.REJECTED
        transitions.move(
            db,
            batch,
            verdict,
            actor=actor.email,
            action="approved" if decision.approve else "rejected",
            detail=reason or None,
        )
        batch.decided_by, batch.decided_at, batch.decision_reason = actor.email, utcnow(), reason or None
        notify.decision(
            db,
            svc,
            key=f"batch:{batch_id}:{batch.decided_at.isoformat()}",
            what=f"your bulk payout #{batch_id}",
            maker=batch.created_by,
            verdict="approved" if decision.approve else "rejected",
            by=actor.email,
        )
        db.commit()
        db.refresh(batch)
    audit.record(
        svc.engine,
        actor.email,
        "batch_approved" if decision.approve else "batch_rejected",
        target=f"batch {batch_id}",
        detail=reason or None,
    )
    return batch


# --------------------------------------------------------------------------- the maker's side


def submit_for_approval(svc: Services, actor: Actor, intent_key: str) -> Intent:
    """The maker asks a manager to approve: only now does the payout appear in managers' lists."""
    expiry = approval_rules.current(svc.engine, svc.settings).expiry
    intent = _move_own_payout(
        svc,
        actor,
        intent_key,
        allowed=(IntentState.OPEN,),
        to=IntentState.AWAITING_APPROVAL,
        action="sent_for_approval",
        refused="This payout is not waiting to be sent for approval any more.",
        approval_due_at=utcnow() + expiry,
        decision_reason=None,
        then=lambda db, sent: notify.approval_waiting(
            db,
            svc,
            key=f"payout:{intent_key}:{sent.approval_due_at.isoformat() if sent.approval_due_at else ''}",
            what=f"a payout of {_money(sent)} to {mask_phone(sent.phone)}",
            maker=actor.email,
        ),
    )
    audit.record(
        svc.engine,
        actor.email,
        "payout_sent_for_approval",
        target=intent_key,
        detail=f"{money_text(intent.amount, intent.currency)} to {intent.party_name}",
    )
    return intent


def withdraw_payout(svc: Services, actor: Actor, intent_key: str) -> Intent:
    """The maker takes back a payout nobody has sent yet (waiting, approved or rejected)."""
    intent = _move_own_payout(
        svc,
        actor,
        intent_key,
        allowed=(IntentState.OPEN, IntentState.AWAITING_APPROVAL, IntentState.READY),
        to=IntentState.CANCELED,
        action="withdrawn",
        refused="This payout was already sent or closed; it cannot be withdrawn.",
    )
    audit.record(svc.engine, actor.email, "payout_withdrawn", target=intent_key)
    return intent


def _move_own_payout(
    svc: Services,
    actor: Actor,
    intent_key: str,
    *,
    allowed: tuple[IntentState, ...],
    to: IntentState,
    action: str,
    refused: str,
    then: Callable[[Session, Intent], None] | None = None,
    **fields: Any,
) -> Intent:
    """A state change only the payout's maker may make, recorded in the ledger's events."""
    require(actor, Permission.PAY_OUT)
    with Session(svc.engine) as db:
        intent = db.exec(
            select(Intent).where(Intent.intent_key == intent_key).with_for_update()
        ).one_or_none()
        if intent is None or intent.operator.lower() != actor.email.lower() or not intent.needs_approval:
            raise ApprovalError("There is no payout of yours waiting for approval with that reference.")
        if intent.state not in allowed:
            raise ApprovalError(refused)
        transitions.move(db, intent, to, actor=actor.email, action=action)
        for name, value in fields.items():
            setattr(intent, name, value)
        db.add(intent)
        if then is not None:
            then(db, intent)  # what the change also writes, in its transaction (a notification)
        db.commit()
        db.refresh(intent)
        return intent


def my_payouts(svc: Services, actor: Actor, *, limit: int = 50) -> list[Intent]:
    """The actor's own single payouts that needed approval, newest first, in whatever state."""
    require(actor, Permission.PAY_OUT)
    expire_decisions(svc)
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Intent)
                .where(
                    func.lower(Intent.operator) == actor.email.lower(),
                    col(Intent.needs_approval).is_(True),
                    col(Intent.batch_id).is_(None),
                )
                .order_by(col(Intent.updated_at).desc())
                .limit(limit)
            ).all()
        )


def approved_to_send(svc: Services, actor: Actor) -> list[Intent]:
    """The actor's own approved payouts that still wait for the merchant passcode."""
    return [
        i
        for i in my_payouts(svc, actor, limit=200)
        if i.state == IntentState.READY and i.decided_by is not None and i.current_attempt_id is None
    ]


def my_batches(svc: Services, actor: Actor, *, limit: int = 50) -> list[Batch]:
    """The actor's own bulk batches that are waiting, approved or rejected, newest first."""
    require(actor, Permission.BULK_PAYOUTS)
    states = (BatchState.AWAITING_APPROVAL, BatchState.APPROVED, BatchState.REJECTED)
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(Batch)
                .where(func.lower(Batch.created_by) == actor.email.lower(), col(Batch.state).in_(states))
                .order_by(col(Batch.updated_at).desc())
                .limit(limit)
            ).all()
        )


@dataclass(frozen=True)
class BatchTotals:
    """What a batch would pay, per currency, over the rows that will be sent."""

    rows: int
    amounts: dict[str, Decimal]
    fees: dict[str, Decimal]
    debits: dict[str, Decimal]
    #: `batch_fingerprint` of the batch as read for these totals: what a decision on them carries.
    fingerprint: str = ""


def batch_totals(svc: Services, actor: Actor, batch_id: int) -> BatchTotals:
    require_any(actor, Permission.APPROVE, Permission.BULK_PAYOUTS)
    with Session(svc.engine) as db:
        batch = db.get(Batch, batch_id)
        rows = _batch_rows(db, batch_id)
    totals = _totals(r for r in rows if r.state not in _UNPAID_ROWS)
    if batch is None:
        return totals
    return BatchTotals(
        totals.rows, totals.amounts, totals.fees, totals.debits, fingerprint=batch_fingerprint(batch, rows)
    )


def _batch_rows(db: Session, batch_id: int) -> list[BatchRow]:
    return list(db.exec(select(BatchRow).where(BatchRow.batch_id == batch_id)).all())


def _totals(rows: Iterable[BatchRow]) -> BatchTotals:
    count = 0
    amounts: dict[str, Decimal] = {}
    fees: dict[str, Decimal] = {}
    debits: dict[str, Decimal] = {}
    for row in rows:
        count += 1
        if row.amount is None or not row.currency:
            continue
        pairs = ((amounts, row.amount), (fees, row.predicted_fees), (debits, row.predicted_debit))
        for totals, value in pairs:
            if value is not None:
                totals[row.currency] = totals.get(row.currency, Decimal(0)) + value
    return BatchTotals(rows=count, amounts=amounts, fees=fees, debits=debits)
