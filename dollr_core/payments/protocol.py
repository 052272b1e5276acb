"""The execution protocol: the one place where a call that moves money is made.

Every money-moving operation (collection, payout, transfer, refund; single or bulk) goes through
`submit` (a bulk row through `open_and_submit`, which writes its intent in the claim's own
transaction), and every later look at its outcome through `refresh` (or, for many attempts at once,
`claim_due`, which takes their leases as `refresh` does, then `follow_held` for each). The rules
they keep:

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

This module is the entry point and the order of the steps; `payments.attempts` writes each step's
result to the ledger (state changes through `ledger.transitions`), and `payments.landing` holds
what proves a request was refused or can no longer land.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from pydantic import BaseModel
from sqlalchemy import Engine, bindparam, or_
from sqlalchemy import update as sql_update
from sqlmodel import Session, col, select

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import DollrError, NotFoundError, RateLimitError
from dollr_core.api.models import CollectionExecute, Execution, RefundExecute, TransferExecute
from dollr_core.basics.enums import OperationType
from dollr_core.ledger import audit
from dollr_core.ledger.columns import as_stored, utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.intents import NewIntent
from dollr_core.ledger.leases import LEASE, Heartbeat
from dollr_core.ledger.tables import OPEN_ATTEMPT_STATES, Attempt, AttemptState, Intent
from dollr_core.payments.attempts import (
    IntentNotReady,
    LeaseLost,
    adopt,
    current_attempt,
    finish_refused,
    mark_unknown,
    move_and_save,
    new_attempt,
    next_poll_delay,
    record_error,
    release,
    reload,
    reopen_intent,
    schedule,
    update,
)
from dollr_core.payments.claims import claim, claim_new
from dollr_core.payments.landing import (
    CLOCK_MARGIN,
    judged_and_refused,
    session_is_gone,
    session_over_at_dollr,
    wait_for_proof,
)

log = logging.getLogger("dollr_core.payments.protocol")

#: The protocol's names, wherever they are written: callers use `protocol.<name>`.
__all__ = [
    "CLOCK_MARGIN",
    "LEASE",
    "ExecutionPlan",
    "IntentNotReady",
    "LeaseLost",
    "OpenedSession",
    "checkpoint",
    "claim_due",
    "crash_hook",
    "current_attempt",
    "follow_held",
    "mark_unknown",
    "next_poll_delay",
    "open_and_submit",
    "owner_id",
    "rebuild_from_ledger",
    "refresh",
    "release",
    "reopen_intent",
    "submit",
]

#: New attempts one submit may open after sessions that expired unseen.
MAX_RENEWALS = 2


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
    as_left: Intent | None = None,
) -> Attempt:
    """Carry the intent's payment out once, or report on the attempt that already holds it.

    `as_left`: the intent as the caller last read or wrote it; when it was READY and the ledger's
    row still is, with the same terms, the claim takes it without reading it first."""
    me = owner_id()
    attempt = claim(engine, intent_key, plan.operation_type, actor=actor, owner=me, as_left=as_left)
    if attempt is None:
        return current_attempt(engine, intent_key)
    return _carry_out(engine, client, attempt, plan, actor=actor, owner=me)


def open_and_submit(
    engine: Engine,
    client: DollrClient,
    new: NewIntent,
    plan: ExecutionPlan,
    *,
    actor: str,
) -> Attempt | None:
    """`submit` of an intent not written yet, for a payment prepared and sent in one go with no
    person between (a bulk row): its session is opened first, then the intent, its claim, its
    attempt with the reference_id and the body to send are stored as SENDING in one
    transaction, where storing the intent, claiming it and storing the body were three; then
    the body goes out, and the protocol follows it as any other.

    A session moves no money: a crash before that transaction leaves an unused session and
    nothing to follow, and a second worker's session, if any, stays unused. A session Dollr
    does not open is the usual path's to handle (intent and claim, then the protocol opens the
    session itself and records what Dollr says). `plan` is built from the intent's values.

    None: `new`'s key is taken (an earlier run of the same payment), and nothing was written;
    the caller opens that intent and submits it as usual."""
    me = owner_id()
    checkpoint("before_session")
    try:
        opened: OpenedSession | None = plan.open_session()
    except DollrError:
        opened = None
    checkpoint("after_session")
    body: BaseModel | None = None

    def sending(attempt: Attempt) -> dict[str, Any]:
        nonlocal body
        assert opened is not None
        body = plan.build(opened.session_id, attempt.reference_id)
        return _sending_values(body, attempt, opened)

    claimed = claim_new(
        engine, new, plan.operation_type, actor=actor, owner=me, sending=sending if opened else None
    )
    if claimed is None:
        return None
    return _carry_out(engine, client, claimed, plan, actor=actor, owner=me, body=body)


def _carry_out(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    plan: ExecutionPlan,
    *,
    actor: str,
    owner: str,
    body: BaseModel | None = None,
) -> Attempt:
    """Drive the attempt this worker claimed, under its heartbeat, and audit a refusal. `body`:
    the attempt is SENDING with this body stored, and it goes out first."""
    with Heartbeat(engine, owner, [attempt.intent_id]):
        if body is not None:
            attempt = _deliver(engine, client, attempt, plan, body, actor=actor, first_copy=True)
        attempt = _drive(engine, client, attempt, plan, actor=actor, owner=owner)
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
                attempt = move_and_save(engine, attempt, AttemptState.ABANDONED, actor, "never sent")
                reopen_intent(engine, attempt, actor)
                break
            try:
                attempt = _open_session_and_send(engine, client, attempt, plan, actor=actor, owner=owner)
            except LeaseLost:
                return reload(engine, attempt)
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
    if attempt.lease_owner is None and AttemptState(attempt.local_state) in _ADOPTED:
        return attempt  # Dollr's answer was written with the lease given up (`adopt`)
    return release(engine, attempt)


#: The states `adopt` leaves an attempt in: every adopt in `_drive` also gives up the lease.
_ADOPTED = frozenset({AttemptState.ACCEPTED, AttemptState.COMPLETED, AttemptState.FAILED})


def _open_session_and_send(
    engine: Engine, client: DollrClient, attempt: Attempt, plan: ExecutionPlan, *, actor: str, owner: str
) -> Attempt:
    opened: OpenedSession | None = None
    if attempt.session_id is None:
        checkpoint("before_session")
        try:
            opened = plan.open_session()
        except DollrError as exc:
            if exc.outcome_unknown:
                # An orphan session moves no money; the next try opens another.
                return record_error(engine, attempt, exc, actor)
            return finish_refused(engine, attempt, exc, actor)
        checkpoint("after_session")  # a crash here leaves an orphan session: it moves no money
    return _send(engine, client, attempt, plan, actor=actor, owner=owner, opened=opened)


def _send(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    plan: ExecutionPlan,
    *,
    actor: str,
    owner: str,
    opened: OpenedSession | None = None,
) -> Attempt:
    """Store the body (and the session just opened) as SENDING in one write, then send it."""
    session = opened.session_id if opened is not None else attempt.session_id
    assert session is not None
    body = plan.build(session, attempt.reference_id)
    first_copy = attempt.sent_at is None
    values = _sending_values(body, attempt, opened)
    attempt = update(
        engine, attempt, actor, "sending", expect_owner=owner, state=AttemptState.SENDING, **values
    )
    return _deliver(engine, client, attempt, plan, body, actor=actor, first_copy=first_copy)


def _sending_values(body: BaseModel, attempt: Attempt, opened: OpenedSession | None) -> dict[str, Any]:
    """The columns an attempt moving to SENDING stores with the body it sends."""
    values: dict[str, Any] = {"request_json": _public_json(body), "sent_at": attempt.sent_at or utcnow()}
    if opened is not None:
        values |= {"session_id": opened.session_id, "session_expires_at": opened.expires_at}
    return values


def _deliver(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    plan: ExecutionPlan,
    body: BaseModel,
    *,
    actor: str,
    first_copy: bool,
) -> Attempt:
    """Send the body stored with the SENDING attempt, and write what Dollr answered."""
    checkpoint("before_execute")
    try:
        execution = _execute(client, attempt.op, body)
    except DollrError as exc:
        try:
            return _after_send_error(engine, client, attempt, plan, exc, actor=actor, first_copy=first_copy)
        except LeaseLost:  # taken over while our call was out: the new holder settles it
            return reload(engine, attempt)
    checkpoint("after_execute")
    return adopt(engine, attempt, execution, actor, release_lease=True)


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
    if first_copy and judged_and_refused(exc):
        # The only copy ever sent was refused by Dollr itself: nothing exists and nothing can land.
        if session_is_gone(exc):
            return move_and_save(
                engine, attempt, AttemptState.ABANDONED, actor, exc.message, error=exc, expect_owner=owner
            )
        return finish_refused(engine, attempt, exc, actor, expect_owner=owner)
    attempt = move_and_save(
        engine, attempt, AttemptState.UNKNOWN, actor, exc.message, error=exc, expect_owner=owner
    )
    if isinstance(exc, RateLimitError):
        return schedule(engine, attempt, seconds=exc.retry_after or 2.0, hold_sends=True)
    return _settle_unknown(engine, client, attempt, plan, actor=actor)


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
    dead_before_lookup = session_over_at_dollr(client, attempt)
    checkpoint("before_lookup")
    try:
        execution = client.status.execution(attempt.op, attempt.reference_id)
    except NotFoundError:
        execution = None
    except DollrError as exc:
        return schedule(engine, record_error(engine, attempt, exc, actor), seconds=5)
    if execution is not None:
        return adopt(engine, attempt, execution, actor, release_lease=True)
    # Dollr never saw it. Resending the same id is safe: Dollr answers a replay with the original.
    if attempt.session_id is None:  # no session was ever opened, so nothing was sent
        return update(engine, attempt, actor, "back_to_prepare", state=AttemptState.PREPARING)
    if dead_before_lookup:
        return move_and_save(
            engine,
            attempt,
            AttemptState.ABANDONED,
            actor,
            "Dollr has no record of it after its session expired at Dollr: it can no longer land",
        )
    body = _resend_body(attempt, plan)
    if body is None:  # the body holds a secret we never store: wait for the person to confirm again
        return schedule(engine, attempt, seconds=wait_for_proof(client, attempt, 10.0))
    try:
        checkpoint("before_resend")
        execution = _execute(client, attempt.op, body)
    except DollrError as exc:
        # A refused resend says nothing about the first copy, which may still be on its way.
        changes: dict[str, Any] = {"last_error": exc.message, "poll_count": attempt.poll_count + 1}
        if session_is_gone(exc) and attempt.session_expires_at is None:
            changes["session_expires_at"] = client.server_clock.now_at_dollr()  # over by Dollr's word
        wait = next_poll_delay(attempt.poll_count).total_seconds()
        attempt = update(engine, attempt, actor, "resend not accepted", **changes)
        limited = isinstance(exc, RateLimitError)
        if isinstance(exc, RateLimitError) and exc.retry_after:
            wait = exc.retry_after
        return schedule(engine, attempt, seconds=wait_for_proof(client, attempt, wait), hold_sends=limited)
    return adopt(engine, attempt, execution, actor, release_lease=True)


def _resend_body(attempt: Attempt, plan: ExecutionPlan | None) -> BaseModel | None:
    assert attempt.session_id is not None
    if plan is not None:
        return plan.build(attempt.session_id, attempt.reference_id)
    return rebuild_from_ledger(attempt)


def rebuild_from_ledger(attempt: Attempt) -> BaseModel | None:
    """The stored body, for operations whose body holds no secret (all but payouts)."""
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
    with Session(engine, expire_on_commit=False) as db:
        intent = db.get(Intent, abandoned.intent_id, with_for_update=True)
        if intent is None or intent.current_attempt_id != abandoned.id:
            return None
        attempt = new_attempt(db, intent, operation, actor=actor, owner=owner)
        db.commit()
        return as_stored(attempt)


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
    me, taken = _take_leases(engine, [reference_id], due_only=not force)
    if not taken:  # final, held by another worker, not due yet, or not ours at all
        with Session(read_only(engine)) as db:
            seen = db.exec(_BY_REFERENCE, params={"ref": reference_id}).one_or_none()
        if seen is None:
            raise LookupError(f"No payment with reference {reference_id} in the ledger.")
        return seen
    return follow_held(engine, client, taken[0], actor=actor, owner=me, plan=plan)


def claim_due(engine: Engine, reference_ids: Sequence[str]) -> tuple[str, list[Attempt]]:
    """`refresh`'s lease for many attempts at once (a bulk batch's rows on their way): one
    compare-and-set takes every open, due attempt among them that nobody holds. Returns the owner
    the leases were taken for and the attempts taken; each is then followed by `follow_held`
    (a lease not followed lapses after `LEASE`, as a dead worker's does)."""
    return _take_leases(engine, reference_ids, due_only=True)


def follow_held(
    engine: Engine,
    client: DollrClient,
    attempt: Attempt,
    *,
    actor: str,
    owner: str,
    plan: ExecutionPlan | None = None,
) -> Attempt:
    """One look at Dollr for an attempt whose lease `owner` took (`refresh`, `claim_due`)."""
    with Heartbeat(engine, owner, [attempt.intent_id]):
        if attempt.local_state in (AttemptState.SENDING, AttemptState.PREPARING) and attempt.sent_at:
            attempt = mark_unknown(engine, attempt, actor)
        return _poll_held(engine, client, attempt, actor=actor, owner=owner, plan=plan)


def _take_leases(
    engine: Engine, reference_ids: Sequence[str], *, due_only: bool
) -> tuple[str, list[Attempt]]:
    me = owner_id()
    now = utcnow()
    claim = {"refs": list(reference_ids), "now": now, "owner": me, "until": now + LEASE}
    with Session(engine, expire_on_commit=False) as db:
        taken = list(db.scalars(_CLAIM_DUE if due_only else _CLAIM_ANY, claim).all())
        db.commit()
    return me, taken


def _claim_statement(*, due_only: bool) -> Any:
    """`refresh`'s compare-and-set, built once: the lease on open attempts nobody holds (and,
    unless forced, whose next look is due), the attempts as they then are."""
    now = bindparam("now", type_=Attempt.__table__.c.lease_until.type)  # type: ignore[attr-defined]
    claimable = [
        col(Attempt.reference_id).in_(bindparam("refs", expanding=True)),
        col(Attempt.local_state).in_(OPEN_ATTEMPT_STATES),
        or_(col(Attempt.lease_until).is_(None), col(Attempt.lease_until) <= now),
    ]
    if due_only:
        claimable.append(or_(col(Attempt.next_poll_at).is_(None), col(Attempt.next_poll_at) <= now))
    return (
        sql_update(Attempt)
        .where(*claimable)
        .values(lease_owner=bindparam("owner"), lease_until=bindparam("until"))
        .returning(Attempt)
        .execution_options(synchronize_session=False)
    )


_CLAIM_DUE = _claim_statement(due_only=True)
_CLAIM_ANY = _claim_statement(due_only=False)
_BY_REFERENCE = select(Attempt).where(col(Attempt.reference_id) == bindparam("ref"))


def _poll_held(
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
            return release(engine, schedule(engine, record_error(engine, attempt, exc, actor), seconds=5))
        return adopt(engine, attempt, execution, actor, release_lease=True)
    return _drive(engine, client, attempt, plan, actor=actor, owner=owner)


# --------------------------------------------------------------------------- sending


def _execute(client: DollrClient, operation: OperationType, body: BaseModel) -> Execution:
    send: Callable[[Any], Execution] = getattr(client.executions, operation.value.lower())
    return send(body)


def _public_json(body: BaseModel) -> str:
    """The body as sent, minus anything secret (the payout passcode)."""
    return body.model_dump_json(exclude={"passcode"}, by_alias=True)
