"""When the next request of a client may leave: Dollr's 429 hold, and a request-rate pacer.

Dollr limits requests per merchant, whichever of its tokens or threads send them. A bulk job's
concurrency (`bulk/pace.py`) is a whole number of senders, too coarse for a rate (at 20
requests/s one sender makes about 12 calls/s and two exceed it), so the rate is paced here, once
for every sender of the client (`Sender` calls `acquire` before each request):

- until Dollr has answered a 429 nothing is paced: each request costs one timestamp appended;
- a 429 teaches the rate Dollr accepted: this client's requests sent in the `WINDOW` before the
  refused one, less those refused (the ones still on their way count as accepted, as Dollr
  counted them on arrival). Requests then leave evenly spaced, `MARGIN` under that rate (a
  sliding window can count a late arrival with the next ones: the margin keeps it in);
- a refusal of a request sent before the last cut, or less than `CUT_EVERY` after it, says
  nothing new (that cut, Dollr's hold and the lower pace answer it); one with too few of our
  requests in the window says another client used the quota: it teaches nothing, Dollr's
  Retry-After alone is waited. Time held by Retry-After is left out of the window;
- a later 429 lowers the pace `MARGIN` under the lower of the pace and what Dollr accepted, and
  moves the rate Dollr is thought to refuse at by `MARGIN` at most;
- while requests queue for the pace, it grows: well under that refused rate, by `PROBE_GROWTH`
  every `GROW_EVERY` (back in seconds after a 429 that came while little was sent); just under
  it, by `PROBE_STEP` of it every `PROBE_EVERY`, so that crossing the limit again is rare; past
  it, by `PROBE_GROWTH` every `PROBE_EVERY` (a limit raised, a quota another console freed).
  Until a burst of 429s showed the limit is real (a refusal of a request already on its way
  when the pace was cut), it grows fast everywhere: a single stray 429 costs seconds, not the
  rest of a batch;
- Dollr's `Retry-After` (up to `transport.HOLD_ALL_AT_MOST`) holds every sender (`hold`).

Who waits how long: a call made inside `patient()` (the bulk worker, the checks of a batch's
rows) takes the next free slot, however far. Any other call is someone's click: it goes ahead of
the patient queue (the next patient sender yields it its slot, so the rate holds) and waits at
most `INTERACTIVE_WAIT` for the pace, so an operator is not stuck behind a bulk job that fills
the merchant's rate. Thread-safe; `clock` (monotonic seconds) and `sleep` are injectable.
"""

from __future__ import annotations

import contextvars
import math
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["INTERACTIVE_WAIT", "RatePacer", "Waited", "patient"]

#: Seconds a rate limit is assumed to count over (the sandbox's sliding window in the benches).
WINDOW = 1.0
#: How far under the rate Dollr accepted the pace is set after a 429.
MARGIN = 0.1
#: Fewer of our accepted requests than this in the window teach nothing about the rate.
MIN_COUNT = 4
#: The pace never goes below this many requests a second.
MIN_RATE = 1.0
#: Just under the rate refused, the pace grows by this share of it, this often.
PROBE_STEP = 0.01
PROBE_EVERY = 10.0
#: Elsewhere it grows by this share of itself: every `GROW_EVERY` well under the rate refused
#: (or before the limit was shown real), every `PROBE_EVERY` past it.
PROBE_GROWTH = 0.1
GROW_EVERY = 1.0
#: Another cut waits this long after one: Dollr's hold and the lower pace answer what follows.
CUT_EVERY = 5.0
#: The longest a call outside `patient()` waits for the pace (Dollr's Retry-After aside).
INTERACTIVE_WAIT = 0.5
#: Requests remembered for learning the rate (a few seconds' worth at any pace Dollr allows).
_KEPT = 8192


