"""The reconciler: polls every attempt that is not final until Dollr says how it ended.

Run as `python -m dollr_core reconcile --once | --loop` (the loop, which also follows published
documents and syncs those made elsewhere, is `dollr_core.runtime.run_reconciler`).
Several reconcilers may share one PostgreSQL ledger: each claims due attempts with
`FOR UPDATE SKIP LOCKED` and a lease, so no two of them ask about the same attempt at once.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import or_
from sqlmodel import Session, col, select

from dollr_core.api import pacing
from dollr_core.basics.access import RECONCILER
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.leases import Heartbeat
from dollr_core.ledger.tables import OPEN_ATTEMPT_STATES, Attempt, AttemptState, Intent, IntentState
from dollr_core.payments import protocol
from dollr_core.payments.follow_up import follow_document
from dollr_core.services import Services

log = logging.getLogger("dollr_core.payments.reconcile")


def claim_due(svc: Services, owner: str, *, limit: int = 50) -> list[Attempt]:
    """Take the lease on up to `limit` attempts that are due for a look and held by nobody."""
    now = utcnow()
    with Session(svc.engine) as db:
        rows = list(
            db.exec(
                select(Attempt)
                .where(
                    col(Attempt.local_state).in_(OPEN_ATTEMPT_STATES),
                    or_(col(Attempt.next_poll_at).is_(None), col(Attempt.next_poll_at) <= now),
                    or_(col(Attempt.lease_until).is_(None), col(Attempt.lease_until) < now),
                )
                .order_by(col(Attempt.next_poll_at))
                .limit(limit)
                .with_for_update(skip_locked=True)
            ).all()
        )
        for row in rows:
            row.lease_owner, row.lease_until = owner, now + protocol.LEASE
            db.add(row)
        db.commit()
        for row in rows:
            db.refresh(row)
        return rows


def reopen_stranded(svc: Services) -> int:
    """Intents whose worker died right after their attempt was abandoned (it provably never
    landed) go back to READY, so the person can confirm again instead of waiting forever."""
    now = utcnow()
    with Session(svc.engine) as db:
        stranded = db.exec(
            select(Attempt)
            .join(Intent, col(Attempt.id) == col(Intent.current_attempt_id))
            .where(
                Intent.state == IntentState.EXECUTING,
                Attempt.local_state == AttemptState.ABANDONED,
                or_(col(Intent.lease_until).is_(None), col(Intent.lease_until) < now),
            )
        ).all()
    for attempt in stranded:
        protocol.reopen_intent(svc.engine, attempt, RECONCILER.email)
    return len(stranded)


def reconcile_once(svc: Services, *, limit: int = 50) -> int:
    """One pass: every due attempt gets one step forward. Returns how many were looked at."""
    reopen_stranded(svc)
    owner = protocol.owner_id()
    attempts = claim_due(svc, owner, limit=limit)
    # Background work: under a rate limit its status reads wait their turn behind the operators' clicks.
    with pacing.patient(), Heartbeat(svc.engine, owner, [a.intent_id for a in attempts]):
        for attempt in attempts:
            try:
                attempt = protocol.follow_held(
                    svc.engine, svc.client, attempt, actor=RECONCILER.email, owner=owner
                )
                follow_document(svc, attempt)
            except Exception:  # one bad attempt must not stop the others
                log.exception("reconcile failed for %s", attempt.reference_id)
                protocol.release(svc.engine, attempt, retry_in=timedelta(seconds=30))
    return len(attempts)
