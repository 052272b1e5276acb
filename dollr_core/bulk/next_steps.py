"""What a bulk row handed over for payment needs next, decided from the ledger's columns alone.

The worker's coordinator (`bulk/worker.py`) reads every row on its way with its current attempt
(`records.worker_look`) and asks `next_step` what each needs: nothing yet, a poll of Dollr's
status, or the protocol's submit again; `ended` says when its outcome goes onto the row. Pure
functions of what was read and the time, so the rules read (and are tested) apart from threads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

from dollr_core.ledger.leases import LEASE
from dollr_core.ledger.tables import Attempt, AttemptState, IntentState

#: A row's first look at Dollr's status waits this long after its payment was sent (by Dollr's
#: clock where it is ahead of ours). The contract says to poll every 2–5 s; in a batch nobody
#: watches one row, and a look at the slow end of that range finds more payments final (one
#: request per row fewer than a look at 2 s, on the sandbox).
FIRST_LOOK = timedelta(seconds=5)


class Action(Enum):
    SEND = "send"  # claim a waiting row, prepare it, confirm it
    PUSH = "push"  # confirm again: nothing sent yet, or the outcome is unknown
    POLL = "poll"  # Dollr holds the payment: ask how it stands


@dataclass(frozen=True)
class Seen:
    """The columns of a row's current attempt the coordinator decides on."""

    row_id: int
    intent_state: str | None
    attempt_id: int
    reference_id: str
    local_state: str
    next_poll_at: datetime | None
    sent_at: datetime | None
    retry_not_before: datetime | None
    lease_until: datetime | None
    final_at: datetime | None

    @property
    def state(self) -> AttemptState:
        return AttemptState(self.local_state)


@dataclass(frozen=True)
class Task:
    row_id: int
    action: Action
    reference_id: str | None = None
    held: Attempt | None = None  # a poll's attempt, its lease taken for `owner`
    owner: str | None = None

    @property
    def uses_passcode(self) -> bool:
        return self.action is not Action.POLL


def ended(seen: Seen, now: datetime) -> bool:
    """The row's payment is over: its outcome goes onto the row."""
    if seen.state in (AttemptState.COMPLETED, AttemptState.FAILED, AttemptState.REFUSED):
        return True
    # Whoever abandoned an attempt opens the next one at once (unless it never landed and the
    # intent is READY for a new session); long after, nobody will.
    return (
        seen.state is AttemptState.ABANDONED
        and seen.intent_state != IntentState.READY
        and seen.final_at is not None
        and seen.final_at + LEASE < now
    )


def next_step(
    row_id: int, seen: Seen | None, now: datetime, *, held: bool, dollr_now: datetime
) -> Task | None:
    """What a row handed over for payment, and not `ended`, needs now (None: nothing yet).

    `held`: Dollr asked us (429) to send nothing new until later; `dollr_now`: Dollr's clock as
    its answers prove it."""
    if seen is None:  # claimed, but nothing reached Dollr yet
        return None if held else Task(row_id, Action.PUSH)
    if seen.state is AttemptState.ABANDONED:
        if seen.intent_state == IntentState.READY:  # it never landed; a new session may be opened
            return None if held else Task(row_id, Action.PUSH)
        return None
    if seen.lease_until is not None and seen.lease_until > now:
        return None  # someone (a reconciler, an earlier worker) is on it right now
    if seen.state is AttemptState.ACCEPTED:
        due = (seen.next_poll_at is None or seen.next_poll_at <= now) and (
            seen.sent_at is None or seen.sent_at + FIRST_LOOK <= max(now, dollr_now)
        )
        return Task(row_id, Action.POLL, seen.reference_id) if due else None
    # UNKNOWN, PREPARING, or SENDING whose sender went silent: submit again once Dollr lets us.
    for not_before in (seen.retry_not_before, seen.next_poll_at):
        if not_before is not None and not_before > now:
            return None
    return None if held else Task(row_id, Action.PUSH, seen.reference_id)
