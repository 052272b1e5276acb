"""The client's request-rate pacer (`api/pacing.py`), on a fake clock whose sleeps move it."""

from __future__ import annotations

import bisect
import contextvars
import itertools
import threading

import pytest

from dollr_core.api import pacing
from dollr_core.api.pacing import (
    CUT_EVERY,
    GROW_EVERY,
    INTERACTIVE_WAIT,
    MARGIN,
    PROBE_EVERY,
    PROBE_STEP,
    RatePacer,
)
from tests.support.clocks import SleepClock


@pytest.fixture
def clock() -> SleepClock:
    return SleepClock()


@pytest.fixture
def pacer(clock: SleepClock) -> RatePacer:
    return RatePacer(clock=clock, sleep=clock.sleep)


def refused_at_twenty(pacer: RatePacer, clock: SleepClock) -> None:
    """Twenty requests accepted within a second, then the next two answered 429 (a burst)."""
    for _ in range(20):
        pacer.acquire()
        clock.now += 0.04
    first = pacer.acquire()
    clock.now += 0.001
    second = pacer.acquire()
    clock.now += 0.05
    pacer.refused(first)
    pacer.refused(second)


def most_in_a_second(times: list[float]) -> int:
    times = sorted(times)
    return max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))


def test_nothing_is_paced_before_a_429(pacer: RatePacer, clock: SleepClock) -> None:
    for _ in range(500):
        pacer.acquire()
    assert pacer.rate is None and clock.sleeps == []


def test_a_429_teaches_the_rate_dollr_accepted(pacer: RatePacer, clock: SleepClock) -> None:
    refused_at_twenty(pacer, clock)
    assert pacer.rate == pytest.approx(20 * (1 - MARGIN))
    assert pacer.cuts == 1


def test_paced_requests_leave_evenly_and_no_second_holds_more(pacer: RatePacer, clock: SleepClock) -> None:
    refused_at_twenty(pacer, clock)
    with pacing.patient() as waited:
        sent = [pacer.acquire() for _ in range(90)]
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(sent)}
    assert gaps == {round(1 / 18, 6)}  # evenly spaced: no burst
    assert most_in_a_second(sent) <= 18
    assert waited.seconds == pytest.approx(sum(clock.sleeps))


def test_refusals_already_on_their_way_do_not_cut_again(pacer: RatePacer, clock: SleepClock) -> None:
    for _ in range(20):
        pacer.acquire()
        clock.now += 0.04
    first = pacer.acquire()
    clock.now += 0.001
    on_the_wire = [pacer.acquire() for _ in range(10)]  # sent before the 429 came back
    clock.now += 0.05
    pacer.refused(first)
    for sent_at in on_the_wire:  # refused too, but the cut already answered them
        pacer.refused(sent_at)
    assert pacer.cuts == 1 and pacer.rate == pytest.approx(18)
    with pacing.patient():
        soon = pacer.acquire()
    pacer.refused(soon)  # sent after the cut, but Dollr's hold and the new pace answer it
    assert pacer.cuts == 1
    clock.now += CUT_EVERY
    with pacing.patient():
        later = pacer.acquire()
    pacer.refused(later)  # refused again a while after: lower again
    assert pacer.cuts == 2 and pacer.rate == pytest.approx(18 * (1 - MARGIN))


def test_a_429_with_too_few_of_ours_teaches_nothing(pacer: RatePacer, clock: SleepClock) -> None:
    """Another console used the merchant's quota: the Retry-After hold alone is waited."""
    pacer.acquire()
    pacer.refused(pacer.acquire())
    pacer.hold(2.0)
    assert pacer.rate is None
    pacer.acquire()
    assert clock.sleeps == [2.0]


