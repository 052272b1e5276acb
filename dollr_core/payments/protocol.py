"""The execution protocol: the one place where a call that moves money is made.

Every money-moving operation (collection, payout, transfer, refund; single or bulk) goes through
`submit`, and every later look at its outcome through `refresh`. The rules they keep:

- An intent (one intended payment, keyed by the key made when its form was shown) is claimed by
  one atomic state change, in the same transaction that stores a new reference_id, before any
  HTTP call. A rerun, a double click or a second tab finds the claimed intent and only reports on it.
- At most one attempt per intent is ever open. A new reference_id is minted only when the previous
  one can no longer land, which only Dollr can prove: it judged the one copy we sent and refused it,
  or a status lookup made after the session expired *at Dollr* finds nothing.
- A request may reach Dollr long after we gave up on it (a slow gateway, a proxy queue, a mobile
  link). So any answer that does not prove Dollr judged the first copy on its content — a network
  error, a timeout, a 5xx, a 429, a duplicate-reference answer, any refusal of a *resend* — makes
  or keeps the attempt UNKNOWN. UNKNOWN is settled by a status lookup with the same reference_id:
  found → adopt; not found → resend the identical body with the same reference_id (Dollr answers a
  replay with the original) until Dollr's clock is past the session's expiry plus `CLOCK_MARGIN`;
  a lookup after that which still finds nothing proves the request can no longer land.
- Dollr's clock is measured from its responses' `Date` (`server_clock`), never assumed to be ours.
- PROCESSING is not failure: accepted attempts are polled (here and by the reconciler) until final.
- Leases are short and renewed by a heartbeat while their worker lives (`ledger.leases`): a dead
  worker's attempt is taken over within seconds, a live one's never.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Engine, update
from sqlmodel import Session, col, select

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import (
    AuthenticationError,
    DollrError,
    InvalidRequestError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
)
from dollr_core.api.models import Execution
from dollr_core.basics.enums import ExecutionStatus, OperationType
from dollr_core.basics.phone import mask_phone
from dollr_core.errors import ChangedMeanwhile
from dollr_core.ledger import audit
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.leases import LEASE, Heartbeat
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState, LedgerEvent

log = logging.getLogger("dollr_core.payments.protocol")

__all__ = ["CLOCK_MARGIN", "LEASE", "IntentNotReady", "LeaseLost", "refresh", "submit"]

#: How long after a session's `expires_at` (on Dollr's measured clock) before "not found" is
#: trusted to mean "can no longer land": covers drift since the clock was measured.
CLOCK_MARGIN = timedelta(seconds=30)
#: New attempts one submit may open after sessions that expired unseen.
MAX_RENEWALS = 2


class LeaseLost(RuntimeError):
    """Another worker took the attempt over (our lease ran out): stop without sending."""


class IntentNotReady(ChangedMeanwhile):
    """The intent cannot be executed now (awaiting approval, not prepared, rejected ...)."""


@dataclass(frozen=True)
class OpenedSession:
    session_id: int
    expires_at: datetime | None


class ExecutionPlan(Protocol):
    """How one kind of operation opens its session and builds its execution body."""

    @property
    def operation_type(self) -> OperationType: ...

    def open_session(self) -> OpenedSession: ...

    def build(self, session_id: int, reference_id: str) -> BaseModel: ...


#: Test hook: called with a checkpoint name between every two steps; a test makes it raise to
#: simulate a crash at that point. Never set in production code.
crash_hook: Callable[[str], None] | None = None


def checkpoint(name: str) -> None:
    if crash_hook is not None:
        crash_hook(name)


def owner_id() -> str:
    return uuid.uuid4().hex[:16]


# --------------------------------------------------------------------------- submit


def submit(
    engine: Engine,
    client: DollrClient,
    intent_key: str,
    plan: ExecutionPlan,
    *,
    actor: str,
) -> Attempt:
    """Carry the intent's payment out once, or report on the attempt that already holds it."""
    me = owner_id()
    attempt = _claim(engine, intent_key, plan.operation_type, actor=actor, owner=me)
    if attempt is None:
        return current_attempt(engine, intent_key)
    with Heartbeat(engine, me, [attempt.intent_id]):
        attempt = _drive(engine, client, attempt, plan, actor=actor, owner=me)
    if attempt.local_state == AttemptState.REFUSED:
        audit.record(
            engine,
            actor,
            f"{attempt.op.value.lower()}_refused",
            target=attempt.reference_id,
            outcome="refused",
            detail=attempt.last_error,
        )
    return attempt


