"""Browser tests: the real console (streamlit run serve.py) on a standalone sandbox, driven by
Playwright in Debian's headless Chromium. Screenshots of each step land in screenshots/."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
SHOTS = ROOT / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
PASSWORD = "correct horse battery"

pytestmark = pytest.mark.browser


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


@dataclass
class Console:
    url: str
    sandbox_url: str
    data_dir: Path
    env: dict[str, str]

    def sandbox_executions(self) -> list[dict[str, object]]:
        result: list[dict[str, object]] = httpx.get(f"{self.sandbox_url}/_sandbox/executions").json()
        return result

    def advance_clock(self, seconds: float) -> None:
        httpx.post(f"{self.sandbox_url}/_sandbox/clock/advance", json={"seconds": seconds}).raise_for_status()

    def cli(self, *args: str, stdin: str = "") -> str:
        done = subprocess.run(
            [sys.executable, "-m", "dollr_core", *args],
            input=stdin,
            capture_output=True,
            text=True,
            env=self.env,
            cwd=ROOT,
            timeout=60,
            check=True,
        )
        return done.stdout


def start_streamlit(port: int, env: dict[str, str], logs: IO[str]) -> subprocess.Popen[bytes]:
    """The console as people run it (`streamlit run serve.py`: app.py and the session-cookie
    routes), on loopback."""
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "streamlit",
            "run",
            "serve.py",
            "--server.port",
            str(port),
            "--server.address",
            "127.0.0.1",
            "--server.headless",
            "true",
            "--browser.gatherUsageStats",
            "false",
        ],
        cwd=ROOT,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
    )


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()


@pytest.fixture(scope="session")
def console_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    if not Path(CHROMIUM).exists():
        pytest.skip("Debian's chromium is not installed (./dev test installs it)")
    data = tmp_path_factory.mktemp("console")
    sandbox_port, console_port = free_port(), free_port()
    env = {
        **os.environ,
        "DOLLR_BASE_URL": f"http://127.0.0.1:{sandbox_port}",
        "DOLLR_DATA_DIR": str(data),
        "DOLLR_DATABASE_URL": f"sqlite:///{data}/ledger.db",
        # These tests sign admins and managers in with a password alone; two-factor sign-in, as
        # installs require it by default, runs on a console of its own (test_two_factor_browser.py).
        "DOLLR_REQUIRE_TWO_FACTOR_ROLES": "none",
        "PYTHONUNBUFFERED": "1",
    }
    logs = open(data / "servers.log", "w")  # noqa: SIM115 (closed at teardown)
    sandbox = subprocess.Popen(
        [sys.executable, "-m", "dollr_sandbox", "--host", "127.0.0.1", "--port", str(sandbox_port)],
        cwd=ROOT,
        env=env,
        stdout=logs,
        stderr=subprocess.STDOUT,
    )
    streamlit = start_streamlit(console_port, env, logs)
    try:
        wait_for(f"http://127.0.0.1:{sandbox_port}/_sandbox/pricing")
        wait_for(f"http://127.0.0.1:{console_port}/_stcore/health")
        console = Console(f"http://127.0.0.1:{console_port}", f"http://127.0.0.1:{sandbox_port}", data, env)
        for role in ("operator", "finance", "manager", "admin"):
            console.cli(
                "users",
                "add",
                "--email",
                f"{role}@example.com",
                "--role",
                role,
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
        yield console
    finally:
        for process in (streamlit, sandbox):
            stop(process)
        logs.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=[
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
            ],
        )
        yield chromium
        chromium.close()


def run_finished(tab: Any) -> None:
    """Wait until Streamlit has finished the run: the app says it is not running, and no element
    of the previous run is left (greyed out) on screen. A page that is not the console (the
    customer's receipt at Dollr) has no run to wait for."""
    tab.wait_for_function(
        """() => {
            const app = document.querySelector('[data-testid=stApp]');
            if (!app) return document.readyState === 'complete';
            return app.dataset.testScriptState === 'notRunning'
                && !document.querySelector('[data-stale=true]');
        }"""
    )


def _finished_height(tab: Any) -> int:
    """The height of the main area once the run has finished (a shot taken mid-run shows grey
    placeholders, not the screen people see). A sign-in or sign-out still redirecting through
    /session/… replaces the page meanwhile: the page it lands on is measured."""
    from playwright.sync_api import Error

    pages_left = 5
    while True:
        tab.wait_for_load_state()
        try:
            run_finished(tab)
            return int(
                tab.evaluate(
                    "() => (document.querySelector('[data-testid=stMain]') || document.body).scrollHeight"
                )
            )
        except Error as exc:
            pages_left -= 1
            if "Execution context was destroyed" not in str(exc) or not pages_left:
                raise


class Shots:
    """Numbered screenshots of one test's steps, for people to look at afterwards."""

    def __init__(self, page: object, name: str) -> None:
        self.page = page
        self.dir = SHOTS / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.n = 0

    def __call__(self, step: str) -> None:
        self.n += 1
        name = re.sub(r"[^a-z0-9]+", "-", step.lower())
        page: Any = self.page
        height = _finished_height(page)
        # Streamlit scrolls inside its main area, not the page: grow the window to show it all.
        size = page.viewport_size
        page.set_viewport_size({"width": size["width"], "height": min(max(height, size["height"]), 5000)})
        page.screenshot(path=str(self.dir / f"{self.n:02d}-{name}.png"))
        page.set_viewport_size(size)


#: How long one browser step may take: a 2-core machine running the whole suite on two workers
#: has been seen to take over 20 s to answer one (a sign-in page, an approval's rerun).
STEP_TIMEOUT_MS = 45_000


@pytest.fixture
def page(browser: object, console_server: Console, request: pytest.FixtureRequest) -> Iterator[object]:
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)  # type: ignore[attr-defined]
    tab = context.new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    yield tab
    context.close()


