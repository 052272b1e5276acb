"""Fixtures for flow tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from dollr_core.services import Services
from dollr_sandbox import Sandbox


@pytest.fixture
def cli_env(
    services: Services, fresh_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """`python -m dollr_core ...` run in-process sees the test's sandbox and ledger."""
    monkeypatch.setenv("DOLLR_BASE_URL", fresh_sandbox.base_url)
    monkeypatch.setenv("DOLLR_DATABASE_URL", str(services.engine.url.render_as_string(hide_password=False)))
    monkeypatch.setenv("DOLLR_DATA_DIR", str(tmp_path))