def _claim(
    engine: Engine, intent_key: str, operation: OperationType, *, actor: str, owner: str
) -> Attempt | None:
    """Atomically take the intent for this worker. None: someone else holds it, or it is final."""
    now = utcnow()
    with Session(engine) as db:
        intent = db.exec(
            select(Intent).where(Intent.intent_key == intent_key).with_for_update()
        ).one_or_none()
        if intent is None:
            raise IntentNotReady("This payment was not prepared; start again from the form.")
        state = IntentState(intent.state)
        if state in (IntentState.OPEN, IntentState.AWAITING_APPROVAL, IntentState.REJECTED):
            raise IntentNotReady(_not_ready_reason(state))
        if state is IntentState.READY:
            claimed = db.exec(
                update(Intent)
                .where(col(Intent.id) == intent.id, col(Intent.state) == IntentState.READY)
                .values(
                    state=IntentState.EXECUTING, lease_owner=owner, lease_until=now + LEASE, updated_at=now
                )
            )
            if claimed.rowcount != 1:
                return None
            attempt = _new_attempt(db, intent, operation, actor=actor, owner=owner)
            db.commit()
            db.refresh(attempt)
            return attempt
        if state is not IntentState.EXECUTING or intent.current_attempt_id is None:
            return None
        held = db.get(Attempt, intent.current_attempt_id)
        if held is None or not _takeover_allowed(held, now):
            return None
        held.lease_owner, held.lease_until = owner, now + LEASE
        if held.local_state == AttemptState.SENDING:
            _move(db, held, AttemptState.UNKNOWN, actor, "taken over after the sender went silent")
        db.add(held)
        db.commit()
        db.refresh(held)
        return held


def _takeover_allowed(attempt: Attempt, now: datetime) -> bool:
    """A held attempt is only taken over once its holder's lease has run out."""
    state = AttemptState(attempt.local_state)
    if state in (AttemptState.PREPARING, AttemptState.SENDING, AttemptState.UNKNOWN):
        return attempt.lease_until is None or attempt.lease_until < now
    return False


def _not_ready_reason(state: IntentState) -> str:
    return {
        IntentState.OPEN: "This payment is not fully prepared yet.",
        IntentState.AWAITING_APPROVAL: "This payment is waiting for a manager's approval.",
        IntentState.REJECTED: "This payment was rejected by an approver; it will not be sent.",
    }.get(state, "This payment cannot be sent now.")


def _new_attempt(db: Session, intent: Intent, operation: OperationType, *, actor: str, owner: str) -> Attempt:
    """Store a fresh reference_id for the intent: only ever called while holding the intent."""
    attempt = Attempt(
        reference_id=str(uuid.uuid4()),
        intent_id=intent.id or 0,
        operation_type=operation,
        step="execute",
        local_state=AttemptState.PREPARING,
        account_id=intent.account_id,
        source_type=intent.source_type,
        source_id=intent.source_id,
        source_number=intent.source_number,
        party_name=intent.party_name,
        phone=intent.phone,
        method=intent.method,
        provider=intent.provider,
        amount=intent.amount,
        currency=intent.currency,
        payer_currency=intent.payer_currency,
        operator=intent.operator or actor,
        batch_id=intent.batch_id,
        predicted_payer_amount=intent.predicted_payer_amount,
        predicted_payee_amount=intent.predicted_payee_amount,
        predicted_platform_fee=intent.predicted_platform_fee,
        predicted_gateway_fee=intent.predicted_gateway_fee,
        predicted_fx_fee=intent.predicted_fx_fee,
        lease_owner=owner,
        lease_until=utcnow() + LEASE,
    )
    db.add(attempt)
    db.flush()
    intent.current_attempt_id = attempt.id
    intent.state = IntentState.EXECUTING
    intent.step = "execute"
    intent.updated_at = utcnow()
    db.add(intent)
    db.add(
        LedgerEvent(
            intent_id=intent.id,
            attempt_id=attempt.id,
            actor=actor,
            action="attempt_created",
            to_state=AttemptState.PREPARING,
            detail=attempt.reference_id,
        )
    )
    # In the attempt's own transaction: a payment that may go out always has its audit record.
    audit.add(
        db,
        actor,
        f"{operation.value.lower()}_submitted",
        target=attempt.reference_id,
        detail=" ".join(
            filter(
                None,
                [
                    attempt.currency,
                    str(attempt.amount),
                    attempt.party_name,
                    mask_phone(attempt.phone) if attempt.phone else None,
                    attempt.source_number,
                ],
            )
        ),
    )
    return attempt


