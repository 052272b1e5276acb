"""Intents: one row per intended payment, keyed by the key its form was given when shown.

A form may be edited and re-previewed as often as the person likes: the intent follows it while
nothing has been sent. Once an attempt holds the intent, its terms are frozen.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine, bindparam, or_, update
from sqlmodel import Session, col, select

from dollr_core.errors import ChangedMeanwhile
from dollr_core.ledger import leases, statements, transitions
from dollr_core.ledger.columns import new_row, utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.leases import Heartbeat
from dollr_core.ledger.tables import Attempt, Intent, IntentState

#: States in which the person may still change what the intent will pay.
EDITABLE = (IntentState.OPEN, IntentState.READY, IntentState.AWAITING_APPROVAL)


def new_intent_key() -> str:
    """Made once when a money-moving form is shown, and kept across reruns of the page."""
    return uuid.uuid4().hex


def fingerprint(terms: dict[str, Any]) -> str:
    """What the intent pays, to whom, in a form that compares equal when the terms do."""
    text = json.dumps(terms, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


#: The intent of a form's key, built once (a bound key): every payment step starts here.
_BY_KEY = select(Intent).where(col(Intent.intent_key) == bindparam("key"))
_BY_KEY_LOCKED = _BY_KEY.with_for_update()


def get_intent(engine: Engine, intent_key: str) -> Intent | None:
    with Session(read_only(engine)) as db:
        return db.exec(_BY_KEY, params={"key": intent_key}).one_or_none()


def locked_intent(db: Session, intent_key: str) -> Intent | None:
    """The intent of `intent_key`, locked in `db`'s transaction until it ends."""
    return db.exec(_BY_KEY_LOCKED, params={"key": intent_key}).one_or_none()


@dataclass(frozen=True)
class NewIntent:
    """An intent not yet written, as `open_intent` takes it: for a caller that writes it in a
    transaction of its own (`insert_new`), with what it does next."""

    intent_key: str
    kind: str
    operation_type: str
    operator: str
    state: IntentState
    terms: dict[str, Any]
    fields: dict[str, Any] = field(default_factory=dict)

    def unsaved(self) -> Intent:
        """The row these values make, not written: what a plan built before the write reads."""
        return new_row(
            Intent,
            intent_key=self.intent_key,
            kind=self.kind,
            operation_type=self.operation_type,
            operator=self.operator,
            state=self.state,
            params_fingerprint=fingerprint(self.terms),
            **self.fields,
        )

    def open(self, engine: Engine) -> Intent:
        """`open_intent` of these values: created, or an editable one brought in line."""
        return open_intent(
            engine,
            self.intent_key,
            kind=self.kind,
            operation_type=self.operation_type,
            operator=self.operator,
            state=self.state,
            terms=self.terms,
            **self.fields,
        )


def insert_new(db: Session, new: NewIntent) -> Intent | None:
    """`new` inserted in `db`'s transaction, with its event (the caller commits); None when its
    key is taken, and nothing is written (the caller then goes by `NewIntent.open`)."""
    stamp = fingerprint(new.terms)
    return _insert(
        db, new.intent_key, new.kind, new.operation_type, new.operator, new.state, stamp, new.fields
    )


def open_intent(
    engine: Engine,
    intent_key: str,
    *,
    kind: str,
    operation_type: str,
    operator: str,
    state: IntentState,
    terms: dict[str, Any],
    as_left: Intent | None = None,
    **fields: Any,
) -> Intent:
    """Create the intent, or bring an editable one in line with the form; never touch one in flight.

    `as_left`: the intent of `intent_key` as this caller last wrote it (it holds the lease). When
    the ledger's row is still so (same state and terms), it is changed by one compare-and-set
    without being read first; otherwise it is read, as without it."""
    stamp = fingerprint(terms)
    with Session(engine, expire_on_commit=False) as db:  # the intent as written: never read back
        if as_left is not None and _needs_edit(as_left, state, stamp):
            assert as_left.intent_key == intent_key
            unchanged = {"params_fingerprint": as_left.params_fingerprint}
            if _edit(db, as_left, state, stamp, fields, operator, match=unchanged):
                return as_left
        # With nothing left by this caller the key is most often new (a new form, a bulk row):
        # one INSERT, no read first; a key already taken writes nothing, and is read below.
        intent = None if as_left is None else locked_intent(db, intent_key)
        if intent is None:
            intent = _insert(db, intent_key, kind, operation_type, operator, state, stamp, fields)
            if intent is not None:
                db.commit()
                return intent
            # Taken: by a second tab a moment earlier, or by this form on an earlier run.
            intent = locked_intent(db, intent_key)
            assert intent is not None
        # Locked above: the row is as read, so the one UPDATE finds it.
        if _needs_edit(intent, state, stamp) and not _edit(db, intent, state, stamp, fields, operator):
            raise RuntimeError(f"Fault in the console: intent {intent.id} changed while locked.")
        return intent


def _needs_edit(intent: Intent, state: IntentState, stamp: str) -> bool:
    """Whether an intent must change to match the form: editable, and other terms or a first quote."""
    if IntentState(intent.state) not in EDITABLE:
        return False
    return intent.params_fingerprint != stamp or (intent.state == IntentState.OPEN and state != intent.state)


