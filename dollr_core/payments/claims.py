"""Taking an intent for one worker, before anything is sent: the compare-and-set that claims a
ready intent and stores its attempt's new reference_id in the same transaction, the same for an
intent written in that transaction (`claim_new`), and the takeover of an attempt whose worker went
silent. `payments.protocol` calls these; nothing else does."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from dollr_core.basics.enums import OperationType
from dollr_core.ledger import transitions
from dollr_core.ledger.columns import as_stored, utcnow
from dollr_core.ledger.intents import NewIntent, insert_new, locked_intent
from dollr_core.ledger.leases import LEASE
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState
from dollr_core.payments.attempts import IntentNotReady, new_attempt, not_ready_reason


def claim_new(
    engine: Engine,
    new: NewIntent,
    operation: OperationType,
    *,
    actor: str,
    owner: str,
    sending: Callable[[Attempt], dict[str, Any]] | None = None,
) -> Attempt | None:
    """Write `new` (READY), claim it and store its attempt, in one transaction; the attempt as
    stored. `sending`: the columns of the attempt's move to SENDING (the body it will send, made
    with its new reference_id), in the same transaction. None: `new`'s key is taken, and
    nothing was written."""
    if new.state is not IntentState.READY:
        raise IntentNotReady(not_ready_reason(new.state))
    now = utcnow()
    with Session(engine, expire_on_commit=False) as db:  # the rows as written: nothing read back
        intent = insert_new(db, new)
        if intent is None:
            return None
        lease = {"lease_owner": owner, "lease_until": now + LEASE, "updated_at": now}
        if not transitions.move_unread(
            db, intent, IntentState.EXECUTING, values=lease, actor=actor, detail="claimed for sending"
        ):
            raise RuntimeError(f"Fault in the console: intent {intent.id} changed in its own transaction.")
        attempt = new_attempt(db, intent, operation, actor=actor, owner=owner)
        if sending is not None and not transitions.move_unread(
            db, attempt, AttemptState.SENDING, values=sending(attempt), actor=actor, detail="sending"
        ):
            raise RuntimeError(f"Fault in the console: attempt {attempt.id} changed in its own transaction.")
        db.commit()
    return as_stored(attempt)


def claim(
    engine: Engine,
    intent_key: str,
    operation: OperationType,
    *,
    actor: str,
    owner: str,
    as_left: Intent | None = None,
) -> Attempt | None:
    """Atomically take the intent for this worker. None: someone else holds it, or it is final."""
    now = utcnow()
    lease = {"lease_owner": owner, "lease_until": now + LEASE, "updated_at": now}
    with Session(engine, expire_on_commit=False) as db:  # the rows as written: nothing read back
        if as_left is not None and IntentState(as_left.state) is IntentState.READY:
            # The same compare-and-set as below (READY → EXECUTING on its id), with the terms the
            # caller saw: a row changed since (another tab's edit, another claim) is read instead.
            assert as_left.intent_key == intent_key
            unchanged = {"params_fingerprint": as_left.params_fingerprint}
            if transitions.move_unread(
                db,
                as_left,
                IntentState.EXECUTING,
                match=unchanged,
                values=lease,
                actor=actor,
                detail="claimed for sending",
            ):
                attempt = new_attempt(db, as_left, operation, actor=actor, owner=owner)
                db.commit()
                return as_stored(attempt)
        intent = locked_intent(db, intent_key)
        if intent is None:
            raise IntentNotReady("This payment was not prepared; start again from the form.")
        state = IntentState(intent.state)
        if state in (IntentState.OPEN, IntentState.AWAITING_APPROVAL, IntentState.REJECTED):
            raise IntentNotReady(not_ready_reason(state))
        if state is IntentState.READY:
            claimed = transitions.move_where(
                db,
                Intent,
                IntentState.READY,
                IntentState.EXECUTING,
                match={"id": intent.id},
                values=lease,
                actor=actor,
                detail="claimed for sending",
            )
            if claimed != [intent.id]:
                return None
            attempt = new_attempt(db, intent, operation, actor=actor, owner=owner)
            db.commit()
            return as_stored(attempt)
        if state is not IntentState.EXECUTING or intent.current_attempt_id is None:
            return None
        held = db.get(Attempt, intent.current_attempt_id)
        if held is None or not _takeover_allowed(held, now):
            return None
        held.lease_owner, held.lease_until = owner, now + LEASE
        if held.local_state == AttemptState.SENDING:
            transitions.move(
                db, held, AttemptState.UNKNOWN, actor=actor, detail="taken over after the sender went silent"
            )
        db.add(held)
        db.commit()
        return as_stored(held)


def _takeover_allowed(attempt: Attempt, now: datetime) -> bool:
    """A held attempt is only taken over once its holder's lease has run out."""
    state = AttemptState(attempt.local_state)
    if state in (AttemptState.PREPARING, AttemptState.SENDING, AttemptState.UNKNOWN):
        return attempt.lease_until is None or attempt.lease_until < now
    return False
