"""Background workers kept per process: one per key (a bulk batch), started once, stopped on close.

The registry is an object held by `Services`, so every process (console, command line, test) has
its own, and nothing reaches it through a module global.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Generic, Protocol, TypeVar


class BackgroundWorker(Protocol):
    @property
    def alive(self) -> bool: ...

    def stop(self, timeout: float | None = 30.0) -> None: ...


W = TypeVar("W", bound=BackgroundWorker)


class Workers(Generic[W]):
    """Workers by key. `start` makes one unless a live one is kept: never two for one key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_key: dict[int, W] = {}

    def get(self, key: int) -> W | None:
        with self._lock:
            return self._by_key.get(key)

    def start(self, key: int, make: Callable[[], W], start: Callable[[W], None]) -> W:
        """The live worker for `key`, or a new one from `make`, started with `start` under the lock."""
        with self._lock:
            current = self._by_key.get(key)
            if current is not None and current.alive:
                return current
            worker = make()
            self._by_key[key] = worker
            start(worker)
            return worker

    def stop(self, key: int | None = None, *, timeout: float = 30.0) -> None:
        """Stop one key's worker (None: every worker), letting calls under way finish."""
        with self._lock:
            chosen = [w for k, w in self._by_key.items() if key is None or k == key]
        for worker in chosen:
            worker.stop(timeout)