def _drive(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    plan: ExecutionPlan | None,
    *,
    actor: str,
    owner: str,
) -> Attempt:
    """Move a held attempt forward until Dollr has it, refused it, or its outcome must wait."""
    renewals = 0
    for _ in range(2 * (MAX_RENEWALS + 2)):
        before = AttemptState(attempt.local_state)
        if before is AttemptState.PREPARING:
            if plan is None:
                # Never sent, so it cannot land; only the person (who holds secrets such as the
                # passcode) may start a new try.
                attempt = _move_and_save(engine, attempt, AttemptState.ABANDONED, actor, "never sent")
                reopen_intent(engine, attempt, actor)
                break
            try:
                attempt = _open_session_and_send(engine, client, attempt, plan, actor=actor, owner=owner)
            except LeaseLost:
                return _reload(engine, attempt)
        elif before is AttemptState.UNKNOWN:
            if attempt.retry_not_before is not None and attempt.retry_not_before > utcnow():
                break  # Dollr asked us to wait (429 Retry-After)
            attempt = _settle_unknown(engine, client, attempt, plan, actor=actor)
        elif before is AttemptState.ABANDONED:
            if plan is None or renewals == MAX_RENEWALS:
                reopen_intent(engine, attempt, actor)
                break
            renewed = _renew(engine, attempt, plan.operation_type, actor=actor, owner=owner)
            if renewed is None:
                break
            attempt, renewals = renewed, renewals + 1
            continue
        after = AttemptState(attempt.local_state)
        if (
            after == before
            or after in (AttemptState.ACCEPTED, AttemptState.SENDING)
            or (after.is_final and after is not AttemptState.ABANDONED)
        ):
            break
    return _release(engine, attempt)


def _open_session_and_send(
    engine: Engine, client: DollrClient, attempt: Attempt, plan: ExecutionPlan, *, actor: str, owner: str
) -> Attempt:
    if attempt.session_id is None:
        checkpoint("before_session")
        try:
            opened = plan.open_session()
        except DollrError as exc:
            if exc.outcome_unknown:
                # An orphan session moves no money; the next try opens another.
                return _record_error(engine, attempt, exc, actor)
            return _finish_refused(engine, attempt, exc, actor)
        attempt = _update(
            engine,
            attempt,
            actor,
            "session_opened",
            expect_owner=owner,
            session_id=opened.session_id,
            session_expires_at=opened.expires_at,
        )
        checkpoint("after_session")
    return _send(engine, client, attempt, plan, actor=actor, owner=owner)


def _send(
    engine: Engine, client: DollrClient, attempt: Attempt, plan: ExecutionPlan, *, actor: str, owner: str
) -> Attempt:
    assert attempt.session_id is not None
    body = plan.build(attempt.session_id, attempt.reference_id)
    first_copy = attempt.sent_at is None
    attempt = _update(
        engine,
        attempt,
        actor,
        "sending",
        expect_owner=owner,
        local_state=AttemptState.SENDING,
        request_json=_public_json(body),
        sent_at=attempt.sent_at or utcnow(),
    )
    checkpoint("before_execute")
    try:
        execution = _execute(client, attempt.op, body)
    except DollrError as exc:
        try:
            return _after_send_error(engine, client, attempt, plan, exc, actor=actor, first_copy=first_copy)
        except LeaseLost:  # taken over while our call was out: the new holder settles it
            return _reload(engine, attempt)
    checkpoint("after_execute")
    return _adopt(engine, attempt, execution, actor)


