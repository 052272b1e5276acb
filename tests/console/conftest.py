"""AppTest fixtures: the console's pages run headless against the test sandbox and a fresh ledger."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from console.context import services
from dollr_core.basics.access import Actor, Role
from dollr_core.services import Services
from dollr_sandbox import Sandbox

ROOT = Path(__file__).resolve().parents[2]

#: Every console test user signs in with this password.
PASSWORD = "correct horse battery"


@pytest.fixture
def duplicate_window_hours() -> int:
    """Off unless a test parametrizes it: most tests pay the same test recipient many times."""
    return 0


@pytest.fixture
def console(
    fresh_sandbox: Sandbox, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, duplicate_window_hours: int
) -> Iterator[Services]:
    """The console's own `services()` pointed at the test sandbox and a fresh SQLite ledger."""
    monkeypatch.setenv("DOLLR_DUPLICATE_WINDOW_HOURS", str(duplicate_window_hours))
    monkeypatch.setenv("DOLLR_BASE_URL", fresh_sandbox.base_url)
    monkeypatch.setenv("DOLLR_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("DOLLR_DATABASE_URL", f"sqlite:///{tmp_path}/ledger.db")
    monkeypatch.chdir(ROOT)
    services.clear()
    svc = services()
    svc.stop_workers()  # tests drive every status change themselves
    yield svc
    svc.close()
    services.clear()


@pytest.fixture
def page(console: Services) -> Callable[..., AppTest]:
    """`page("pages/payout.py", role=Role.OPERATOR)`: the page as that signed-in person sees it."""

    def open_page(
        path: str, *, role: Role = Role.FINANCE, email: str | None = None, timeout: float = 30
    ) -> AppTest:
        at = AppTest.from_file(str(ROOT / path), default_timeout=timeout)
        who = Actor(email or f"{role.value}@example.com", role)
        at.session_state["actor"] = who
        at.session_state["signed_in_email"] = who.email
        at.session_state["last_active"] = time.time()
        return at

    return open_page


@pytest.fixture
def app(console: Services) -> Callable[..., AppTest]:
    """The whole console (app.py with sign-in and navigation)."""

    def open_app(timeout: float = 30) -> AppTest:
        return AppTest.from_file(str(ROOT / "app.py"), default_timeout=timeout)

    return open_app
