"""Bulk payout fixtures: workers never outlive their test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dollr_core.bulk import worker


@pytest.fixture(autouse=True)
def _stop_workers() -> Iterator[None]:
    yield
    worker.stop(timeout=30)