def _after_send_error(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    plan: ExecutionPlan | None,
    exc: DollrError,
    *,
    actor: str,
    first_copy: bool,
) -> Attempt:
    owner = attempt.lease_owner
    if first_copy and _judged_and_refused(exc):
        # The only copy ever sent was refused by Dollr itself: nothing exists and nothing can land.
        if _session_is_gone(exc):
            return _move_and_save(
                engine, attempt, AttemptState.ABANDONED, actor, exc.message, error=exc, expect_owner=owner
            )
        return _finish_refused(engine, attempt, exc, actor, expect_owner=owner)
    attempt = _move_and_save(
        engine, attempt, AttemptState.UNKNOWN, actor, exc.message, error=exc, expect_owner=owner
    )
    if isinstance(exc, RateLimitError):
        return _schedule(engine, attempt, seconds=exc.retry_after or 2.0, hold_sends=True)
    return _settle_unknown(engine, client, attempt, plan, actor=actor)


def _judged_and_refused(exc: DollrError) -> bool:
    """Dollr read this very request and refused it on its content, so it executed nothing.

    Only Dollr's own verdicts count: a 422 naming the fields at fault (a duplicate reference
    excepted: that one means a copy exists), or a 401/403 in Dollr's JSON shape. A 404, 409, a 422
    without fields, a 429, a 5xx, a gateway's page or a lost answer prove nothing.
    """
    if exc.outcome_unknown or not isinstance(exc.body, dict):
        return False
    if isinstance(exc, InvalidRequestError):
        return (
            exc.status == 422
            and bool(exc.errors)
            and all(e.field for e in exc.errors)
            and not _is_duplicate_reference(exc)
        )
    return isinstance(exc, AuthenticationError | PermissionDeniedError)


def _settle_unknown(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    plan: ExecutionPlan | None,
    *,
    actor: str,
) -> Attempt:
    """Ask Dollr about the reference_id; adopt what it holds, or resend the identical request.

    "Not found" proves the request can no longer land only when Dollr's clock was already past the
    session's expiry (plus CLOCK_MARGIN) before the lookup was made; until then a late copy may
    still arrive, so the attempt stays UNKNOWN and the same reference_id is resent.
    """
    dead_before_lookup = _session_over_at_dollr(client, attempt)
    checkpoint("before_lookup")
    try:
        execution = client.status.execution(attempt.op, attempt.reference_id)
    except NotFoundError:
        execution = None
    except DollrError as exc:
        return _schedule(engine, _record_error(engine, attempt, exc, actor), seconds=5)
    if execution is not None:
        return _adopt(engine, attempt, execution, actor)
    # Dollr never saw it. Resending the same id is safe: Dollr answers a replay with the original.
    if attempt.session_id is None:  # no session was ever opened, so nothing was sent
        return _update(engine, attempt, actor, "back_to_prepare", local_state=AttemptState.PREPARING)
    if dead_before_lookup:
        return _move_and_save(
            engine,
            attempt,
            AttemptState.ABANDONED,
            actor,
            "Dollr has no record of it after its session expired at Dollr: it can no longer land",
        )
    body = _resend_body(attempt, plan)
    if body is None:  # the body holds a secret we never store: wait for the person to confirm again
        return _schedule(engine, attempt, seconds=_wait_for_proof(client, attempt, 10.0))
    try:
        checkpoint("before_resend")
        execution = _execute(client, attempt.op, body)
    except DollrError as exc:
        # A refused resend says nothing about the first copy, which may still be on its way.
        changes: dict[str, Any] = {"last_error": exc.message, "poll_count": attempt.poll_count + 1}
        if _session_is_gone(exc) and attempt.session_expires_at is None:
            changes["session_expires_at"] = client.server_clock.now_at_dollr()  # over by Dollr's word
        wait = next_poll_delay(attempt.poll_count).total_seconds()
        attempt = _update(engine, attempt, actor, "resend not accepted", **changes)
        limited = isinstance(exc, RateLimitError)
        if isinstance(exc, RateLimitError) and exc.retry_after:
            wait = exc.retry_after
        return _schedule(engine, attempt, seconds=_wait_for_proof(client, attempt, wait), hold_sends=limited)
    return _adopt(engine, attempt, execution, actor)


def _session_over_at_dollr(client: DollrClient, attempt: Attempt) -> bool:
    """Dollr's clock (as measured, never assumed) is past the session's expiry plus the margin."""
    now_at_dollr = client.server_clock.now_at_dollr()
    if attempt.session_expires_at is None or now_at_dollr is None:
        return False
    return now_at_dollr > attempt.session_expires_at + CLOCK_MARGIN


