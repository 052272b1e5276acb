"""Two-factor sign-in in a real browser, on a console with the default setting (admins and
managers must use it): a manager is sent to enrolment right after the password, enrols with a
code this test computes from the key on the screen, and signs in later with a recovery code."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyotp
import pytest

from .conftest import (
    PASSWORD,
    Console,
    Shots,
    absent,
    free_port,
    goto_settled,
    start_streamlit,
    stop,
    wait_for,
)


@pytest.fixture(scope="module")
def strict_console(console_server: Console, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    """A second console on the same sandbox, with its own ledger and the default two-factor roles."""
    data: Path = tmp_path_factory.mktemp("strict")
    env = {
        **console_server.env,
        "DOLLR_DATA_DIR": str(data),
        "DOLLR_DATABASE_URL": f"sqlite:///{data}/ledger.db",
    }
    del env["DOLLR_REQUIRE_TWO_FACTOR_ROLES"]
    port = free_port()
    with open(data / "console.log", "w") as logs:
        streamlit = start_streamlit(port, env, logs)
        try:
            wait_for(f"http://127.0.0.1:{port}/_stcore/health")
            console = Console(f"http://127.0.0.1:{port}", console_server.sandbox_url, data, env)
            console.cli(
                "users",
                "add",
                "--email",
                "mia@example.com",
                "--role",
                "manager",
                "--password-stdin",
                stdin=PASSWORD + "\n",
            )
            yield console
        finally:
            stop(streamlit)


def _password(p: object, console: Console) -> None:
    goto_settled(p, console.url)  # after a sign-out, its redirect may still be under way
    p.get_by_label("E-mail").fill("mia@example.com")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Password").fill(PASSWORD)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]


def test_a_manager_enrols_then_signs_in_with_a_recovery_code(
    page: object, strict_console: Console, shots: Shots
) -> None:
    p: object = page
    _password(p, strict_console)
    p.get_by_role("heading", name="Set up two-factor sign-in").wait_for()  # type: ignore[attr-defined]
    p.locator("[data-testid=stImage] img").wait_for()  # type: ignore[attr-defined]  # the QR code
    shots("enrolment right after the password")
    absent(p.get_by_text("Signed in as"))  # type: ignore[attr-defined]  # no console yet
    key = p.locator("[data-testid=stCode] code").first.inner_text().replace(" ", "").strip()  # type: ignore[attr-defined]
    code = p.get_by_role("textbox", name="Six-digit code")  # type: ignore[attr-defined]
    assert code.get_attribute("autocomplete") == "one-time-code"
    code.fill(pyotp.TOTP(key).now())
    p.get_by_role("button", name="Turn on two-factor sign-in").click()  # type: ignore[attr-defined]
    p.get_by_text("Keep these ten recovery codes", exact=False).wait_for()  # type: ignore[attr-defined]
    shots("recovery codes shown once")
    codes = p.locator("[data-testid=stCode] code").first.inner_text().split()  # type: ignore[attr-defined]
    assert len(codes) == 10
    p.get_by_role("button", name="I have saved my recovery codes, continue").click()  # type: ignore[attr-defined]
    p.get_by_text("Signed in as mia@example.com").wait_for()  # type: ignore[attr-defined]
    shots("signed in")
    p.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]

    _password(p, strict_console)
    p.get_by_role("heading", name="Two-factor sign-in").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Code from your authenticator app").fill("000000")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Continue").click()  # type: ignore[attr-defined]
    p.get_by_text("That code is not right", exact=False).wait_for()  # type: ignore[attr-defined]
    shots("a wrong code")
    # This window's code was spent on the enrolment: a recovery code signs in now.
    p.get_by_role("textbox", name="Code from your authenticator app").fill(codes[0])  # type: ignore[attr-defined]
    p.get_by_role("button", name="Continue").click()  # type: ignore[attr-defined]
    p.get_by_text("Signed in as mia@example.com").wait_for()  # type: ignore[attr-defined]
    shots("signed in with a recovery code")
