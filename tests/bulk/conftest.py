"""Bulk payout fixtures: workers never outlive their test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dollr_core.bulk import worker
from dollr_core.services import Services


@pytest.fixture(autouse=True)
def _stop_workers(request: pytest.FixtureRequest) -> Iterator[None]:
    """Stop the workers of whichever services the test used (each holds its own)."""
    yield
    for used in request.node.funcargs.values():
        if isinstance(used, Services):
            worker.stop(used, timeout=30)
