"""The bulk payout worker: pays a running batch's rows in the background, a few at a time.

One coordinator thread per batch reads the ledger, decides what each row needs next and hands
that to a pool of threads, keeping as many rows on the wire at once as its pace allows
(`bulk/pace.py`: it grows while Dollr keeps up and halves when Dollr refuses calls, up to
`Settings.bulk_max_concurrency`; `Settings.bulk_concurrency` fixes it instead):

- a waiting row is claimed (QUEUED → SENT, its intent key stored first), prepared and confirmed
  through the execution protocol (`payouts.prepare_payout(..., batch_id=…)` + `confirm_payout`);
- a payment Dollr holds is followed with `follow_up.refresh_held` when it is due, its lease taken
  by the protocol (`protocol.claim_due`) before the sender is given it;
- a payment whose outcome is unknown (timeout, 5xx, 429, dropped response) is submitted again
  through the protocol once Dollr's Retry-After has passed; the protocol settles it by status
  lookup and never executes a claimed intent twice.

Everything the worker knows is in the ledger, so a new worker (after a crash or restart) resumes
where the last one stopped. The merchant passcode lives only in this object's memory. Until one
payment has gone through, rows are handled one at a time, so a mistyped passcode costs one row, not
a whole batch; a refused passcode or a short wallet pauses the batch and puts the row back.

Command line: `python -m dollr_core bulk resume --batch N --as EMAIL` (`cli/bulk.py`).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from pydantic import SecretStr
from sqlmodel import Session, col, select

from dollr_core.api import pacing
from dollr_core.api.errors import AuthenticationError, DollrError, NetworkError, RateLimitError
from dollr_core.basics.access import AccessDenied, Actor
from dollr_core.basics.background import Workers
from dollr_core.bulk import records, row_outcomes
from dollr_core.bulk.next_steps import Action, Seen, Task, ended, next_step
from dollr_core.bulk.pace import Pace, attempt_refused, refusal
from dollr_core.explain import explain
from dollr_core.flows import payouts
from dollr_core.ledger import leases
from dollr_core.ledger.columns import utcnow
from dollr_core.ledger.db import read_only
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import (
    Attempt,
    AttemptState,
    BatchRowState,
    BatchState,
    IntentState,
)
from dollr_core.payments import follow_up, protocol
from dollr_core.services import Services

log = logging.getLogger("dollr_core.bulk.worker")

#: The longest the coordinator sleeps before looking at the ledger again.
TICK = 0.25
#: The shortest time between two looks, per row step on its way. Every step that ends wakes the
#: coordinator, and a look reads every row on its way: at 16 senders that was up to a hundred
#: looks a second and 15 % of the process's CPU. So the coordinator waits this long for each step
#: in flight (20 ms at 16), and fills the senders freed meanwhile together; one sender alone
#: is given its next row almost at once (the wait grows with what there is to gather).
LOOK_GAP_PER_STEP = 0.00125
#: How often the coordinator reads the rows on their way: each one's next step is a look at
#: Dollr's status seconds away (`FIRST_LOOK`, then the poll's backoff), so reading them at every
#: look (up to fifty a second) spent CPU on rows that had nothing due.
FOLLOW_GAP = timedelta(seconds=0.5)
#: A paused batch's worker that is not resumed within this time forgets the passcode and stops.
IDLE_LIMIT = timedelta(minutes=30)
#: New sessions for a row whose earlier ones expired unseen, before the row is reported failed.
MAX_RENEWALS = 3
#: Failed looks at the ledger in a row before the worker gives up (resuming starts a new one).
MAX_LOOK_FAILURES = 30


@dataclass(frozen=True)
class _View:
    open_rows: int  # rows waiting or in flight
    followed: int  # rows whose payment Dollr holds (or may be receiving) right now


class BatchWorker:
    """Pays one batch. Build it through `start`, which keeps one worker per batch per process."""

    def __init__(self, svc: Services, actor: Actor, batch_id: int, passcode: SecretStr) -> None:
        self.svc = svc
        self.actor = actor
        self.batch_id = batch_id
        self._passcode = passcode
        #: How many rows are handled at once: one until a payment went through, then found.
        self.pace = Pace.for_settings(svc.settings)
        #: Why the worker stopped the batch, in plain words (None while all is well).
        self.problem: str | None = None
        self._stop = threading.Event()
        self._halted = threading.Event()  # the batch cannot go on: follow what was sent, send nothing
        self._wake = threading.Event()
        self._lock = threading.Lock()
        self._not_before: dict[int, datetime] = {}  # rows to leave alone until then
        self._renewals: dict[int, int] = {}  # new sessions opened per row
        self._failures: dict[int, int] = {}  # transient failures per row before anything was sent
        self._hold_until: datetime | None = None  # Dollr said 429: send nothing new before then
        self._retries_seen = svc.client.stats.refusals  # the client's retries of unanswered calls
        self._retries_looked_at = self.pace.now()
        #: This worker's name in the batch's lease: one worker per batch across every console.
        self._owner = f"{socket.gethostname()[:30]}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._renewed_at = utcnow()
        self._followed_at = datetime.min.replace(tzinfo=UTC)  # when the rows on their way were last read
        self._on_their_way = (0, 0)  # how many there were, and how many of them Dollr held
        self._follow_ups: list[Task] = []  # rows on their way found due, waiting for a sender
        self._thread = threading.Thread(target=self._run, name=f"bulk-batch-{batch_id}", daemon=True)

    def __repr__(self) -> str:  # the passcode never shows up in logs or tracebacks
        return f"BatchWorker(batch_id={self.batch_id}, actor={self.actor.email!r}, alive={self.alive})"

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    @property
    def holds_passcode(self) -> bool:
        """True while a paused batch can be resumed without asking for the passcode again."""
        return self.alive and not self._halted.is_set() and not self._stop.is_set()

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout: float | None = 30.0) -> None:
        """Send nothing more; calls already on the wire finish and are recorded."""
        self._stop.set()
        self._wake.set()
        self.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the worker to end; True when it has."""
        if self._thread.ident is not None:
            self._thread.join(timeout)
        return not self.alive

    # ------------------------------------------------------------------ coordinator

    def _run(self) -> None:
        engine = self.svc.engine
        if not leases.claim_batch(engine, self.batch_id, self._owner):
            # Another console's worker pays it; the ledger shows its progress here too.
            self.problem = (
                "Another console's worker is paying this batch (or stopped less than a minute ago);"
                " its progress shows here. If that console has stopped, start again in a minute."
            )
            self._passcode = SecretStr("")
            log.info("batch %s: another worker holds it; this one does not start", self.batch_id)
            return
        log.info("batch %s: worker started by %s", self.batch_id, self.actor.email)
        try:
            self._coordinate()
        except Exception:
            log.exception("batch %s: worker stopped by an unexpected error", self.batch_id)
            self.problem = "The background worker stopped unexpectedly; resume the batch to carry on."
        finally:
            self._passcode = SecretStr("")
            leases.release_batch(engine, self.batch_id, self._owner)
            log.info("batch %s: worker ended", self.batch_id)

    def _keep_claim(self) -> bool:
        """Renew the batch's lease every few seconds; False once another worker has it."""
        if utcnow() - self._renewed_at < leases.BEAT:
            return True
        self._renewed_at = utcnow()
        try:
            return leases.renew_batch(self.svc.engine, self.batch_id, self._owner)
        except Exception:  # the ledger is busy: the lease lasts LEASE, try again next tick
            log.warning("batch %s: could not renew the worker's lease", self.batch_id, exc_info=True)
            return True

    def _coordinate(self) -> None:
        in_flight: dict[int, tuple[Task, Future[None]]] = {}
        idle_since: datetime | None = None
        failures = 0
        # As many threads as the pace may ever allow; it decides how many are busy.
        with ThreadPoolExecutor(self.pace.ceiling, thread_name_prefix=f"bulk-{self.batch_id}") as pool:
            while not self._stop.is_set():
                self._wake.clear()
                if not self._keep_claim():
                    log.warning("batch %s: another worker took the batch over; this one stops", self.batch_id)
                    self.problem = "Another console took over paying this batch; its progress shows here."
                    return
                in_flight = {row: job for row, job in in_flight.items() if not job[1].done()}
                try:
                    state, tasks, view = self._look(exclude=set(in_flight))
                except Exception:  # the ledger was busy or unreachable: look again shortly
                    failures += 1
                    log.exception(
                        "batch %s: could not read the ledger (%d in a row)", self.batch_id, failures
                    )
                    if failures >= MAX_LOOK_FAILURES:
                        raise
                    self._stop.wait(1.0)
                    continue
                failures = 0
                self._notice_retries()
                if not view.open_rows and not in_flight:
                    row_outcomes.finish_if_done(self.svc.engine, self.batch_id)
                    return
                if self._halted.is_set() and not in_flight and not view.followed:
                    return  # what was on its way is settled; the rest waits for a new passcode
                room = max(0, self.pace.limit - len(in_flight))  # one until a payment went through
                for task in self._take(tasks[:room]):
                    in_flight[task.row_id] = (task, pool.submit(self._perform, task))
                self._follow_ups = [task for task in tasks[room:] if task.action is not Action.SEND]
                if in_flight or tasks or state is BatchState.RUNNING:
                    idle_since = None
                else:
                    idle_since = idle_since or utcnow()
                    if utcnow() - idle_since > IDLE_LIMIT:
                        log.info("batch %s: paused too long, the worker forgets the passcode", self.batch_id)
                        return
                self._wake.wait(TICK)
                self._stop.wait(LOOK_GAP_PER_STEP * len(in_flight))

    def _take(self, tasks: list[Task]) -> list[Task]:
        """Claim what the senders are about to be given: the waiting rows in one transaction and
        the polls' leases in another (each was one per row); the tasks whose claim held."""
        engine = self.svc.engine
        sends = [task.row_id for task in tasks if task.action is Action.SEND]
        polls = [task.reference_id for task in tasks if task.action is Action.POLL and task.reference_id]
        try:
            claimed = row_outcomes.claim_rows(engine, sends) if sends else {}
            owner, held = protocol.claim_due(engine, polls) if polls else ("", [])
        except Exception:  # the ledger was busy: what was claimed is found on its way at a later look
            log.exception("batch %s: could not claim rows or polls; trying again shortly", self.batch_id)
            return [task for task in tasks if task.action is Action.PUSH]
        leased = {attempt.reference_id: attempt for attempt in held}
        taken: list[Task] = []
        for task in tasks:
            if task.action is Action.SEND and task.row_id not in claimed:
                continue  # canceled or paused meanwhile: not ours to send
            if task.action is Action.POLL:
                attempt = leased.get(task.reference_id or "")
                if attempt is None:
                    continue  # someone else looks at it right now, or it is no longer due
                task = replace(task, held=attempt, owner=owner)
            taken.append(task)
        return taken

    def _look(self, *, exclude: set[int]) -> tuple[BatchState | None, list[Task], _View]:
        """Read the batch and its open rows; record settled rows; return what is due, best first.

        Runs several times a second, so it reads plain columns, only as many waiting rows as
        could be sent now, and the rows on their way every `FOLLOW_GAP` (and whenever nothing
        is left to send, so the end of the batch is decided on every row). What those rows'
        payments did since is copied onto them here, all in one transaction (`_record_all`).
        """
        now = utcnow()
        waiting = 2 * self.pace.limit + len(exclude) + len(self._not_before)
        follow_now = self._halted.is_set() or now - self._followed_at >= FOLLOW_GAP
        state, on_their_way, queued = records.worker_look(
            self.svc.engine, self.batch_id, waiting=waiting, on_their_way=follow_now
        )
        if on_their_way is None and not queued:
            state, on_their_way, queued = records.worker_look(
                self.svc.engine, self.batch_id, waiting=waiting, on_their_way=True
            )
        follow: list[Task] = []
        send: list[Task] = []
        if on_their_way is not None:
            held, sends_held, dollr_now = 0, self._held(now), self._dollr_now(now)
            to_record: list[tuple[int, int]] = []  # rows and the attempts to copy onto them
            for row_id, intent_state, row_reference, *attempt in on_their_way:
                seen = Seen(row_id or 0, intent_state, *attempt) if attempt[0] is not None else None
                if seen is not None and seen.state in (AttemptState.ACCEPTED, AttemptState.SENDING):
                    held += 1
                if row_id is None or row_id in exclude or self._waiting(row_id, now):
                    continue
                over = seen is not None and ended(seen, now)
                if seen is not None and (over or seen.reference_id != row_reference):
                    to_record.append((row_id, seen.attempt_id))
                if over:
                    continue
                task = next_step(row_id, seen, now, held=sends_held, dollr_now=dollr_now)
                if task is not None and not (self._halted.is_set() and task.uses_passcode):
                    follow.append(task)
            self._record_all(to_record)
            self._followed_at, self._on_their_way = now, (len(on_their_way), held)
        else:  # not read this time: what the last read found due and no sender has taken yet
            follow = [task for task in self._follow_ups if task.row_id not in exclude]
        count, followed = self._on_their_way  # as the last read found them, under FOLLOW_GAP ago
        if state is BatchState.RUNNING and not self._halted.is_set() and not self._held(now):
            send = [
                Task(row_id, Action.SEND)
                for row_id in queued
                if row_id is not None and row_id not in exclude and not self._waiting(row_id, now)
            ]
        # Money already on its way comes first; new rows take what capacity is left.
        return state, follow + send, _View(open_rows=count + len(queued), followed=followed)

    def _dollr_now(self, now: datetime) -> datetime:
        """Dollr's clock as far as its answers prove it (ours until one did)."""
        return self.svc.client.server_clock.now_at_dollr() or now

    def _waiting(self, row_id: int, now: datetime) -> bool:
        with self._lock:
            until = self._not_before.get(row_id)
        return until is not None and until > now

    def _held(self, now: datetime) -> bool:
        with self._lock:
            return self._hold_until is not None and self._hold_until > now

    def _record_all(self, rows: list[tuple[int, int]]) -> None:
        """Copy each attempt onto its row, the ordinary ones (a reference to name, an outcome) in
        one transaction: one write for everything a look found, not one per row."""
        if not rows:
            return
        with Session(read_only(self.svc.engine)) as db:
            ids = [attempt_id for _, attempt_id in rows]
            attempts = {a.id: a for a in db.exec(select(Attempt).where(col(Attempt.id).in_(ids)))}
        ordinary: list[tuple[int, Attempt]] = []
        for row_id, attempt_id in rows:
            attempt = attempts[attempt_id]
            if _batch_stopper(attempt) is not None or row_outcomes.turned_away(attempt):
                self._record(row_id, attempt)
            else:
                ordinary.append((row_id, attempt))
        row_outcomes.record_outcomes(self.svc.engine, ordinary)

    # ------------------------------------------------------------------ one row

    def _perform(self, task: Task) -> None:
        with pacing.patient() as waited:  # background work: it waits its turn at Dollr's rate
            self._perform_patiently(task, waited)

    def _perform_patiently(self, task: Task, waited: pacing.Waited) -> None:
        started = self.pace.now()
        try:
            if task.action is Action.POLL:
                assert task.held is not None and task.owner is not None
                attempt = follow_up.refresh_held(
                    self.svc, task.held, owner=task.owner, actor=self.actor.email
                )
                refused = attempt_refused(attempt)
                self._after(task.row_id, attempt)
            else:  # a row claimed by `_take`, or one to confirm again
                refused = self._push(task.row_id)
            if refused:
                self.pace.refused(started_at=started)
            elif task.action is Action.SEND:
                # Only sends tell the pace how Dollr keeps up: they are alike (a poll is one short
                # call). What it goes by is the row's time waiting for Dollr's answers: not the
                # client's rate pacer, and not the ledger's (a row queued for SQLite's write turn
                # behind its neighbours is no sign that Dollr is slow, and stopped the pace at 16).
                self.pace.succeeded(waited.answering)
        except Exception:  # one row's trouble must not stop the others
            log.exception(
                "batch %s: row %s could not be handled; trying again later", self.batch_id, task.row_id
            )
            self._later(task.row_id, 10.0)
        finally:
            self._wake.set()

    def _push(self, row_id: int) -> bool:
        """Prepare and confirm the row's payment; True when Dollr could not answer (5xx, unknown)."""
        row = records.row_to_pay(self.svc.engine, row_id)
        if row is None or row.state != BatchRowState.SENT or not row.intent_key:
            return False
        key = row.intent_key
        try:
            if row.intent_state in (None, IntentState.OPEN):
                prepared = payouts.prepared_payout(
                    self.svc,
                    self.actor,
                    key,
                    batch_id=self.batch_id,
                    name=row.name,
                    phone=row.phone,
                    amount=row.amount if row.amount is not None else row.amount_text,
                    currency=row.currency,
                    note=row.note,
                )
                if not row_outcomes.still_sent(self.svc.engine, row_id):
                    return False  # the batch was canceled while the row was being prepared
                # The intent, its claim and its reference_id: one transaction, then the send.
                attempt = payouts.send_row_payout(self.svc, self.actor, prepared, self._passcode)
            else:
                attempt = payouts.confirm_payout(self.svc, self.actor, key, self._passcode)
        except (AccessDenied, AuthenticationError) as exc:
            row_outcomes.requeue_row(self.svc.engine, row_id, explain(exc).headline)
            self._halt(explain(exc).headline)
            return False
        except DollrError as exc:
            if (
                exc.outcome_unknown
                or isinstance(exc, RateLimitError | NetworkError)
                or _sent_before(self, key)
            ):
                delay = _retry_delay(exc, self._tries(row_id))
                self._later(row_id, delay)
                if isinstance(exc, RateLimitError):
                    self._hold(utcnow() + timedelta(seconds=delay))
                return refusal(exc)
            row_outcomes.fail_row(self.svc.engine, row_id, f"{explain(exc).headline} Nothing was paid.")
            return refusal(exc)
        except (ValueError, protocol.IntentNotReady) as exc:
            if _sent_before(self, key):
                self._later(row_id, 10.0)
                return False
            row_outcomes.fail_row(self.svc.engine, row_id, f"{exc} Nothing was paid.")
            return False
        self._after(row_id, attempt)
        return attempt_refused(attempt)

    def _after(self, row_id: int, attempt: Attempt) -> None:
        """Record where the row's payment stands, and react to what it says about the batch."""
        state = AttemptState(attempt.local_state)
        stopper = _batch_stopper(attempt)
        if stopper is not None:
            row_outcomes.requeue_row(self.svc.engine, row_id, stopper)
            self._halt(stopper)
            return
        if state in (AttemptState.ACCEPTED, AttemptState.COMPLETED, AttemptState.FAILED):
            self.pace.prove()
        if state is AttemptState.ABANDONED:
            renewals = self._renewals.get(row_id, 0) + 1
            self._renewals[row_id] = renewals
            if renewals <= MAX_RENEWALS:
                self._later(row_id, 2.0 * renewals)
                return
        if attempt.retry_not_before is not None and attempt.retry_not_before > utcnow():
            self._hold(attempt.retry_not_before)
        if state is AttemptState.ABANDONED or row_outcomes.turned_away(attempt):
            self._record(row_id, attempt)
        # Anything else goes onto the row at the coordinator's next look at the rows on their
        # way, with the other rows of that look in one transaction (`_record_all`).

    def _record(self, row_id: int, attempt: Attempt) -> None:
        stopper = _batch_stopper(attempt)
        if stopper is not None:  # settled while no worker was looking: send it again on resume
            row_outcomes.requeue_row(self.svc.engine, row_id, stopper)
        elif row_outcomes.turned_away(attempt):  # no verdict on the row: it goes again, under a fresh intent
            delay = min(2.0 ** self._tries(row_id), 60.0)
            row_outcomes.requeue_row(
                self.svc.engine, row_id, "Dollr asked us to slow down; it goes again shortly."
            )
            self._later(row_id, delay)
            self._hold(utcnow() + timedelta(seconds=delay))
        else:
            row_outcomes.record_outcome(self.svc.engine, row_id, attempt)

    def _halt(self, reason: str) -> None:
        """The batch cannot go on: pause it, send nothing more, follow what was sent, then end."""
        log.warning("batch %s: paused by the worker: %s", self.batch_id, reason)
        self.problem = reason
        self._halted.set()  # calls under way finish; the passcode is forgotten when the worker ends
        row_outcomes.stop_for(self.svc.engine, self.batch_id, reason)
        self._wake.set()

    def _hold(self, until: datetime) -> None:
        """Dollr's rate limit is per merchant: after a 429, hold every new payment, not just one."""
        with self._lock:
            self._hold_until = max(self._hold_until or until, until)

    def _notice_retries(self) -> None:
        """The client retries an unanswered call (5xx) by itself: the pace hears of it here (a
        429 is the client's rate pacer's, `api/pacing.py`)."""
        retries, looked_at = self.svc.client.stats.refusals, self.pace.now()
        if retries > self._retries_seen:
            self.pace.refused(started_at=self._retries_looked_at)
        self._retries_seen, self._retries_looked_at = retries, looked_at

    def _later(self, row_id: int, seconds: float) -> None:
        with self._lock:
            self._not_before[row_id] = utcnow() + timedelta(seconds=seconds)

    def _tries(self, row_id: int) -> int:
        with self._lock:
            self._failures[row_id] = self._failures.get(row_id, 0) + 1
            return self._failures[row_id]


