"""The pace of a bulk job (`bulk/pace.py`): one at a time until proven, then grows by one per
window while latency holds, halves on a refusal (once per round trip), never above the ceiling."""

from __future__ import annotations

import dataclasses
import time

from dollr_core.api import pacing
from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.api.errors import RATE_LIMITED, DollrError, InvalidRequestError, RateLimitError
from dollr_core.basics.access import Actor
from dollr_core.basics.enums import OperationType
from dollr_core.bulk import running
from dollr_core.bulk.pace import MIN_WINDOW, PATIENCE, TOLERANCE, Pace, attempt_refused, refusal
from dollr_core.config import Settings
from dollr_core.ledger.tables import Attempt, AttemptState, BatchRowState
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..flows.helpers import executions_by_reference
from .helpers import PASSCODE, approved_batch, count, row_of_reference, rows_text, run_to_end


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def answered(pace: Pace, latency: float = 0.1) -> None:
    """One window of calls answered in `latency` seconds each."""
    for _ in range(max(MIN_WINDOW, pace.limit)):
        pace.succeeded(latency)


def test_one_at_a_time_until_a_payment_went_through() -> None:
    pace = Pace(16)
    for _ in range(5):
        answered(pace)
    assert pace.limit == 1  # a wrong passcode costs one row, however well Dollr answers
    pace.prove()
    answered(pace)
    assert pace.limit == 2


def test_doubles_while_latency_holds_then_grows_by_one() -> None:
    pace = Pace(32, proven=True)
    for expected in (2, 4, 8):
        answered(pace, 0.1)
        assert pace.limit == expected
    answered(pace, 0.1 * TOLERANCE)  # as slow as it may get: still grows
    assert pace.limit == 16
    answered(pace, 0.1 * TOLERANCE * 1.1)  # slower than that: more at once no longer pays off
    answered(pace, 0.5)
    assert pace.limit == 16
    pace.succeeded(0.1)  # one fast call does not decide: a window is `limit` calls
    assert pace.limit == 16
    answered(pace, 0.1)  # fast again: from now on one more per window
    assert pace.limit == 17
    answered(pace, 0.1)
    assert pace.limit == 18


def test_answers_from_a_cache_say_nothing_about_dollr() -> None:
    pace = Pace(16, proven=True)
    answered(pace, 0.00001)  # a cached operator look-up
    answered(pace, 0.1)
    answered(pace, 0.1)
    assert pace.limit == 4  # the cached answers set no "best" the real calls could never reach


def test_never_above_the_ceiling() -> None:
    pace = Pace(3, proven=True)
    for _ in range(10):
        answered(pace)
    assert pace.limit == pace.peak == 3


def test_halves_on_a_refusal_once_per_round_trip() -> None:
    error = DollrError("bad gateway", status=502)
    clock = Clock()
    pace = Pace(32, proven=True, clock=clock)
    for _ in range(4):
        answered(pace)
    assert pace.limit == 16
    on_the_wire = [pace.now() for _ in range(16)]  # sixteen calls sent before Dollr refused
    assert refusal(error)
    clock.now += 0.05
    pace.refused(started_at=on_the_wire[0])
    assert pace.limit == 8
    for started in on_the_wire[1:]:  # the others on their way are refused too: the cut answered them
        pace.refused(started_at=started)
    assert pace.limit == 8
    clock.now += 0.05
    pace.refused(started_at=pace.now())  # sent after the cut and still refused: halve again
    assert (pace.limit, pace.cuts) == (4, 2)
    pace.refused()
    pace.refused()
    pace.refused()
    assert pace.limit == 1  # never below one
    for _ in range(PATIENCE):
        answered(pace)
    assert pace.limit == 2  # it grows again while Dollr keeps up, carefully where it was refused


def test_growing_back_to_a_refused_limit_takes_patience() -> None:
    pace = Pace(32, proven=True)
    for _ in range(3):
        answered(pace)
    pace.refused()  # refused at 8: down to 4
    answered(pace)
    answered(pace)
    answered(pace)
    assert pace.limit == 7  # one per window up to just below the refused limit
    for _ in range(PATIENCE - 1):
        answered(pace)
    assert pace.limit == 7
    answered(pace)
    assert pace.limit == 8  # PATIENCE good windows in a row: it tries the refused limit again
    answered(pace, 1.0)  # a slow window starts the count again
    for _ in range(PATIENCE - 1):
        answered(pace)
    assert pace.limit == 8


def test_a_refused_request_that_is_not_a_refusal_of_pace() -> None:
    assert not refusal(InvalidRequestError("bad field", status=422))
    assert not refusal(DollrError("no answer", status=None))