def _wait_for_proof(client: DollrClient, attempt: Attempt, seconds: float) -> float:
    """`seconds`, or less when the moment that settles the attempt by expiry comes sooner."""
    now_at_dollr = client.server_clock.now_at_dollr()
    if attempt.session_expires_at is None or now_at_dollr is None:
        return seconds
    until_proof = (attempt.session_expires_at + CLOCK_MARGIN - now_at_dollr).total_seconds() + 1.0
    return max(1.0, min(seconds, until_proof))


def _resend_body(attempt: Attempt, plan: ExecutionPlan | None) -> BaseModel | None:
    assert attempt.session_id is not None
    if plan is not None:
        return plan.build(attempt.session_id, attempt.reference_id)
    return rebuild_from_ledger(attempt)


def rebuild_from_ledger(attempt: Attempt) -> BaseModel | None:
    """The stored body, for operations whose body holds no secret (all but payouts)."""
    from dollr_core.api.models import CollectionExecute, RefundExecute, TransferExecute

    if not attempt.request_json:
        return None
    models: dict[OperationType, type[BaseModel]] = {
        OperationType.COLLECTION: CollectionExecute,
        OperationType.TRANSFER: TransferExecute,
        OperationType.REFUND: RefundExecute,
    }
    model = models.get(attempt.op)
    return None if model is None else model.model_validate_json(attempt.request_json)


def _renew(
    engine: Engine, abandoned: Attempt, operation: OperationType, *, actor: str, owner: str
) -> Attempt | None:
    """A new session and a new reference_id, now that the old one provably cannot land."""
    with Session(engine) as db:
        intent = db.get(Intent, abandoned.intent_id, with_for_update=True)
        if intent is None or intent.current_attempt_id != abandoned.id:
            return None
        attempt = _new_attempt(db, intent, operation, actor=actor, owner=owner)
        db.commit()
        db.refresh(attempt)
        return attempt


def reopen_intent(engine: Engine, attempt: Attempt, actor: str) -> None:
    """Nothing landed and nothing can: the person may confirm again (with a new session)."""
    with Session(engine) as db:
        intent = db.get(Intent, attempt.intent_id, with_for_update=True)
        if intent is None or intent.current_attempt_id != attempt.id:
            return
        if IntentState(intent.state) is IntentState.EXECUTING:
            _intent_to(db, intent, IntentState.READY, actor, "earlier try never reached Dollr")
            intent.lease_owner = intent.lease_until = None
            db.add(intent)
            db.commit()


# --------------------------------------------------------------------------- refresh


def refresh(
    engine: Engine,
    client: DollrClient,
    reference_id: str,
    *,
    actor: str,
    plan: ExecutionPlan | None = None,
    force: bool = False,
) -> Attempt:
    """Bring an attempt up to date with Dollr, unless another worker is polling it right now.

    Safe to call from every open page and every reconciler: a short lease makes sure only one of
    them asks Dollr at a time, and a final attempt is never asked about again.
    """
    me = owner_id()
    now = utcnow()
    with Session(engine) as db:
        attempt = db.exec(
            select(Attempt).where(Attempt.reference_id == reference_id).with_for_update()
        ).one_or_none()
        if attempt is None:
            raise LookupError(f"No payment with reference {reference_id} in the ledger.")
        if AttemptState(attempt.local_state).is_final:
            return attempt
        held = attempt.lease_until is not None and attempt.lease_until > now
        due = force or attempt.next_poll_at is None or attempt.next_poll_at <= now
        if held or not due:
            return attempt
        attempt.lease_owner, attempt.lease_until = me, now + LEASE
        db.add(attempt)
        db.commit()
        db.refresh(attempt)
    with Heartbeat(engine, me, [attempt.intent_id]):
        if attempt.local_state in (AttemptState.SENDING, AttemptState.PREPARING) and attempt.sent_at:
            attempt = mark_unknown(engine, attempt, actor)
        return poll_held(engine, client, attempt, actor=actor, owner=me, plan=plan)