def test_the_pace_probes_upward_slowly_while_requests_queue(pacer: RatePacer, clock: SleepClock) -> None:
    refused_at_twenty(pacer, clock)
    with pacing.patient():
        while clock.now < 100.8 + PROBE_EVERY - 0.1:
            pacer.acquire()
        assert pacer.rate == pytest.approx(18)
        for _ in range(3):
            pacer.acquire()
    assert pacer.rate == pytest.approx(18 + PROBE_STEP * 20)  # one step, after PROBE_EVERY


def test_a_cut_from_a_lower_rate_is_regained_quickly_then_crept_up(
    pacer: RatePacer, clock: SleepClock
) -> None:
    """A 429 that came while little was sent (a spurious one, another console's burst) costs a
    few seconds of pace, not minutes: back to just under the rate refused before, fast."""
    refused_at_twenty(pacer, clock)
    clock.now += CUT_EVERY
    for _ in range(5):  # five requests in a second, and a 429
        pacer.acquire()
        clock.now += 0.19
    pacer.refused(pacer.acquire())
    assert pacer.rate == pytest.approx(5 * (1 - MARGIN))
    with pacing.patient():
        start = clock.now
        while pacer.rate < 16.2 - 1e-6:
            pacer.acquire()
        regained = clock.now - start
        assert regained <= 20 * GROW_EVERY  # 4.5 → 16.2 by 10 % a second
        pacer.acquire()
    assert pacer.rate == pytest.approx(16.2)  # 10 % under the rate refused before: it creeps on


def test_dollrs_hold_keeps_every_sender_waiting(pacer: RatePacer, clock: SleepClock) -> None:
    refused_at_twenty(pacer, clock)
    pacer.hold(1.0)
    start = clock.now
    assert pacer.acquire() >= start + 1.0  # a click waits Dollr's Retry-After
    with pacing.patient():
        assert pacer.acquire() >= start + 1.0


def test_a_click_waits_at_most_a_moment(pacer: RatePacer, clock: SleepClock) -> None:
    refused_at_twenty(pacer, clock)
    clock.now += 5.0
    for _ in range(40):  # forty clicks at once, far above the pace
        before = clock.now
        pacer.acquire()
        assert clock.now - before <= INTERACTIVE_WAIT


def test_a_click_goes_ahead_of_a_queued_bulk_sender(clock: SleepClock) -> None:
    """While a bulk sender sleeps until its slot, an operator's call cuts in at once; the bulk
    sender then yields it that slot, so the rate Dollr sees is the same."""
    clicks: list[float] = []

    def sleep(seconds: float) -> None:
        if not clicks:  # the bulk sender is asleep: an operator clicks (in a page's context)
            clicks.append(0.0)
            clicks[0] = contextvars.Context().run(pacer.acquire)
        clock.sleep(seconds)

    pacer = RatePacer(clock=clock, sleep=sleep)
    refused_at_twenty(pacer, clock)
    clock.now += 5.0
    with pacing.patient():
        first = pacer.acquire()  # the free slot, at once
        queued = pacer.acquire()  # the next slot: it sleeps, and the click comes meanwhile
    assert clicks[0] - first < 1 / 18  # the click did not wait for the bulk sender's slot
    assert queued == pytest.approx(first + 2 / 18)  # the bulk sender yielded one slot to it


def test_thread_safe_under_many_senders() -> None:
    """Eight threads at a real clock: every request leaves, and no second holds more than the pace."""
    pacer = RatePacer()
    for _ in range(55):  # accepted at once, then a burst of 429s: a pace of 49.5 a second
        pacer.acquire()
    first, second = pacer.acquire(), pacer.acquire()
    pacer.refused(first)
    pacer.refused(second)
    assert pacer.rate == pytest.approx(55 * (1 - MARGIN))
    sent: list[float] = []
    lock = threading.Lock()

    def send() -> None:
        with pacing.patient():
            for _ in range(15):
                at = pacer.acquire()
                with lock:
                    sent.append(at)

    threads = [threading.Thread(target=send) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert len(sent) == 120
    assert most_in_a_second(sent) <= 50
