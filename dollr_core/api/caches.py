"""Read-only Dollr answers that may be reused for a short while.

Pages rerun on every click and keystroke; an operator's network or a quote does not change in
that time, and Dollr rate-limits per merchant. Money-moving calls are never cached.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

import cachetools

from dollr_core.api.client import DollrClient
from dollr_core.api.models import (
    AmountAndFeePrediction,
    AmountAndFeesQuery,
    MmoProviderInfo,
    PaymentSourceQuery,
)
from dollr_core.basics.enums import OperationType
from dollr_core.basics.phone import normalize_phone

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    """A thread-safe map whose entries expire; concurrent misses for one key compute it once.

    Storage and expiry are cachetools' TTLCache: when full it evicts the least recently used entry
    (expired ones first), one at a time, instead of emptying itself. What is ours is the per-key
    lock, so a page rerun and a second tab asking for one quote make one call to Dollr.
    """

    def __init__(self, ttl_seconds: float, *, max_entries: int = 5000) -> None:
        self._lock = threading.Lock()
        self._entries: cachetools.TTLCache[K, V] = cachetools.TTLCache(
            maxsize=max_entries, ttl=ttl_seconds, timer=time.monotonic
        )
        self._key_locks: dict[K, threading.Lock] = {}

    def get_or_compute(self, key: K, compute: Callable[[], V]) -> V:
        with self._lock:
            if key in self._entries:
                return self._entries[key]
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        try:
            with key_lock:
                with self._lock:
                    if key in self._entries:
                        return self._entries[key]
                value = compute()
                with self._lock:
                    self._entries[key] = value
                return value
        finally:
            with self._lock:  # a key's lock lives only while someone computes it
                if not key_lock.locked():
                    self._key_locks.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

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
