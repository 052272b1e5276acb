"""The pace of a bulk job (`bulk/pace.py`): one at a time until proven, then grows by one per
window while latency holds, halves on a refusal (once per round trip), never above the ceiling."""

from __future__ import annotations

import time

import pytest

from dollr_core.api.errors import DollrError, InvalidRequestError, RateLimitError
from dollr_core.basics.access import Actor
from dollr_core.bulk import running, worker
from dollr_core.bulk.pace import MIN_WINDOW, PATIENCE, TOLERANCE, Pace, refusal
from dollr_core.config import Settings
from dollr_core.ledger.tables import BatchRowState
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..flows.helpers import executions_by_reference
from .helpers import PASSCODE, approved_batch, count, hurry, row_of_reference, rows_text, wait_for


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


@pytest.mark.parametrize(
    "error",
    [RateLimitError("slow down", retry_after=2), DollrError("bad gateway", status=502)],
    ids=["429", "5xx"],
)
def test_halves_on_a_refusal_once_per_round_trip(error: DollrError) -> None:
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


def test_bulk_concurrency_pins_the_pace() -> None:
    fixed = Pace.for_settings(Settings(bulk_concurrency=6))
    assert fixed.limit == 1  # fixed, but still one at a time until a payment went through
    fixed.prove()
    answered(fixed)
    fixed.refused()
    assert fixed.limit == 6
    found = Pace.for_settings(Settings(bulk_max_concurrency=12), proven=True)
    assert (found.limit, found.ceiling) == (1, 12)


def test_a_rate_limited_batch_slows_down_and_pays_every_row_once(
    sqlite_services: Services, fresh_sandbox: Sandbox, finance: Actor, manager: Actor
) -> None:
    """The worker grows while Dollr keeps up; then the sandbox's own rate limit comes on (per
    merchant, a 1 s window), refuses, and the worker comes down, still paying every row once
    (a session turned away by a 429 is sent again, not reported failed)."""
    svc = sqlite_services
    lines = [f"Person {i},2318800{i:03d}9,5,USD,,P{i}" for i in range(16)]
    batch_id = approved_batch(svc, finance, manager, rows_text(*lines)).id or 0
    running.start_batch(svc, finance, batch_id, PASSCODE)
    paying = svc.bulk_workers.get(batch_id)
    assert paying is not None
    wait_for(lambda: paying.pace.limit >= 2, timeout=60)
    grown = lowest = paying.pace.limit
    fresh_sandbox.configure(rate_limit_per_minute=25 * 60, rate_limit_window_seconds=1)
    try:
        deadline = time.monotonic() + 120
        while not worker.join(svc, batch_id, timeout=0.1):
            assert time.monotonic() < deadline, "the worker did not finish in time"
            lowest = min(lowest, paying.pace.limit)
            hurry(svc, fresh_sandbox, 2)
    finally:
        fresh_sandbox.configure(rate_limit_per_minute=0, rate_limit_window_seconds=60)
    assert fresh_sandbox.rate_limited_count > 0, "the rate limit never refused a request"
    assert paying.pace.cuts >= 1 and lowest < grown
    assert count(svc, BatchRowState.PAID, batch_id) == 16
    paid = executions_by_reference(fresh_sandbox)  # one payout per reference
    assert len(paid) == 16 and set(paid) <= set(row_of_reference(svc))
