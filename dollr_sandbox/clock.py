"""The sandbox clock: wall time plus an offset that tests move forward.

Executions, session expiry and token expiry all read this clock, so advancing it moves everything
deterministically without sleeping.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta


def _utcnow() -> datetime:
    return datetime.now(UTC)


class SandboxClock:
    def __init__(self, offset_seconds: float = 0.0, wall: Callable[[], datetime] = _utcnow) -> None:
        self._offset = offset_seconds
        self._wall = wall

    @property
    def offset_seconds(self) -> float:
        return self._offset

    def now(self) -> datetime:
        return self._wall() + timedelta(seconds=self._offset)

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("the sandbox clock only moves forward")
        self._offset += seconds

    def reset(self, offset_seconds: float = 0.0) -> None:
        self._offset = offset_seconds
