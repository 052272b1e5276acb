"""How many calls a bulk job keeps on the wire at once: found by the job itself, not configured.

Additive increase, multiplicative decrease (AIMD), as TCP finds a link's capacity:

- it starts at one, and stays there until `prove()` says the first payment went through (a
  mistyped passcode then costs one row, not a batch);
- after every window of calls that came back (one per call allowed, at least `MIN_WINDOW`), the
  limit grows if nothing was refused and the window's median latency is no worse than
  `TOLERANCE` × the best median seen: more calls at once still pay off, the far side keeps up.
  A call's latency is its time waiting for Dollr's answers (`pacing.Waited.answering`), not
  its time in our own queues (the client's pacer, the ledger's write turn), which more calls
  at once lengthen whatever Dollr does.
  It doubles until the first window that was slower or the first refusal (TCP's slow start, so
  a batch reaches its pace in a few windows, not a few hundred rows), then grows by one;
- a refusal (a 5xx, an unknown outcome, the client retrying such a call) halves it, once per
  round trip: refusals of calls that were already on their way when it was halved do not halve
  it again. Growing back to the limit that was refused takes `PATIENCE` good windows, not one;
- it never goes above the ceiling (`Settings.bulk_max_concurrency`) nor below one.

Dollr's 429 is not a refusal here: the rate is the client's pacer's (`api/pacing.py`), shared by
every sender of the client, which learns the rate from the first 429 and spaces requests under
it. Halving the concurrency as well would fight it: a whole number of senders is too coarse for
a rate (at 20 requests/s one sender makes about 12 calls/s), so the job would fall to one sender
and 60 % of the rate. Once the pacer binds, more senders only wait in its queue (time this
limit does not count), and `Settings.bulk_max_concurrency` bounds how many.

`Settings.bulk_concurrency` pins the limit instead (`for_settings`): one at a time until proven,
then that many, whatever happens. Dollr's Retry-After is not this module's business either: the
client holds every sender (`Sender.hold_all`), the worker its new rows (`BatchWorker._hold`).
Thread-safe: the coordinator reads `limit` while pool threads report.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable

from dollr_core.api.errors import RATE_LIMITED, DollrError, RateLimitError
from dollr_core.config import Settings
from dollr_core.ledger.tables import Attempt, AttemptState

#: A window's median may be this much slower than the best one before growing stops.
TOLERANCE = 1.5
#: The fewest calls a window holds, so that one slow call does not decide.
MIN_WINDOW = 4
#: Good windows in a row it takes to grow back to a limit that was refused.
PATIENCE = 4
#: Answers quicker than this came from a cache, not from Dollr: they say nothing about its pace.
MIN_SAMPLE = 0.001


class Pace:
    def __init__(
        self,
        ceiling: int,
        *,
        adapt: bool = True,
        proven: bool = False,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if ceiling < 1:
            raise ValueError("The ceiling of a pace is at least one call at a time.")
        self.ceiling = ceiling
        self.adapt = adapt
        self._clock = clock
        self._lock = threading.Lock()
        self._limit = 1 if adapt else ceiling
        self._proven = proven
        self._window: list[float] = []
        self._best: float | None = None
        self._cut_at = float("-inf")  # when the limit was last halved
        self._starting = adapt  # doubling, until a window is slower or a call is refused
        self._refused_at: int | None = None  # the limit Dollr last refused calls at
        self._good = 0  # good windows in a row at this limit
        #: The highest limit reached, and how often it was halved (for benches and logs).
        self.peak = self._limit
        self.cuts = 0

    @classmethod
    def for_settings(cls, settings: Settings, *, proven: bool = False) -> Pace:
        """The pace a bulk job runs at: fixed by `bulk_concurrency`, else found below the ceiling."""
        if settings.bulk_concurrency is not None:
            return cls(settings.bulk_concurrency, adapt=False, proven=proven)
        return cls(settings.bulk_max_concurrency, proven=proven)

    def __repr__(self) -> str:
        return f"Pace(limit={self._limit}, ceiling={self.ceiling}, peak={self.peak}, cuts={self.cuts})"

    @property
    def limit(self) -> int:
        """Calls allowed on the wire at once right now."""
        with self._lock:
            return self._limit if self._proven else 1

    @property
    def proven(self) -> bool:
        with self._lock:
            return self._proven

    def now(self) -> float:
        """The clock `refused(started_at=…)` compares with: read it when a call starts."""
        return self._clock()

    def prove(self) -> None:
        """One payment went through: the limit may grow past one."""
        with self._lock:
            self._proven = True

    def succeeded(self, latency: float) -> None:
        """A call came back answered (whatever Dollr said, as long as it did not refuse it)."""
        if not self.adapt or latency < MIN_SAMPLE:
            return
        with self._lock:
            self._window.append(latency)
            if len(self._window) < max(MIN_WINDOW, self._limit):
                return
            middle = statistics.median(self._window)
            self._window.clear()
            if self._best is None or middle < self._best:
                self._best = middle
            if middle > TOLERANCE * self._best:
                self._starting, self._good = False, 0
                return
            self._good += 1
            if not self._proven or self._limit >= self.ceiling:
                return
            grown = min(self.ceiling, 2 * self._limit if self._starting else self._limit + 1)
            if self._refused_at is not None and grown >= self._refused_at and self._good < PATIENCE:
                return  # where Dollr refused last time: make sure before going there again
            self._limit, self._good = grown, 0
            self.peak = max(self.peak, self._limit)

    def refused(self, *, started_at: float | None = None) -> None:
        """Dollr could not answer a call (5xx, unknown): halve the limit, unless it already was
        since the call started."""
        if not self.adapt:
            return
        with self._lock:
            if started_at is not None and started_at < self._cut_at:
                return  # on its way before the last cut: that cut answered it already
            self._cut_at = self._clock()
            self._starting, self._good = False, 0
            self._refused_at = self._limit
            self._limit = max(1, self._limit // 2)
            self._window.clear()
            self.cuts += 1


def refusal(exc: DollrError) -> bool:
    """Dollr could not answer the call (5xx): fewer calls at once. A 429 is the pacer's."""
    return not isinstance(exc, RateLimitError) and exc.status is not None and exc.status >= 500


def attempt_refused(attempt: Attempt) -> bool:
    """What a payment's attempt says of its call: outcome unknown (a 5xx, a timeout), unless
    Dollr's 429 made it so (the rate is the client's pacer's, see the module's docstring)."""
    unknown = AttemptState(attempt.local_state) is AttemptState.UNKNOWN
    return unknown and RATE_LIMITED not in (attempt.last_error or "")