def poll_held(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    *,
    actor: str,
    owner: str,
    plan: ExecutionPlan | None = None,
) -> Attempt:
    """One step forward for an attempt this worker holds the lease on."""
    state = AttemptState(attempt.local_state)
    if state is AttemptState.ACCEPTED:
        try:
            execution = client.status.execution(attempt.op, attempt.reference_id)
        except DollrError as exc:
            return _release(engine, _schedule(engine, _record_error(engine, attempt, exc, actor), seconds=5))
        return _release(engine, _adopt(engine, attempt, execution, actor))
    return _drive(engine, client, attempt, plan, actor=actor, owner=owner)


# --------------------------------------------------------------------------- state changes


def _execute(client: DollrClient, operation: OperationType, body: BaseModel) -> Execution:
    send: Callable[[Any], Execution] = getattr(client.executions, operation.value.lower())
    return send(body)


def _adopt(engine: Engine, attempt: Attempt, execution: Execution, actor: str) -> Attempt:
    """Record what Dollr holds for the reference_id; finish the intent when it is final."""
    status = _status_of(execution)
    new_state = {
        ExecutionStatus.COMPLETED: AttemptState.COMPLETED,
        ExecutionStatus.FAILED: AttemptState.FAILED,
    }.get(status, AttemptState.ACCEPTED)
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if AttemptState(row.local_state).is_final:
            return row
        changes: dict[str, Any] = {
            "remote_status": status.value if status else None,
            "payer_amount": execution.payer_amount,
            "payee_amount": execution.payee_amount,
            "settled_payer_currency": execution.payer_currency,
            "payee_currency": execution.payee_currency,
            "provider_transaction_id": execution.provider_transaction_id,
            "gateway_message": execution.gateway_message,
            "wallet_message": execution.wallet_message,
            "requires_action": bool(execution.requires_action),
        }
        if isinstance(execution.payment_intent_id, int):
            changes["payment_intent_id"] = execution.payment_intent_id
        for name, value in changes.items():
            if value is not None or name == "remote_status":
                setattr(row, name, value)
        if row.local_state != new_state:
            _move(db, row, new_state, actor, f"Dollr says {status.value if status else '?'}")
        if new_state is AttemptState.ACCEPTED:
            row.next_poll_at = utcnow() + next_poll_delay(row.poll_count)
            row.poll_count += 1
        else:
            row.final_at = utcnow()
            row.next_poll_at = None
            _finish_intent(db, row, actor)
        row.last_error = None if new_state is not AttemptState.FAILED else _failure_text(execution)
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def _status_of(execution: Execution) -> ExecutionStatus:
    try:
        return ExecutionStatus(str(execution.status))
    except ValueError:
        return ExecutionStatus.PROCESSING  # an unknown status is not final: keep polling


def _failure_text(execution: Execution) -> str:
    return execution.wallet_message or execution.gateway_message or "Dollr reported the payment as failed."


def next_poll_delay(poll_count: int) -> timedelta:
    """2 s at first, backing off to 30 s during a long PROCESSING (the payer may take minutes)."""
    return timedelta(seconds=min(2.0 * (1.5**poll_count), 30.0))


def _finish_intent(db: Session, attempt: Attempt, actor: str) -> None:
    intent = db.get(Intent, attempt.intent_id, with_for_update=True)
    if intent is None or intent.current_attempt_id != attempt.id:
        return
    final = IntentState.COMPLETED if attempt.local_state == AttemptState.COMPLETED else IntentState.FAILED
    if intent.state != final:
        _intent_to(db, intent, final, actor, attempt.last_error or attempt.local_state)
    intent.lease_owner = intent.lease_until = None
    intent.last_error = attempt.last_error
    db.add(intent)


def _finish_refused(
    engine: Engine, attempt: Attempt, exc: DollrError, actor: str, *, expect_owner: str | None = None
) -> Attempt:
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if expect_owner is not None and row.lease_owner != expect_owner:
            raise LeaseLost(row.reference_id)
        _move(db, row, AttemptState.REFUSED, actor, exc.message)
        row.last_error = exc.message
        row.final_at = utcnow()
        row.next_poll_at = None
        db.add(row)
        _finish_intent(db, row, actor)
        db.commit()
        db.refresh(row)
        return row


def _record_error(engine: Engine, attempt: Attempt, exc: DollrError, actor: str) -> Attempt:
    return _update(engine, attempt, actor, "error", last_error=exc.message)