class Waited:
    """What the calls of one `patient()` block spent their time on: `seconds` waiting for the
    pace and Dollr's hold (time that says nothing about how fast Dollr answers), `answering`
    from each request's leaving to its answer (or its failure): what `bulk/pace.py` goes by."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self.answering = 0.0


def answered_in(seconds: float) -> None:
    """A request of the current `patient()` block (if any) waited this long for its answer."""
    waited = _patient.get()
    if waited is not None:
        waited.answering += seconds


_patient: contextvars.ContextVar[Waited | None] = contextvars.ContextVar("dollr_patient", default=None)


@contextmanager
def patient() -> Iterator[Waited]:
    """Calls made inside wait their turn at the pace however long (background work, not clicks)."""
    waited = Waited()
    token = _patient.set(waited)
    try:
        yield waited
    finally:
        _patient.reset(token)


class RatePacer:
    def __init__(
        self,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._sent: deque[float] = deque(maxlen=_KEPT)  # when requests left
        self._refused: deque[float] = deque(maxlen=_KEPT)  # when those answered 429 had left
        self._recent: deque[float] = deque()  # when paced requests left (under the lock)
        self._held_from = self._quiet_until = 0.0  # Dollr's Retry-After: nothing leaves then
        self._rate: float | None = None  # requests a second; None until a 429 taught one
        self._refused_rate = 0.0  # the rate Dollr accepted when it last refused
        self._confirmed = False  # refused more than once near that rate: it is the limit
        self._next = 0.0  # the next free slot of the patient queue
        self._next_interactive = 0.0  # the next slot of calls that cut in ahead of it
        self._queued = 0  # patient senders holding a slot not yet reached
        self._owed = 0  # slots given to calls that cut in: the next patient senders yield them
        self._cut_at = float("-inf")
        self._changed_at = float("-inf")
        #: How often the pace was lowered, and the 429s of requests sent once paced (for benches).
        self.cuts = 0
        self.refused_when_paced = 0
        self._paced_since = float("inf")

    def __repr__(self) -> str:
        rate = "off" if self._rate is None else f"{self._rate:.1f}/s"
        return f"RatePacer(rate={rate}, cuts={self.cuts})"

    @property
    def rate(self) -> float | None:
        """Requests a second the pace lets out; None while nothing is paced."""
        with self._lock:
            return self._rate

    def hold(self, seconds: float) -> None:
        """Dollr said 429 with this wait: no sender of the client sends anything before it ends."""
        with self._lock:
            now = self._clock()
            if now >= self._quiet_until:
                self._held_from = now
            self._quiet_until = max(self._quiet_until, now + seconds)

    def acquire(self) -> float:
        """Wait until the next request may leave (call right before sending it); return the time
        it leaves (on `clock`), for `refused`."""
        waited = _patient.get()
        if waited is not None:
            sent_at, slept = self._wait_in_queue()
            waited.seconds += slept
        else:
            with self._lock:
                now = self._clock()
                wait = max(0.0, self._quiet_until - now)
                if self._rate is not None:
                    at = now + wait
                    wait += min(max(self._cut_in(at), self._window_wait(at)), INTERACTIVE_WAIT)
                    self._recent.append(now + wait)
            if wait > 0:
                self._sleep(wait)
            sent_at = now + wait
        self._sent.append(sent_at)  # atomic: no lock on the path of every call
        return sent_at

    def refused(self, sent_at: float) -> None:
        """Dollr answered 429 to the request that left at `sent_at`: learn the rate, or lower it."""
        self._refused.append(sent_at)
        with self._lock:
            if sent_at >= self._paced_since:
                self.refused_when_paced += 1
            if sent_at < self._cut_at:
                self._confirmed = True  # a burst refused: the limit is real, not one stray 429
                return  # on its way before the last cut, which answers it
            if self._clock() < self._cut_at + CUT_EVERY:
                return  # just after the last cut: Dollr's hold and the new pace answer it
            accepted = self._accepted(sent_at)
            if accepted is None and self._rate is None:
                return  # too few of ours to learn from: someone else used the quota
            level = min(r for r in (accepted, self._rate) if r is not None)
            if self._rate is None:
                self._refused_rate = level
            else:  # one cut moves where Dollr is thought to refuse by `MARGIN` at most
                self._refused_rate = max(level, (1 - MARGIN) * self._refused_rate)
            self._rate = max(MIN_RATE, level * (1 - MARGIN))
            self._cut_at = self._changed_at = self._clock()
            self._paced_since = min(self._paced_since, self._cut_at)
            self.cuts += 1

    # ------------------------------------------------------------------ slots (under the lock)

    def _accepted(self, sent_at: float) -> float | None:
        """Requests a second Dollr accepted from us in the `WINDOW` before `sent_at`, over the
        part of it we were free to send in (not held); None when too few to tell."""
        start = sent_at - WINDOW
        count = sum(1 for t in tuple(self._sent) if start < t <= sent_at)
        count -= sum(1 for t in tuple(self._refused) if start < t <= sent_at)
        held = max(0.0, min(sent_at, self._quiet_until) - max(start, self._held_from))
        free = WINDOW - held
        if count < MIN_COUNT or free < WINDOW / 4:
            return None
        return count / free

    def _take_slot(self, now: float) -> float:
        """The next free slot of the patient queue, taken; grows the pace when it queues."""
        assert self._rate is not None
        start = max(self._next, self._quiet_until, now)
        if start > now:  # requests queue for the pace: probe upward
            self._probe(now)
        self._next = start + 1 / self._rate
        return start

    def _cut_in(self, now: float) -> float:
        """A call outside `patient()`: seconds until its slot, ahead of the patient queue."""
        assert self._rate is not None
        if self._queued == 0:
            return self._take_slot(now) - now
        slot = max(self._next_interactive, now)
        self._next_interactive = slot + 1 / self._rate
        self._owed = min(self._owed + 1, self._queued)
        return slot - now

    def _probe(self, now: float) -> None:
        assert self._rate is not None
        since = now - self._changed_at
        near = (1 - MARGIN) * self._refused_rate - 1e-9
        if self._rate < near or not self._confirmed:
            # Well under where Dollr refused, or refused once only (a stray 429, a rate learned
            # while little was sent): regain it, or look for the limit, fast.
            if since < GROW_EVERY:
                return
            grown = self._rate * (1 + PROBE_GROWTH)
            self._rate = min(near, grown) if self._rate < near else grown
        elif since < PROBE_EVERY:
            return
        elif self._rate < self._refused_rate:  # just under it: creep up, a 429 should stay rare
            self._rate = min(self._refused_rate, self._rate + PROBE_STEP * self._refused_rate)
        else:  # past it with no 429: the limit is higher than was learned (or freed up)
            self._rate *= 1 + PROBE_GROWTH
        self._changed_at = now

    def _window_wait(self, now: float) -> float:
        """Seconds until one more request keeps every `WINDOW` within the pace (0: now).

        Evenly spaced slots already do, as long as senders leave on time; this catches a sender
        that woke late and would leave right before the next one (a sliding window counts both).
        """
        assert self._rate is not None
        cap = max(1, math.ceil(self._rate * WINDOW - 1e-9))
        horizon = now - WINDOW
        while self._recent and self._recent[0] <= horizon - WINDOW:
            self._recent.popleft()  # in order but for a click's planned time: keep a margin
        inside = sorted(t for t in self._recent if t > horizon)
        if len(inside) < cap:
            return 0.0
        return inside[len(inside) - cap] + WINDOW - now

    def _wait_in_queue(self) -> tuple[float, float]:
        """Wait for a slot of the patient queue; return when it leaves and the seconds slept."""
        slept = 0.0
        slot: float | None = None  # the paced slot this sender holds
        held = False  # it waited Dollr's hold while nothing was paced
        while True:
            with self._lock:
                now = self._clock()
                if self._rate is None:
                    wait = self._quiet_until - now
                    if held or wait <= 0:
                        return now, slept  # not paced: Dollr's hold alone, waited once
                    held = True
                else:
                    if slot is not None:  # woke up: is the slot still its own?
                        self._queued -= 1
                        if self._owed > 0:
                            self._owed -= 1  # a click took it: take the next free one
                            slot = None
                        elif self._quiet_until > slot:
                            slot = None  # Dollr's hold began meanwhile
                    if slot is None:
                        slot = self._take_slot(now)
                    wait = max(slot - now, self._window_wait(now))
                    if wait <= 0:
                        self._recent.append(now)
                        return now, slept
                    self._queued += 1
            self._sleep(wait)
            slept += wait
