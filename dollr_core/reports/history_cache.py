"""The History page's counts, totals and charts, remembered per filter until the ledger changes.

On 100,000 payments, counting and summing what a filter matches is most of a rerun; a rerun that
changed no filter asks the ledger only for its change marker (two primary-key maxima) and reuses
the figures. Every state change writes a ledger event and every payment starts as a new attempt,
so the marker moves whenever a figure could.
"""

from __future__ import annotations

import threading
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

from sqlalchemy import Engine, func, select

from dollr_core.ledger.tables import Attempt, LedgerEvent

T = TypeVar("T")
_KEEP = 128  # filters remembered per process (each a few rows of figures)
_lock = threading.Lock()
_remembered: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
#: One token per engine object (an id() can be reused by a later engine, a token cannot).
_engines: weakref.WeakKeyDictionary[Engine, str] = weakref.WeakKeyDictionary()


def change_marker(engine: Engine) -> tuple[int, int]:
    """(newest ledger event, newest attempt): moves with every write that changes a figure."""
    with engine.connect() as conn:
        event, attempt = conn.execute(
            select(
                select(func.max(LedgerEvent.id)).scalar_subquery(),
                select(func.max(Attempt.id)).scalar_subquery(),
            )
        ).one()
    return int(event or 0), int(attempt or 0)


def remembered(engine: Engine, what: str, key: Hashable, compute: Callable[[], T]) -> T:
    """`compute()`'s answer for (`what`, `key`) as of the ledger's current change marker."""
    with _lock:
        token = _engines.setdefault(engine, uuid.uuid4().hex)
    full = (token, what, key, change_marker(engine))
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
