"""Figures only a sandbox has (its wallets' true balances and ids), read over its `/_sandbox` HTTP
control API, never from its memory: the console treats the embedded sandbox like any Dollr server.

Used only when the console runs on its embedded sandbox (never live); shown as sandbox figures.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal

import httpx
from cachetools import TTLCache

_FRESH_FOR = 2.0  # seconds: a page's reruns within this share one answer
_cache: TTLCache[str, tuple[SandboxWallet, ...]] = TTLCache(maxsize=8, ttl=_FRESH_FOR)
_lock = threading.Lock()


@dataclass(frozen=True)
class SandboxWallet:
    id: int
    currency: str
    available: Decimal


def sandbox_wallets(sandbox_url: str) -> tuple[SandboxWallet, ...]:
    """The sandbox's wallets, or () when its control API does not answer."""
    with _lock:
        cached = _cache.get(sandbox_url)
    if cached is not None:
        return cached
    try:
        response = httpx.get(f"{sandbox_url.rstrip('/')}/_sandbox/wallets", timeout=5)
        response.raise_for_status()
        wallets = tuple(
            SandboxWallet(
                id=int(w["id"]), currency=str(w["currency"]), available=Decimal(str(w["available"]))
            )
            for w in response.json()
        )
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return ()
    with _lock:
        _cache[sandbox_url] = wallets
    return wallets
