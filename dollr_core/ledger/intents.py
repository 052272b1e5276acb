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
from typing import Any

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from dollr_core.errors import ChangedMeanwhile
from dollr_core.ledger import leases, transitions
from dollr_core.ledger.columns import as_stored, utcnow
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


def get_intent(engine: Engine, intent_key: str) -> Intent | None:
    with Session(engine) as db:
        return db.exec(select(Intent).where(Intent.intent_key == intent_key)).one_or_none()


def open_intent(
    engine: Engine,
    intent_key: str,
    *,
    kind: str,
    operation_type: str,
    operator: str,
    state: IntentState,
    terms: dict[str, Any],
    **fields: Any,
) -> Intent:
    """Create the intent, or bring an editable one in line with the form; never touch one in flight."""
    stamp = fingerprint(terms)
    with Session(engine, expire_on_commit=False) as db:  # the intent as written: never read back
        intent = db.exec(
            select(Intent).where(Intent.intent_key == intent_key).with_for_update()
        ).one_or_none()
        if intent is None:
            intent = Intent(
                intent_key=intent_key,
                kind=kind,
                operation_type=operation_type,
                operator=operator,
                state=state,
                params_fingerprint=stamp,
                **fields,
            )
            try:
                transitions.created(db, intent, actor=operator, action="intent_opened")
                db.commit()
            except IntegrityError:  # a second tab opened the same key a moment earlier
                db.rollback()
                return open_intent(
                    engine,
                    intent_key,
                    kind=kind,
                    operation_type=operation_type,
                    operator=operator,
                    state=state,
                    terms=terms,
                    **fields,
                )
            return as_stored(intent)
        if IntentState(intent.state) not in EDITABLE:
            return intent
        if intent.params_fingerprint != stamp or (intent.state == IntentState.OPEN and state != intent.state):
            for name, value in fields.items():
                setattr(intent, name, value)
            intent.params_fingerprint = stamp
            if state is IntentState.AWAITING_APPROVAL:
                intent.decided_by = intent.decided_at = intent.decision_reason = None
            transitions.move(db, intent, state, actor=operator, action="intent_changed")
            db.commit()
            as_stored(intent)
        return intent


def attempts_of(engine: Engine, intent_id: int) -> list[Attempt]:
    with Session(engine) as db:
        return list(
            db.exec(select(Attempt).where(Attempt.intent_id == intent_id).order_by(col(Attempt.id))).all()
        )


def find_attempt(engine: Engine, reference_id: str) -> Attempt | None:
    with Session(engine) as db:
        return db.exec(select(Attempt).where(Attempt.reference_id == reference_id)).one_or_none()


class IntentBusy(ChangedMeanwhile):
    """Another window or worker is preparing this payment right now."""


@contextmanager
def holding(engine: Engine, intent_key: str, owner: str) -> Iterator[None]:
    """Hold an editable intent while its preparation steps run, so two tabs never both prepare it.

    The lease is renewed while the holder lives, so after a crash another window takes over
    within seconds (`ledger.leases`)."""
    now = utcnow()
    with Session(engine) as db:
        intent_id = db.exec(
            update(Intent)
            .where(
                col(Intent.intent_key) == intent_key,
                col(Intent.state).in_(EDITABLE),
                or_(col(Intent.lease_until).is_(None), col(Intent.lease_until) < now),
            )
            .values(lease_owner=owner, lease_until=now + leases.LEASE)
            .returning(col(Intent.id))
        ).scalar_one_or_none()
        db.commit()
    if intent_id is None:
        raise IntentBusy("This payment is being prepared in another window; wait a moment.")
    try:
        with Heartbeat(engine, owner, [intent_id]):
            yield
    finally:
        with Session(engine) as db:
            db.exec(
                update(Intent)
                .where(col(Intent.intent_key) == intent_key, col(Intent.lease_owner) == owner)
                .values(lease_owner=None, lease_until=None)
            )
            db.commit()
