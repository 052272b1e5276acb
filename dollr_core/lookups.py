"""Read-only Dollr answers that may be reused for a short while.

Pages rerun on every click and keystroke; an operator's network or a quote does not change in
that time, and Dollr rate-limits per merchant. Money-moving calls are never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from dollr_core.client import DollrClient
from dollr_core.enums import OperationType
from dollr_core.models import AmountAndFeePrediction, AmountAndFeesQuery, MmoProviderInfo, PaymentSourceQuery
from dollr_core.phone import normalize_phone

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A thread-safe map whose entries expire; concurrent misses for one key compute it once."""

    def __init__(self, ttl_seconds: float, *, max_entries: int = 5000) -> None:
        self._ttl = ttl_seconds
        self._max = max_entries
        self._lock = threading.Lock()
        self._entries: dict[K, tuple[float, V]] = {}
        self._key_locks: dict[K, threading.Lock] = {}

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            hit = self._entries.get(key)
            if hit is not None and time.monotonic() - hit[0] < self._ttl:
                return hit[1]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            with self._lock:
                hit = self._entries.get(key)
                if hit is not None and time.monotonic() - hit[0] < self._ttl:
                    return hit[1]
            value = compute()
            with self._lock:
                if len(self._entries) >= self._max:
                    self._entries.clear()
                    self._key_locks = {k: v for k, v in self._key_locks.items() if v.locked()}
                self._entries[key] = (time.monotonic(), value)
            return value

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


class Lookups:
    def __init__(self, client: DollrClient, *, operator_ttl: float = 600.0, quote_ttl: float = 60.0) -> None:
        self._client = client
        self._operators: TTLCache[tuple[str, OperationType], MmoProviderInfo] = TTLCache(operator_ttl)
        self._quotes: TTLCache[str, AmountAndFeePrediction] = TTLCache(quote_ttl)

    def operator(self, phone: str, operation: OperationType) -> MmoProviderInfo:
        """Which mobile-money operator serves this number (PR3)."""
        number = normalize_phone(phone)
        return self._operators.get_or_compute(
            (number, operation), lambda: self._client.predictions.mmo_provider_info(number, operation)
        )

    def prediction(self, query: AmountAndFeesQuery | PaymentSourceQuery) -> AmountAndFeePrediction:
        """What the payer pays and the payee receives (PR1 or PR2)."""
        key = f"{type(query).__name__}:{query.model_dump_json()}"
        if isinstance(query, PaymentSourceQuery):
            return self._quotes.get_or_compute(key, lambda: self._client.predictions.payment_source(query))
        return self._quotes.get_or_compute(key, lambda: self._client.predictions.amount_and_fees(query))
