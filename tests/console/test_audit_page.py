"""The audit page: it searches, and stays usable while a date range is half picked."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Role
from dollr_core.ledger import audit
from dollr_core.services import Services


def test_a_half_picked_date_range_shows_that_day(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/audit.py", role=Role.ADMIN).run()
    assert not at.exception
    today = datetime.now(UTC).date()
    at.date_input(key="audit_dates").set_value((today,)).run()  # the first click of a range
    assert not at.exception, at.exception


@pytest.fixture
def kigali(monkeypatch: pytest.MonkeyPatch) -> None:
    """The company works in Kigali (two hours ahead of UTC all year); asked for before `console`."""
    monkeypatch.setenv("DOLLR_TIME_ZONE", "Africa/Kigali")


def test_the_trail_reads_in_words_and_the_company_s_time(
    kigali: None, page: Callable[..., AppTest], console: Services
) -> None:
    audit.record(console.engine, "admin@example.com", "payout_submitted", outcome="ok")
    at = page("pages/audit.py", role=Role.ADMIN).run()
    assert not at.exception
    [row] = at.dataframe[0].value.to_dict("records")
    stored = audit.search(console.engine, audit.AuditFilter())[0].at.replace(tzinfo=UTC)
    assert row["When (Africa/Kigali time)"] == (stored + timedelta(hours=2)).strftime("%Y-%m-%d %H:%M:%S")
    shown = (row["Action"], row["Outcome"], row["Action code"])
    assert shown == ("Payout submitted", "Done", "payout_submitted")
