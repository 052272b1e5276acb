"""The audit page: it searches, and stays usable while a date range is half picked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Role
from dollr_core.services import Services


def test_a_half_picked_date_range_shows_that_day(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/audit.py", role=Role.ADMIN).run()
    assert not at.exception
    today = datetime.now(UTC).date()
    at.date_input(key="audit_dates").set_value((today,)).run()  # the first click of a range
    assert not at.exception, at.exception
