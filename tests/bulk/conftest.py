"""Bulk payout fixtures: workers never outlive their test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dollr_core import bulk_worker


@pytest.fixture(autouse=True)
def _stop_workers() -> Iterator[None]:
    yield
    bulk_worker.stop(timeout=30)