def _sent_before(worker: BatchWorker, intent_key: str) -> bool:
    """True when an attempt holds the intent: the row may only be followed, never failed blindly."""
    intent = get_intent(worker.svc.engine, intent_key)
    return intent is not None and intent.current_attempt_id is not None


def _retry_delay(exc: DollrError, tries: int) -> float:
    if isinstance(exc, RateLimitError) and exc.retry_after:
        return exc.retry_after
    return min(2.0**tries, 60.0)


def _batch_stopper(attempt: Attempt) -> str | None:
    """A failure that would repeat on every row: the passcode or verification, or our wallet."""
    if AttemptState(attempt.local_state) not in (AttemptState.FAILED, AttemptState.REFUSED):
        return None
    text = " ".join(filter(None, [attempt.gateway_message, attempt.last_error])).lower()
    if "passcode" in text:
        return "Dollr did not accept the merchant passcode (or payouts are not enabled for this merchant)."
    if attempt.wallet_message:
        return "Our Dollr wallet does not hold enough for the next payment plus fees; top it up, then resume."
    return None


# --------------------------------------------------------------------------- one worker per batch


def _workers(svc: Services) -> Workers[BatchWorker]:
    return svc.bulk_workers


def start(svc: Services, actor: Actor, batch_id: int, passcode: str | SecretStr) -> BatchWorker:
    """Start paying the batch in the background, unless a worker in this process already does.

    Call through `running.start_batch`, which checks the batch may run and marks it RUNNING.
    """
    secret = passcode if isinstance(passcode, SecretStr) else SecretStr(passcode.strip())
    current = _workers(svc).get(batch_id)
    if current is not None and not current.holds_passcode:
        current.stop()  # halted or stopping: it finishes the calls on the wire first
    return _workers(svc).start(
        batch_id, lambda: BatchWorker(svc, actor, batch_id, secret), lambda worker: worker.start()
    )


def stop(svc: Services, batch_id: int | None = None, *, timeout: float = 30.0) -> None:
    """Stop one batch's worker (None: every worker), letting calls on the wire finish."""
    _workers(svc).stop(batch_id, timeout=timeout)


def is_running(svc: Services, batch_id: int) -> bool:
    """True while a worker in this process pays or follows the batch."""
    worker = _workers(svc).get(batch_id)
    return worker is not None and worker.alive


def holds_passcode(svc: Services, batch_id: int) -> bool:
    """True when the batch can be resumed here without entering the passcode again."""
    worker = _workers(svc).get(batch_id)
    return worker is not None and worker.holds_passcode


def problem(svc: Services, batch_id: int) -> str | None:
    """Why this process's worker stopped the batch, if it did."""
    worker = _workers(svc).get(batch_id)
    return worker.problem if worker is not None else None


def wake(svc: Services, batch_id: int) -> None:
    worker = _workers(svc).get(batch_id)
    if worker is not None:
        worker.wake()


def join(svc: Services, batch_id: int, timeout: float | None = None) -> bool:
    """Wait until the batch's worker ends; True when it has (or there is none)."""
    worker = _workers(svc).get(batch_id)
    return worker is None or worker.join(timeout)