@pytest.fixture
def shots(page: object, request: pytest.FixtureRequest) -> Shots:
    return Shots(page, request.node.name)


def sign_in(page: object, console: Console, role: str) -> None:
    """Open the console signed in as `role@example.com`: a browser that still holds another
    person's session (the cookie outlives the tab) signs out first."""
    p: Any = page
    goto_settled(p, console.url)
    form, someone = p.get_by_label("E-mail"), p.get_by_text("Signed in as", exact=False)
    form.or_(someone).first.wait_for()
    if someone.count() and not form.count():
        if p.get_by_text(f"Signed in as {role}@example.com").count():
            return
        p.get_by_role("button", name="Sign out").click()
        p.wait_for_load_state()
        form.wait_for()
    page.get_by_label("E-mail").fill(f"{role}@example.com")  # type: ignore[attr-defined]
    page.get_by_role("textbox", name="Password").fill(PASSWORD)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    page.get_by_text(f"Signed in as {role}@example.com").wait_for()  # type: ignore[attr-defined]


def goto_settled(p: Any, url: str) -> None:
    """`goto`, after any navigation already under way: a sign-out or sign-in still redirecting
    through /session/… would abort it (net::ERR_ABORTED)."""
    from playwright.sync_api import Error

    for attempt in range(5):
        p.wait_for_load_state()
        try:
            p.goto(url)
            return
        except Error as exc:
            if "ERR_ABORTED" not in str(exc) or attempt == 4:
                raise
            p.wait_for_timeout(500)


def absent(locator: object) -> None:
    """Fail unless `locator` matches nothing once the page settles.

    Streamlit keeps the previous run's elements on screen (greyed out) until the new run replaces
    them, so a one-off count can still see what is about to go; this waits up to the page's
    timeout for them to leave."""
    from playwright.sync_api import expect

    expect(locator).to_have_count(0)  # type: ignore[arg-type]