def _edit(
    db: Session,
    intent: Intent,
    state: IntentState,
    stamp: str,
    fields: dict[str, Any],
    operator: str,
    *,
    match: dict[str, Any] | None = None,
) -> bool:
    """`intent` moved to `state` with the form's terms, committed; False: the row is no longer
    in `intent`'s state (or fails `match`) and nothing was written."""
    changes = {**fields, "params_fingerprint": stamp}
    if state is IntentState.AWAITING_APPROVAL:
        changes |= {"decided_by": None, "decided_at": None, "decision_reason": None}
    moved = transitions.move_unread(
        db, intent, state, match=match, values=changes, actor=operator, action="intent_changed"
    )
    if moved:
        db.commit()
    return moved


def open_new_intent(
    engine: Engine,
    intent_key: str,
    *,
    kind: str,
    operation_type: str,
    operator: str,
    state: IntentState,
    terms: dict[str, Any],
    **fields: Any,
) -> tuple[Intent, bool]:
    """The intent of a flow that expects to start it: created in one statement, with its event.

    (intent, True) when it was made now; (the intent as it stands, False) when the key already
    had one (a rerun, a second tab), which is left as it is: the flow resumes it.
    """
    with Session(engine, expire_on_commit=False) as db:
        made = _insert(db, intent_key, kind, operation_type, operator, state, fingerprint(terms), fields)
        if made is not None:
            db.commit()
            return made, True
        found = db.exec(_BY_KEY, params={"key": intent_key}).one()
        return found, False


def _insert(
    db: Session,
    intent_key: str,
    kind: str,
    operation_type: str,
    operator: str,
    state: IntentState,
    stamp: str,
    fields: dict[str, Any],
) -> Intent | None:
    """A new intent and its event in `db`; None when the key is taken (nothing written)."""
    values = {
        "intent_key": intent_key,
        "kind": kind,
        "operation_type": operation_type,
        "operator": operator,
        "state": state,
        "params_fingerprint": stamp,
        **fields,
    }
    return transitions.insert(
        db, Intent, values, actor=operator, action="intent_opened", unless_taken="intent_key"
    )


def attempts_of(engine: Engine, intent_id: int) -> list[Attempt]:
    with Session(read_only(engine)) as db:
        return list(
            db.exec(select(Attempt).where(Attempt.intent_id == intent_id).order_by(col(Attempt.id))).all()
        )


def find_attempt(engine: Engine, reference_id: str) -> Attempt | None:
    with Session(read_only(engine)) as db:
        return db.exec(select(Attempt).where(Attempt.reference_id == reference_id)).one_or_none()


class IntentBusy(ChangedMeanwhile):
    """Another window or worker is preparing this payment right now."""


def born_held(owner: str) -> dict[str, Any]:
    """The lease columns of a new intent its creator holds from its first statement on
    (`open_new_intent(..., **born_held(owner))`, then `holding(..., made=intent)`)."""
    return {"lease_owner": owner, "lease_until": utcnow() + leases.LEASE}


@contextmanager
def holding(engine: Engine, intent_key: str, owner: str, *, made: Intent | None = None) -> Iterator[None]:
    """Hold an editable intent while its preparation steps run, so two tabs never both prepare it.

    The lease is renewed while the holder lives, so after a crash another window takes over
    within seconds (`ledger.leases`). `made`: the intent as `open_new_intent` returned it; one
    made just now with `born_held(owner)` is `owner`'s already and is not taken again."""
    if made is not None and made.lease_owner == owner and made.id is not None:
        intent_id: int | None = made.id
    else:
        now = utcnow()
        with engine.begin() as connection:
            taken = {"key": intent_key, "now": now, "owner": owner, "until": now + leases.LEASE}
            intent_id = connection.execute(_TAKE, taken).scalar_one_or_none()
    if intent_id is None:
        raise IntentBusy("This payment is being prepared in another window; wait a moment.")
    try:
        with Heartbeat(engine, owner, [intent_id]):
            yield
    finally:
        with engine.begin() as connection:
            statements.update_where(
                connection,
                _INTENTS,
                {"intent_key": intent_key, "lease_owner": owner},
                {"lease_owner": None, "lease_until": None},
            )


_INTENTS = Intent.__table__  # type: ignore[attr-defined]
#: `holding`'s claim, built once: an editable intent nobody holds, or whose holder's lease ran out.
_TAKE = (
    update(_INTENTS)
    .where(
        _INTENTS.c.intent_key == bindparam("key"),
        _INTENTS.c.state.in_(EDITABLE),
        or_(
            _INTENTS.c.lease_until.is_(None),
            _INTENTS.c.lease_until < bindparam("now", type_=_INTENTS.c.lease_until.type),
        ),
    )
    .values(
        lease_owner=bindparam("owner", type_=_INTENTS.c.lease_owner.type),
        lease_until=bindparam("until", type_=_INTENTS.c.lease_until.type),
    )
    .returning(_INTENTS.c.id)
)
