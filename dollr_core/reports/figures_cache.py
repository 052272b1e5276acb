"""Figures read from the ledger (History's counts, totals and charts, the Dashboard's), remembered
per question until the ledger changes.

On 100,000 payments, counting and summing is most of a page's rerun; a rerun that asked the same
question asks the ledger only for its change marker and reuses the figures. What every cached
figure is made of is the `attempt` table, and an attempt changes what a figure shows only by being
created or by a state change through `ledger.transitions` (which writes a `ledger_event` in the same
transaction; amounts and messages are set in that transaction too). So the marker is the newest
event and attempt ids, plus how many of each were committed among the newest `_LATE` ids: on
PostgreSQL ids come from sequences, so a transaction holding a lower id can commit after one with a
higher id — the maxima would not move, the counts do.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select
from sqlmodel import col

from dollr_core.ledger.tables import Attempt, LedgerEvent

__all__ = ["AsOf", "Marker", "change_marker", "forget", "remembered"]

T = TypeVar("T")
Marker = tuple[int, int, int, int]
_KEEP = 128  # questions remembered per process (each a few rows of figures)
#: How far below the newest id a late commit is still seen (far more than commit concurrently).
_LATE = 1000
_lock = threading.Lock()
_remembered: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
#: One token per engine object (an id() can be reused by a later engine, a token cannot).
_engines: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def _newest(id_column: Any) -> tuple[Any, Any]:
    """(the newest id, how many rows hold one of the `_LATE` ids below it): both index-only."""
    newest = select(func.max(id_column)).scalar_subquery()
    recent = select(func.count()).where(id_column > func.coalesce(newest, 0) - _LATE).scalar_subquery()
    return newest, recent


def change_marker(engine: Engine) -> Marker:
    """Moves with every committed write that can change a figure (see the module's note)."""
    event, events = _newest(col(LedgerEvent.id))
    attempt, attempts = _newest(col(Attempt.id))
    with engine.connect() as conn:
        found = conn.execute(select(event, events, attempt, attempts)).one()
    newest_event, recent_events, newest_attempt, recent_attempts = (int(n or 0) for n in found)
    return newest_event, recent_events, newest_attempt, recent_attempts


class AsOf:
    """Remembered figures as of one reading of the change marker: a page asking for several figures
    in one run reads the marker once (a statement each time), not once per figure.

    The marker is read before any figure is computed: a write landing in between leaves the answers
    filed under the older marker, so the next reading recomputes (never the other way round)."""

    def __init__(self, engine: Engine) -> None:
        with _lock:
            self._token = _engines.setdefault(engine, uuid.uuid4().hex)
        self.marker = change_marker(engine)

    def remembered(self, what: str, key: Hashable, compute: Callable[[], T]) -> T:
        """`compute()`'s answer for (`what`, `key`) as of this marker."""
        full = (self._token, what, key, self.marker)
        with _lock:
            if full in _remembered:
                _remembered.move_to_end(full)
                hit: T = _remembered[full]
                return hit
        value = compute()
        with _lock:
            _remembered[full] = value
            while len(_remembered) > _KEEP:
                _remembered.popitem(last=False)
        return value


def remembered(engine: Engine, what: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`'s answer for (`what`, `key`) as of the ledger's current change marker."""
    return AsOf(engine).remembered(what, key, compute)


def forget() -> None:
    """Drop every remembered figure: what a fresh process would compute (tests compare the two)."""
    with _lock:
        _remembered.clear()