def test_a_429_is_the_rate_pacers_not_the_concurrencys() -> None:
    """Halving the senders on a 429 would fight the client's rate pacer (`api/pacing.py`): a
    whole number of senders is too coarse for a rate, and one sender is 60 % of 20 a second."""
    assert not refusal(RateLimitError(RATE_LIMITED, retry_after=1, status=429))
    limited = Attempt(local_state=AttemptState.UNKNOWN, last_error=f"{RATE_LIMITED} Dollr asked to wait 1 s.")
    assert not attempt_refused(limited)
    assert attempt_refused(Attempt(local_state=AttemptState.UNKNOWN, last_error="Dollr had a server error"))


def test_bulk_concurrency_pins_the_pace() -> None:
    fixed = Pace.for_settings(Settings(bulk_concurrency=6))
    assert fixed.limit == 1  # fixed, but still one at a time until a payment went through
    fixed.prove()
    answered(fixed)
    fixed.refused()
    assert fixed.limit == 6
    found = Pace.for_settings(Settings(bulk_max_concurrency=12), proven=True)
    assert (found.limit, found.ceiling) == (1, 12)


#: The sandbox's limit in the rate-limited batch, requests a second over a sliding 1 s window.
LIMIT = 30
#: 429s a paced batch may still meet (of its 240 requests) on a machine too busy to send on time.
PACED_REFUSALS_AT_MOST = 12


def test_a_rate_limited_batch_keeps_under_the_rate_and_pays_every_row_once(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    """With the sandbox's rate limit on (per merchant, a sliding 1 s window) from the row checks
    to the last payment, the client's pacer learns the rate from the first 429 and keeps just
    under it: once paced, hardly a 429; the pace near the limit; the concurrency never halved for
    a 429; every row paid once. Counts, not timings: the first 429 finds at most the ceiling's
    worth of requests on the wire, and the pace is what the pacer counted Dollr accept."""
    client = DollrClient(sqlite_services.settings)  # real waits: Retry-After and the pace
    svc = dataclasses.replace(sqlite_services, client=client, lookups=Lookups(client))
    refused_before = fresh_sandbox.rate_limited_count
    fresh_sandbox.configure(rate_limit_per_minute=LIMIT * 60, rate_limit_window_seconds=1)
    try:
        lines = [f"Person {i},2318800{i:03d}9,5,USD,,P{i}" for i in range(40)]
        batch_id = approved_batch(svc, finance, manager, rows_text(*lines)).id or 0
        running.start_batch(svc, finance, batch_id, PASSCODE)
        paying = svc.bulk_workers.get(batch_id)
        assert paying is not None
        run_to_end(svc, batch_id, fresh_sandbox, timeout=120)
    finally:
        fresh_sandbox.configure(rate_limit_per_minute=0, rate_limit_window_seconds=60)
        client.close()
    pacer = client.pacer
    refused = fresh_sandbox.rate_limited_count - refused_before
    assert pacer.cuts >= 1, "the rate limit never refused a request"
    # The first contact finds at most the ceiling's worth on the wire; once paced, a few more at
    # most (on a busy machine paced sends can bunch on their way out: 8 of 240 seen once). A
    # client that did not pace would be refused most of its 16 senders' calls every second.
    assert refused <= svc.settings.bulk_max_concurrency + PACED_REFUSALS_AT_MOST
    assert pacer.refused_when_paced <= PACED_REFUSALS_AT_MOST
    assert pacer.rate is not None and pacer.rate >= 0.7 * LIMIT
    assert paying.pace.cuts == 0  # a 429 is the pacer's: the senders were not halved
    assert count(svc, BatchRowState.PAID, batch_id) == 40
    paid = executions_by_reference(fresh_sandbox)  # one payout per reference
    assert len(paid) == 40 and set(paid) <= set(row_of_reference(svc))


def test_the_pace_goes_by_the_wait_for_dollrs_answers_not_by_our_own_queues(
    sqlite_services: Services, fresh_sandbox: Sandbox
) -> None:
    """A row's latency for the pace is the time its requests waited for Dollr's answers. Its time
    in our own queues (SQLite's write turn behind the other rows, say) lengthens whenever more
    rows go at once, whatever Dollr does, and it had stopped the pace at 16 of 32."""
    fresh_sandbox.configure(latency_ms=150)
    try:
        with pacing.patient() as waited:
            sqlite_services.lookups.operator("231880005678", OperationType.PAYOUT)
            time.sleep(2.0)  # the row's ledger work, queued behind its neighbours
    finally:
        fresh_sandbox.configure(latency_ms=0)
    assert 0.15 <= waited.answering < 2.0
