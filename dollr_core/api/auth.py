"""The client-credentials token cache: one refresh at a time, proactive before expiry."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from dollr_core.api.models import TokenResponse

__all__ = ["REFRESH_MARGIN_SECONDS", "TokenCache"]

#: Refresh once fewer than this many seconds of the token's life remain (contract §2).
REFRESH_MARGIN_SECONDS = 300.0


@dataclass(frozen=True, slots=True)
class _Cached:
    value: str
    refresh_at: float
    expires_at: float


class TokenCache:
    """Holds the bearer token and refreshes it through `fetch`, serialised by a lock.

    `fetch` obtains a new token (A1); `clock` is monotonic seconds. A token is refreshed when
    less than 5 minutes remain (or, for lifetimes under 10 minutes, half its lifetime), so that
    many threads needing a token at once cause exactly one token request.
    """

    def __init__(
        self,
        fetch: Callable[[], TokenResponse],
        clock: Callable[[], float],
        on_change: Callable[[str | None, str], None] | None = None,
    ) -> None:
        self._fetch = fetch
        self._clock = clock
        self._on_change = on_change
        self._lock = threading.Lock()
        self._cached: _Cached | None = None

    def __repr__(self) -> str:
        return f"TokenCache(cached={self._cached is not None})"

    def get(self) -> str:
        """A valid token, refreshing first if none is cached or it is close to expiry."""
        cached = self._cached
        if cached is not None and self._clock() < cached.refresh_at:
            return cached.value
        with self._lock:
            cached = self._cached
            if cached is not None and self._clock() < cached.refresh_at:
                return cached.value
            return self._refresh_locked()

    def refresh_after_rejection(self, rejected: str) -> str:
        """Dollr refused `rejected` (401): get a new token unless another thread already did."""
        with self._lock:
            cached = self._cached
            if cached is not None and cached.value != rejected and self._clock() < cached.refresh_at:
                return cached.value
            return self._refresh_locked()

    def clear(self) -> None:
        with self._lock:
            self._cached = None

    def _refresh_locked(self) -> str:
        started = self._clock()
        response = self._fetch()
        lifetime = max(0.0, response.lifetime.total_seconds())
        margin = min(REFRESH_MARGIN_SECONDS, lifetime / 2)
        value = response.access_token.get_secret_value()
        old = self._cached.value if self._cached is not None else None
        self._cached = _Cached(value, started + lifetime - margin, started + lifetime)
        if self._on_change is not None:
            self._on_change(old, value)
        return value