def _schedule(engine: Engine, attempt: Attempt, *, seconds: float, hold_sends: bool = False) -> Attempt:
    """When to look again; `hold_sends` also keeps every sender away until then (429)."""
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        row.next_poll_at = utcnow() + timedelta(seconds=seconds)
        if hold_sends:
            row.retry_not_before = row.next_poll_at
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def mark_unknown(engine: Engine, attempt: Attempt, actor: str) -> Attempt:
    """The sender's lease ran out mid-call: nobody knows whether Dollr got the request."""
    return _move_and_save(engine, attempt, AttemptState.UNKNOWN, actor, "sender went silent")


def release(engine: Engine, attempt: Attempt, *, retry_in: timedelta | None = None) -> Attempt:
    """Give up the lease; a worker that failed asks for the next look a little later."""
    if retry_in is not None:
        attempt = _schedule(engine, attempt, seconds=retry_in.total_seconds())
    return _release(engine, attempt)


def _release(engine: Engine, attempt: Attempt) -> Attempt:
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        row.lease_owner = row.lease_until = None
        if row.local_state in (AttemptState.UNKNOWN, AttemptState.PREPARING) and row.next_poll_at is None:
            row.next_poll_at = utcnow() + timedelta(seconds=3)
        db.add(row)
        intent = db.get(Intent, row.intent_id)
        if intent is not None and intent.current_attempt_id == row.id:
            intent.lease_owner = intent.lease_until = None
            db.add(intent)
        db.commit()
        db.refresh(row)
        return row


def _update(
    engine: Engine,
    attempt: Attempt,
    actor: str,
    action: str,
    *,
    expect_owner: str | None = None,
    **changes: Any,
) -> Attempt:
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if expect_owner is not None and (
            row.lease_owner != expect_owner or row.local_state != attempt.local_state
        ):
            raise LeaseLost(row.reference_id)
        new_state = changes.pop("local_state", None)
        for name, value in changes.items():
            setattr(row, name, value)
        if new_state is not None and new_state != row.local_state:
            _move(db, row, AttemptState(new_state), actor, action)
        row.updated_at = utcnow()
        db.add(row)
        db.commit()
        db.refresh(row)
        return row


def _move_and_save(
    engine: Engine,
    attempt: Attempt,
    state: AttemptState,
    actor: str,
    why: str,
    *,
    error: DollrError | None = None,
    expect_owner: str | None = None,
) -> Attempt:
    changes: dict[str, Any] = {"local_state": state}
    if error is not None:
        changes["last_error"] = error.message
    if state is AttemptState.ABANDONED:
        changes.update(final_at=utcnow(), next_poll_at=None)
    return _update(engine, attempt, actor, why, expect_owner=expect_owner, **changes)


def _move(db: Session, attempt: Attempt, state: AttemptState, actor: str, why: str) -> None:
    db.add(
        LedgerEvent(
            intent_id=attempt.intent_id,
            attempt_id=attempt.id,
            actor=actor,
            action="attempt_state",
            from_state=attempt.local_state,
            to_state=state,
            detail=why[:500],
        )
    )
    attempt.local_state = state
    attempt.updated_at = utcnow()


def _intent_to(db: Session, intent: Intent, state: IntentState, actor: str, why: str) -> None:
    db.add(
        LedgerEvent(
            intent_id=intent.id,
            actor=actor,
            action="intent_state",
            from_state=intent.state,
            to_state=state,
            detail=why[:500],
        )
    )
    intent.state = state
    intent.updated_at = utcnow()


def _session_is_gone(exc: DollrError) -> bool:
    return isinstance(exc, InvalidRequestError) and any(e.field == "session_id" for e in exc.errors)


def _is_duplicate_reference(exc: DollrError) -> bool:
    return isinstance(exc, InvalidRequestError) and any(e.field == "reference_id" for e in exc.errors)


def _public_json(body: BaseModel) -> str:
    """The body as sent, minus anything secret (the payout passcode)."""
    return body.model_dump_json(exclude={"passcode"}, by_alias=True)


def _reload(engine: Engine, attempt: Attempt) -> Attempt:
    with Session(engine) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        return row


def current_attempt(engine: Engine, intent_key: str) -> Attempt:
    with Session(engine) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == intent_key)).one()
        if intent.current_attempt_id is None:
            raise IntentNotReady(_not_ready_reason(IntentState(intent.state)))
        attempt = db.get(Attempt, intent.current_attempt_id)
        assert attempt is not None
        return attempt
