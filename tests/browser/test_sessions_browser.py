"""A sign-in that lasts: reloads, second tabs and bookmarks stay signed in (an HttpOnly,
SameSite=Strict cookie), sign-out and an admin's revoke end it, and a link opens its own page."""

from __future__ import annotations

from typing import Any

from playwright.sync_api import expect

from .conftest import PASSWORD, STEP_TIMEOUT_MS, Console, Shots, absent, sign_in


def _add(console: Console, email: str, role: str = "operator") -> None:
    console.cli("users", "add", "--email", email, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")


def _session_cookie(page: Any) -> dict[str, Any]:
    found = [c for c in page.context.cookies() if c["name"] == "dollr_session"]
    assert len(found) == 1, page.context.cookies()
    cookie: dict[str, Any] = found[0]
    return cookie


def _signed_in(page: Any, email: str) -> None:
    page.locator("[data-testid=stSidebar]").get_by_text(f"Signed in as {email}").wait_for()


def _sign_in_form(page: Any) -> None:
    page.get_by_role("button", name="Sign in").wait_for()
    absent(page.get_by_text("Signed in as"))
    absent(page.get_by_text("Page not found"))


def _type_password(page: Any, email: str) -> None:
    page.get_by_label("E-mail").fill(email)
    page.get_by_role("textbox", name="Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()


def test_reload_and_a_second_tab_stay_signed_in(page: object, console_server: Console, shots: Shots) -> None:
    p: Any = page
    sign_in(p, console_server, "operator")
    cookie = _session_cookie(p)
    assert cookie["httpOnly"] is True and cookie["sameSite"] == "Strict"
    assert cookie["secure"] is False  # served over plain http here; Secure behind HTTPS
    shots("signed in")
    p.reload()
    _signed_in(p, "operator@example.com")
    shots("after reload")
    second = p.context.new_page()
    second.set_default_timeout(STEP_TIMEOUT_MS)
    second.goto(console_server.url)
    _signed_in(second, "operator@example.com")
    Shots(second, "test_reload_and_a_second_tab_stay_signed_in_tab2")("second tab")


def test_a_bookmarked_page_opens_after_sign_in_and_directly(
    page: object, console_server: Console, shots: Shots
) -> None:
    p: Any = page
    p.goto(f"{console_server.url}/payout")
    _sign_in_form(p)
    shots("bookmark while signed out")
    _type_password(p, "operator@example.com")
    p.get_by_role("heading", name="Pay someone").wait_for()
    _signed_in(p, "operator@example.com")
    assert p.url.rstrip("/").endswith("/payout")
    shots("the bookmarked page after sign in")

    # Signed in: a link opens its page at once; mid-payout, a reload keeps the page.
    p.goto(f"{console_server.url}/mine")
    p.get_by_role("heading", name="My payments").wait_for()
    p.goto(f"{console_server.url}/payout")
    p.get_by_role("textbox", name="Recipient's full name").fill("Musa Kollie")
    p.get_by_role("textbox", name="Recipient's full name").press("Enter")
    shots("mid payout")
    p.reload()
    p.get_by_role("heading", name="Pay someone").wait_for()
    _signed_in(p, "operator@example.com")
    assert p.url.rstrip("/").endswith("/payout")
    shots("mid payout after reload")


def test_sign_out_ends_the_cookie(
    browser: object, page: object, console_server: Console, shots: Shots
) -> None:
    p: Any = page
    sign_in(p, console_server, "finance")
    stolen = _session_cookie(p)
    p.get_by_role("button", name="Sign out").click()
    _sign_in_form(p)
    p.reload()
    _sign_in_form(p)
    shots("signed out and reloaded")
    assert [c for c in p.context.cookies() if c["name"] == "dollr_session"] == []

    # A copy of the cookie kept from before signs no one in: the ledger ended the session.
    other: Any = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        other.add_cookies([stolen])
        tab = other.new_page()
        tab.set_default_timeout(STEP_TIMEOUT_MS)
        tab.goto(console_server.url)
        _sign_in_form(tab)
        Shots(tab, "test_sign_out_ends_the_cookie_copy")("old cookie refused")
    finally:
        other.close()


def test_an_admin_ends_a_session(
    browser: object, page: object, console_server: Console, shots: Shots
) -> None:
    p: Any = page
    _add(console_server, "roaming@example.com")
    other: Any = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        tab = other.new_page()
        tab.set_default_timeout(STEP_TIMEOUT_MS)
        sign_in(tab, console_server, "roaming")

        sign_in(p, console_server, "admin")
        p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Users").click()
        p.get_by_role("heading", name="Signed-in sessions").wait_for()
        row = p.locator("[data-testid=stHorizontalBlock]").filter(has_text="roaming@example.com")
        row.get_by_text("since").wait_for()
        assert row.get_by_text("last seen").count() == 1
        assert row.get_by_text("HeadlessChrome", exact=False).count() == 1  # the client
        shots("sessions listed")
        row.get_by_role("button", name="End").click()
        # The End click's run, then the list's own rerun: on a busy machine longer than expect's 5 s.
        expect(row).to_have_count(0, timeout=STEP_TIMEOUT_MS)
        shots("session ended")

        # The other browser is signed out at its next run (here: a click in its menu).
        tab.locator("[data-testid=stSidebarNav]").get_by_role("link", name="My payments").click()
        tab.get_by_text("An admin ended your session").wait_for()
        _sign_in_form(tab)
        tab.reload()
        _sign_in_form(tab)
        Shots(tab, "test_an_admin_ends_a_session_other")("other browser signed out")
    finally:
        other.close()
