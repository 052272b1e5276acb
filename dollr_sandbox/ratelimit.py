"""A sliding-window request limit per key (merchant, client id), on real (not sandbox) time."""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

_WINDOW = 60.0


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, key: str, per_minute: int, *, window: float = _WINDOW) -> int | None:
        """Count one request; return the seconds to wait when it is over the limit, else None.

        The limit is counted over the last `window` seconds, scaled to it (at least one request).
        """
        if per_minute <= 0:
            return None
        allowed = max(1, round(per_minute * window / 60))
        now = self._clock()
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - window:
                hits.popleft()
            if len(hits) >= allowed:
                # Refused requests are not counted, so a client that waits Retry-After gets in.
                return max(1, math.ceil(hits[0] + window - now))
            hits.append(now)
            return None

    def clear(self) -> None:
        with self._lock:
            self._hits.clear()
