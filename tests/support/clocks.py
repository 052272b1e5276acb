"""A clock for code that takes `clock` and `sleep` (the client's pacer, its retries)."""

from __future__ import annotations


class SleepClock:
    """Monotonic seconds that move only when someone sleeps: waits are recorded, never waited."""

    def __init__(self, start: float = 100.0) -> None:
        self.now = start
        self.sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
