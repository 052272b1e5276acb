"""What the sandbox counts about the requests it serves, for tests and benches."""

from __future__ import annotations

import threading
from collections import Counter


class RequestStats:
    """Requests served, in total and per path, and how many the rate limit refused (not part of
    the state: a reset keeps them)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_path: Counter[str] = Counter()
        self._rate_limited = 0

    def count(self, path: str) -> None:
        with self._lock:
            self._by_path[path] += 1

    def count_rate_limited(self) -> None:
        with self._lock:
            self._rate_limited += 1

    @property
    def rate_limited(self) -> int:
        """Requests answered 429 by the rate limit (injected faults not included)."""
        with self._lock:
            return self._rate_limited

    @property
    def total(self) -> int:
        with self._lock:
            return sum(self._by_path.values())

    def by_path(self) -> dict[str, int]:
        with self._lock:
            return dict(self._by_path)
