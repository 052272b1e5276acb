"""An attempt's record in the ledger: every write the execution protocol makes to an attempt and
to the intent it holds, each in one short transaction, each state change through
`ledger.transitions`.

Writes made after a send check that this worker still holds the attempt's lease (`expect_owner`),
so a sender taken over while its call was out never finishes an attempt another worker settles.

A write is one compare-and-set statement on the row as this worker last wrote it (its state, and
its lease where given), with its event in the same transaction; the attempt returned is the one
written, never read back. Only when the row is no longer as we left it (another worker moved it)
is it read, locked, and judged on what it holds.
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine, and_, case
from sqlalchemy import update as sql_update
from sqlalchemy.orm.attributes import set_committed_value
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError
from dollr_core.api.models import Execution
from dollr_core.basics.enums import ExecutionStatus, OperationType
from dollr_core.basics.phone import mask_phone
from dollr_core.errors import ChangedMeanwhile
from dollr_core.ledger import audit, statements, transitions
from dollr_core.ledger.columns import as_loaded, as_stored, utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.leases import LEASE
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, IntentState


class LeaseLost(RuntimeError):
    """Another worker took the attempt over (our lease ran out): stop without sending."""


class IntentNotReady(ChangedMeanwhile):
    """The intent cannot be executed now (awaiting approval, not prepared, rejected ...)."""


def not_ready_reason(state: IntentState) -> str:
    return {
        IntentState.OPEN: "This payment is not fully prepared yet.",
        IntentState.AWAITING_APPROVAL: "This payment is waiting for a manager's approval.",
        IntentState.REJECTED: "This payment was rejected by an approver; it will not be sent.",
    }.get(state, "This payment cannot be sent now.")


def new_attempt(db: Session, intent: Intent, operation: OperationType, *, actor: str, owner: str) -> Attempt:
    """Store a fresh reference_id for the intent: only ever called while holding the intent."""
    reference_id = str(uuid.uuid4())
    values = {
        "reference_id": reference_id,
        "intent_id": intent.id or 0,
        "operation_type": operation,
        "step": "execute",
        "local_state": AttemptState.PREPARING,
        **{name: getattr(intent, name) for name in _FROM_INTENT},
        "operator": intent.operator or actor,
        "lease_owner": owner,
        "lease_until": utcnow() + LEASE,
    }
    attempt = transitions.insert(
        db, Attempt, values, actor=actor, action="attempt_created", detail=reference_id
    )
    assert attempt is not None  # no conflict column: the row is written, or the statement raises
    if intent.state != IntentState.EXECUTING:
        transitions.move(db, intent, IntentState.EXECUTING, actor=actor, detail=attempt.reference_id)
        db.flush()
    # The intent is locked by the caller: one statement, and the row held in `db` kept in step.
    held = {"current_attempt_id": attempt.id, "step": "execute", "updated_at": utcnow()}
    table = Intent.__table__  # type: ignore[attr-defined]
    statements.update_where(db.connection(), table, {"id": intent.id}, held)
    for name, value in held.items():
        set_committed_value(intent, name, as_loaded(table.c[name].type, value))
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


#: What an attempt copies from its intent: the terms it sends, frozen when it is made.
_FROM_INTENT = (
    "account_id",
    "source_type",
    "source_id",
    "source_number",
    "party_name",
    "phone",
    "method",
    "provider",
    "amount",
    "currency",
    "payer_currency",
    "batch_id",
    "predicted_payer_amount",
    "predicted_payee_amount",
    "predicted_platform_fee",
    "predicted_gateway_fee",
    "predicted_fx_fee",
)


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


def adopt(
    engine: Engine, attempt: Attempt, execution: Execution, actor: str, *, release_lease: bool = False
) -> Attempt:
    """Record what Dollr holds for the reference_id; finish the intent when it is final.

    `release_lease`: this worker is done with the attempt, so the same write gives up its lease
    (what `release` would do in a transaction of its own)."""
    status = _status_of(execution)
    new_state = {
        ExecutionStatus.COMPLETED: AttemptState.COMPLETED,
        ExecutionStatus.FAILED: AttemptState.FAILED,
    }.get(status, AttemptState.ACCEPTED)
    frm = AttemptState(attempt.local_state)
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
    values = {name: value for name, value in changes.items() if value is not None or name == "remote_status"}
    now = utcnow()
    if new_state is AttemptState.ACCEPTED:
        values["next_poll_at"] = now + next_poll_delay(attempt.poll_count)
        values["poll_count"] = attempt.poll_count + 1
    else:
        values["final_at"], values["next_poll_at"] = now, None
    values["last_error"] = None if new_state is not AttemptState.FAILED else _failure_text(execution)
    why = f"Dollr says {status.value if status else '?'}"
    if release_lease:
        values["lease_owner"] = values["lease_until"] = None
    with _session(engine) as db:
        if not frm.is_final and (frm is new_state or transitions.allowed(Attempt, frm, new_state)):
            # As this worker left it (same state, same poll): one statement, no read.
            if _write(db, attempt, frm, new_state, {"poll_count": attempt.poll_count}, values, actor, why):
                if new_state.is_final:
                    _finish_intent(db, attempt, actor)
                elif release_lease:
                    _release_intent(db, attempt)
                db.commit()
                return attempt
            db.rollback()
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if AttemptState(row.local_state).is_final:
            return release(engine, row) if release_lease else row
        for name, value in values.items():
            if name != "poll_count" and name != "next_poll_at":
                setattr(row, name, value)
        if row.local_state != new_state:
            _move(db, row, new_state, actor, why)
        if new_state is AttemptState.ACCEPTED:
            row.next_poll_at = utcnow() + next_poll_delay(row.poll_count)
            row.poll_count += 1
        else:
            row.final_at = utcnow()
            row.next_poll_at = None
            _finish_intent(db, row, actor)
        if release_lease:
            _release_intent(db, row)
        db.add(row)
        db.commit()
        return as_stored(row)


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
    """The attempt ended: its intent ends with it (if it is still the intent's attempt)."""
    final = IntentState.COMPLETED if attempt.local_state == AttemptState.COMPLETED else IntentState.FAILED
    why = (attempt.last_error or attempt.local_state)[:500]
    cleared = {"lease_owner": None, "lease_until": None, "last_error": attempt.last_error}
    current = {"id": attempt.intent_id, "current_attempt_id": attempt.id}
    if transitions.move_where(
        db, Intent, IntentState.EXECUTING, final, match=current, values=cleared, actor=actor, detail=why
    ):
        return
    # Not executing any more (finished by another worker, or never claimed): read it and see.
    intent = db.get(Intent, attempt.intent_id, with_for_update=True)
    if intent is None or intent.current_attempt_id != attempt.id:
        return
    if intent.state != final:
        _intent_to(db, intent, final, actor, why)
    intent.lease_owner = intent.lease_until = None
    intent.last_error = attempt.last_error
    db.add(intent)


def finish_refused(
    engine: Engine, attempt: Attempt, exc: DollrError, actor: str, *, expect_owner: str | None = None
) -> Attempt:
    """Dollr refused the request on its content: nothing exists, the intent has failed."""
    with _session(engine) as db:
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if expect_owner is not None and row.lease_owner != expect_owner:
            raise LeaseLost(row.reference_id)
        row.last_error = exc.message
        _move(db, row, AttemptState.REFUSED, actor, exc.message)
        db.add(row)
        _finish_intent(db, row, actor)
        db.commit()
        return as_stored(row)


def record_error(engine: Engine, attempt: Attempt, exc: DollrError, actor: str) -> Attempt:
    return update(engine, attempt, actor, "error", last_error=exc.message)


def schedule(engine: Engine, attempt: Attempt, *, seconds: float, hold_sends: bool = False) -> Attempt:
    """When to look again; `hold_sends` also keeps every sender away until then (429)."""
    values: dict[str, Any] = {"next_poll_at": utcnow() + timedelta(seconds=seconds)}
    if hold_sends:
        values["retry_not_before"] = values["next_poll_at"]
    with _session(engine) as db:
        row = db.scalars(
            sql_update(Attempt)
            .where(col(Attempt.id) == attempt.id)
            .values(values)
            .returning(Attempt)
            .execution_options(synchronize_session=False)
        ).one()
        db.commit()
        return row


def mark_unknown(engine: Engine, attempt: Attempt, actor: str) -> Attempt:
    """The sender's lease ran out mid-call: nobody knows whether Dollr got the request."""
    return move_and_save(engine, attempt, AttemptState.UNKNOWN, actor, "sender went silent")


def release(engine: Engine, attempt: Attempt, *, retry_in: timedelta | None = None) -> Attempt:
    """Give up the lease; a worker that failed asks for the next look a little later."""
    if retry_in is not None:
        attempt = schedule(engine, attempt, seconds=retry_in.total_seconds())
    waiting = and_(
        col(Attempt.local_state).in_([AttemptState.UNKNOWN, AttemptState.PREPARING]),
        col(Attempt.next_poll_at).is_(None),
    )
    soon = utcnow() + timedelta(seconds=3)
    with _session(engine) as db:
        row = db.scalars(
            sql_update(Attempt)
            .where(col(Attempt.id) == attempt.id)
            .values(
                lease_owner=None,
                lease_until=None,
                next_poll_at=case((waiting, soon), else_=col(Attempt.next_poll_at)),
            )
            .returning(Attempt)
            .execution_options(synchronize_session=False)
        ).one()
        _release_intent(db, row)
        db.commit()
        return row


def _release_intent(db: Session, attempt: Attempt) -> None:
    """The intent's lease goes with its current attempt's."""
    statements.update_where(
        db.connection(),
        Intent.__table__,  # type: ignore[attr-defined]
        {"id": attempt.intent_id, "current_attempt_id": attempt.id},
        {"lease_owner": None, "lease_until": None},
    )


def update(
    engine: Engine,
    attempt: Attempt,
    actor: str,
    action: str,
    *,
    state: AttemptState | None = None,
    expect_owner: str | None = None,
    **changes: Any,
) -> Attempt:
    """Write `changes` (and move to `state`, if given and new) in one transaction."""
    frm = AttemptState(attempt.local_state)
    to = frm if state is None else state
    values = {**changes, "updated_at": utcnow()}
    with _session(engine) as db:
        if to is frm or transitions.allowed(Attempt, frm, to):
            match = {} if expect_owner is None else {"lease_owner": expect_owner}
            if _write(db, attempt, frm, to, match, values, actor, action):
                db.commit()
                return attempt
            db.rollback()
        # Not as this worker left it: read it, and go on only if the lease is still ours.
        row = db.get(Attempt, attempt.id, with_for_update=True)
        assert row is not None
        if expect_owner is not None and (
            row.lease_owner != expect_owner or row.local_state != attempt.local_state
        ):
            raise LeaseLost(row.reference_id)
        for name, value in changes.items():
            setattr(row, name, value)
        if state is not None and state != row.local_state:
            _move(db, row, state, actor, action)
        row.updated_at = utcnow()
        db.add(row)
        db.commit()
        return as_stored(row)


def _session(engine: Engine) -> Session:
    """A session whose rows keep what was written to them at commit: nothing is read back."""
    return Session(engine, expire_on_commit=False)


def _write(
    db: Session,
    attempt: Attempt,
    frm: AttemptState,
    to: AttemptState,
    match: dict[str, Any],
    values: dict[str, Any],
    actor: str,
    why: str,
) -> bool:
    """Compare-and-set on the attempt as this worker left it (in `frm`, and the columns `match`
    names holding those values): the change, with its event when the state moves, in the
    caller's transaction; `attempt` then holds what was written. False: the ledger's row is no
    longer like that, and nothing was written."""
    if to is not frm:
        return transitions.move_unread(
            db, attempt, to, match=match, values=values, actor=actor, detail=why[:500]
        )
    table = Attempt.__table__  # type: ignore[attr-defined]
    as_left = {"id": attempt.id, "local_state": frm, **match}
    result = statements.update_where(db.connection(), table, as_left, values)
    if result.rowcount != 1:
        return False
    for name, value in values.items():
        set_committed_value(attempt, name, as_loaded(table.c[name].type, value))
    return True


def move_and_save(
    engine: Engine,
    attempt: Attempt,
    state: AttemptState,
    actor: str,
    why: str,
    *,
    error: DollrError | None = None,
    expect_owner: str | None = None,
) -> Attempt:
    changes: dict[str, Any] = {}
    if error is not None:
        changes["last_error"] = error.message
    return update(engine, attempt, actor, why, state=state, expect_owner=expect_owner, **changes)


def _move(db: Session, attempt: Attempt, state: AttemptState, actor: str, why: str) -> None:
    transitions.move(db, attempt, state, actor=actor, detail=why[:500])


def _intent_to(db: Session, intent: Intent, state: IntentState, actor: str, why: str) -> None:
    transitions.move(db, intent, state, actor=actor, detail=why[:500])


def reload(engine: Engine, attempt: Attempt) -> Attempt:
    with Session(read_only(engine)) as db:
        row = db.get(Attempt, attempt.id)
        assert row is not None
        return row


def current_attempt(engine: Engine, intent_key: str) -> Attempt:
    with Session(read_only(engine)) as db:
        intent = db.exec(select(Intent).where(Intent.intent_key == intent_key)).one()
        if intent.current_attempt_id is None:
            raise IntentNotReady(not_ready_reason(IntentState(intent.state)))
        attempt = db.get(Attempt, intent.current_attempt_id)
        assert attempt is not None
        return attempt
