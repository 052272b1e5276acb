"""Leases that a live worker keeps renewing, so a dead worker's work is taken over in seconds.

A lease says "this worker is on it until lease_until". It must be long enough that a live worker
never loses it in the middle of a call, and short enough that when the worker dies (kill -9, a
crashed tab's process) another can take over quickly. Both hold with a short lease that a
heartbeat thread renews while the worker runs: a live worker renews every few seconds, a dead one
stops renewing and its lease lapses `LEASE` later. Takeover still happens only after lapse, so two
live senders never hold one intent at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Sequence
from datetime import timedelta
from types import TracebackType

from sqlalchemy import Engine, or_, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session, col

from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.tables import Attempt, Batch, Intent

log = logging.getLogger("dollr_core.ledger.leases")

#: How long a lease lasts without renewal: the longest a dead worker's intent stays held.
LEASE = timedelta(seconds=15)
#: How often a live worker renews its leases (well inside LEASE, so one slow beat is harmless).
BEAT = timedelta(seconds=4)


class Heartbeat:
    """While open, renews every lease `owner` holds on these intents and their attempts.

    Entering one starts no thread: one thread of the process (`_Beats`) renews every open
    heartbeat when it is due, so a payment's steps pay a dictionary entry, not a thread start and
    join each (under load a join alone waits for the scheduler)."""

    def __init__(
        self, engine: Engine, owner: str, intent_ids: Iterable[int], *, every: timedelta | None = None
    ) -> None:
        self._engine = engine
        self._owner = owner
        self._intent_ids = sorted(set(intent_ids))
        self.every = (every or BEAT).total_seconds()
        self.due_at = 0.0
        #: Held while this heartbeat's renewal runs, so leaving waits for one under way.
        self.renewing = threading.Lock()

    def __enter__(self) -> Heartbeat:
        self.due_at = time.monotonic() + self.every
        _beats.add(self)
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        _beats.remove(self)

    def beat(self) -> None:
        try:
            renew(self._engine, self._owner, self._intent_ids)
        except SQLAlchemyError:  # the next beat tries again; a lapse only lets another take over
            log.warning("could not renew the lease of %s", self._owner, exc_info=True)


class _Beats:
    """The open heartbeats of this process and the one thread that renews them when due."""

    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._open: dict[int, Heartbeat] = {}
        self._thread: threading.Thread | None = None
        #: When the thread looks at the open heartbeats next, at the latest (None: only when
        #: woken). A heartbeat due later needs no wake-up: waking the thread costs every
        #: payment step a switch to it and back, for nothing to do.
        self._looks_at: float | None = None

    def add(self, beat: Heartbeat) -> None:
        with self._changed:
            self._open[id(beat)] = beat
            if self._thread is None or not self._thread.is_alive():  # first use, or after a fork
                self._looks_at = None
                self._thread = threading.Thread(target=self._run, name="lease-heartbeats", daemon=True)
                self._thread.start()
            if self._looks_at is None or beat.due_at < self._looks_at:
                self._changed.notify()

    def remove(self, beat: Heartbeat) -> None:
        with self._changed:
            self._open.pop(id(beat), None)
        with beat.renewing:  # a renewal already under way ends before its holder moves on
            pass

    def _run(self) -> None:
        while True:
            with self._changed:
                now = time.monotonic()
                due = [b for b in self._open.values() if b.due_at <= now]
                if not due:
                    self._looks_at = min((b.due_at for b in self._open.values()), default=None)
                    self._changed.wait(None if self._looks_at is None else self._looks_at - now)
                    self._looks_at = now  # awake: it looks again before it waits
                    continue
                self._looks_at = now  # renewing, then it looks again
            for beat in due:
                with beat.renewing:
                    with self._changed:
                        if id(beat) not in self._open:
                            continue  # left meanwhile: its lease is released, never renewed
                    try:
                        beat.beat()
                    except Exception:  # this thread renews every worker's leases: it must live on
                        log.exception("lease heartbeat failed")
                    beat.due_at = time.monotonic() + beat.every


_beats = _Beats()


def renew(engine: Engine, owner: str, intent_ids: Sequence[int]) -> None:
    """Push back the end of `owner`'s leases on the intents and their attempts (others' stay)."""
    if not intent_ids:
        return
    until = utcnow() + LEASE
    with Session(engine) as db:
        db.exec(
            update(Intent)
            .where(col(Intent.id).in_(intent_ids), col(Intent.lease_owner) == owner)
            .values(lease_until=until)
        )
        db.exec(
            update(Attempt)
            .where(col(Attempt.intent_id).in_(intent_ids), col(Attempt.lease_owner) == owner)
            .values(lease_until=until)
        )
        db.commit()


# --------------------------------------------------------------------------- a batch's one worker


def claim_batch(engine: Engine, batch_id: int, owner: str) -> bool:
    """Make `owner` the one worker of the batch, unless another live worker holds it.

    One compare-and-set, so two consoles starting the same batch at the same instant get one
    worker between them; a dead worker's claim lapses `LEASE` after its last renewal."""
    now = utcnow()
    with Session(engine) as db:
        moved = db.exec(
            update(Batch)
            .where(
                col(Batch.id) == batch_id,
                or_(
                    col(Batch.worker_owner).is_(None),
                    col(Batch.worker_owner) == owner,
                    col(Batch.worker_until) < now,
                ),
            )
            .values(worker_owner=owner, worker_until=now + LEASE)
        )
        db.commit()
        return bool(moved.rowcount)


def renew_batch(engine: Engine, batch_id: int, owner: str) -> bool:
    """Push back the end of `owner`'s claim on the batch; False when it is no longer theirs."""
    with Session(engine) as db:
        moved = db.exec(
            update(Batch)
            .where(col(Batch.id) == batch_id, col(Batch.worker_owner) == owner)
            .values(worker_until=utcnow() + LEASE)
        )
        db.commit()
        return bool(moved.rowcount)


def release_batch(engine: Engine, batch_id: int, owner: str) -> None:
    """Give the batch up at once (the worker ended), so the next start need not wait for a lapse."""
    with Session(engine) as db:
        db.exec(
            update(Batch)
            .where(col(Batch.id) == batch_id, col(Batch.worker_owner) == owner)
            .values(worker_owner=None, worker_until=None)
        )
        db.commit()
