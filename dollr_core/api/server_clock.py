"""How far Dollr's clock is from ours, measured from the `Date` header of every response.

A session expires by Dollr's clock, not ours. Deciding that a request can no longer land ("its
session has expired at Dollr") on our own clock would be wrong by however far the two differ, so
every response's `Date` is compared with the moment it arrived.

`Date` has whole seconds and is written before the response travels, so at arrival Dollr's clock
reads at least `Date` (it cannot be behind it): `Date - arrival` is a lower bound of the offset,
never an overestimate. `now_at_dollr()` adds the newest such bound to our clock, and callers add a
margin after a deadline for drift between measurements. Before any measurement it says nothing
(None): a zero offset is never assumed.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime


def _wall() -> datetime:
    return datetime.now(UTC)


class ServerClock:
    """Dollr's time as far as it can be proved from what Dollr said; thread-safe."""

    def __init__(self, wall: Callable[[], datetime] = _wall) -> None:
        self._wall = wall
        self._lock = threading.Lock()
        self._offset: timedelta | None = None
        self._last: tuple[str, datetime] | None = None

    def observe(self, date_header: str | None, arrived: datetime | None = None) -> None:
        """Take the `Date` of a response that arrived at `arrived` (now when not given)."""
        if not date_header:
            return
        said = self._parsed(date_header)
        if said is None:
            return
        offset = said - (arrived or self._wall())
        with self._lock:
            self._offset = offset

    def _parsed(self, date_header: str) -> datetime | None:
        """The header as a time; the last one is kept, as `Date` changes once a second and
        parsing it was a visible part of each call's CPU."""
        last = self._last  # one (header, time) tuple, read and replaced whole: no lock needed
        if last is not None and last[0] == date_header:
            return last[1]
        try:
            said = parsedate_to_datetime(date_header)
        except (TypeError, ValueError):
            return None
        if said.tzinfo is None:
            said = said.replace(tzinfo=UTC)
        self._last = (date_header, said)
        return said

    @property
    def offset(self) -> timedelta | None:
        """Dollr's clock minus ours (a lower bound); None until a response carried a `Date`."""
        with self._lock:
            return self._offset

    def now_at_dollr(self) -> datetime | None:
        """A time Dollr's clock has certainly reached; None while nothing was measured."""
        offset = self.offset
        return None if offset is None else self._wall() + offset
