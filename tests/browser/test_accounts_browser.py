"""Passwords in a real browser: the sign-in form's tokens for password managers, and a password
change that signs the person's other tab out."""

from __future__ import annotations

from .conftest import PASSWORD, STEP_TIMEOUT_MS, Console, Shots, absent, sign_in

NEW = "purple elephant dances"


def _add(console: Console, email: str, role: str = "operator") -> None:
    console.cli("users", "add", "--email", email, "--role", role, "--password-stdin", stdin=PASSWORD + "\n")


def test_change_your_password_signs_out_your_other_tab(
    browser: object, page: object, console_server: Console, shots: Shots
) -> None:
    p: object = page
    _add(console_server, "changer@example.com")
    p.goto(console_server.url)  # type: ignore[attr-defined]
    email, password = p.get_by_label("E-mail"), p.get_by_role("textbox", name="Password")  # type: ignore[attr-defined]
    assert email.get_attribute("autocomplete") == "username"
    assert password.get_attribute("autocomplete") == "current-password"
    sign_in(p, console_server, "changer")

    other = browser.new_context(viewport={"width": 1400, "height": 1000})  # type: ignore[attr-defined]
    try:
        tab = other.new_page()
        tab.set_default_timeout(STEP_TIMEOUT_MS)
        sign_in(tab, console_server, "changer")

        p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Your account").click()  # type: ignore[attr-defined]
        p.get_by_role("textbox", name="Current password").fill(PASSWORD)  # type: ignore[attr-defined]
        p.get_by_role("textbox", name="New password", exact=True).fill(NEW)  # type: ignore[attr-defined]
        p.get_by_role("textbox", name="New password again").fill(NEW)  # type: ignore[attr-defined]
        shots("change your password")
        p.get_by_role("button", name="Change password").click()  # type: ignore[attr-defined]
        p.get_by_text("Your password is changed").wait_for()  # type: ignore[attr-defined]
        shots("changed")
        assert p.locator("[data-testid=stSidebar]").get_by_text("Signed in as changer@").count() == 1  # type: ignore[attr-defined]

        # The other tab is signed out at its next run (here: a click in its menu).
        tab.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Payment status").click()
        tab.get_by_text("signed out because your password was changed", exact=False).wait_for()
        tab.get_by_label("E-mail").wait_for()
        absent(tab.get_by_text("Signed in as"))
        Shots(tab, "test_change_your_password_other_tab")("other tab signed out")
        tab.get_by_label("E-mail").fill("changer@example.com")
        tab.get_by_role("textbox", name="Password").fill(PASSWORD)
        tab.get_by_role("button", name="Sign in").click()
        tab.get_by_text("do not match").wait_for()  # the old password no longer works
        tab.get_by_role("textbox", name="Password").fill(NEW)
        tab.get_by_role("button", name="Sign in").click()
        tab.get_by_text("Signed in as changer@example.com").wait_for()
    finally:
        other.close()


def test_an_admin_reset_is_replaced_at_the_next_sign_in(
    page: object, console_server: Console, shots: Shots
) -> None:
    p: object = page
    _add(console_server, "forgetful@example.com")
    sign_in(p, console_server, "admin")
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Users").click()  # type: ignore[attr-defined]
    p.get_by_role("tab", name="Change a user").click()  # type: ignore[attr-defined]
    p.get_by_label("User", exact=True).click()  # type: ignore[attr-defined]
    p.get_by_role("option", name="forgetful@example.com").click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Reset password").click()  # type: ignore[attr-defined]
    p.get_by_text("shown only now", exact=False).wait_for()  # type: ignore[attr-defined]
    shots("temporary password shown once")
    temporary = p.locator("[data-testid=stCode] code").first.inner_text().strip()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]

    p.get_by_label("E-mail").fill("forgetful@example.com")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Password").fill(temporary)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Sign in").click()  # type: ignore[attr-defined]
    p.get_by_text("Choose your own password").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="New password", exact=True).fill(NEW)  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="New password again").fill(NEW)  # type: ignore[attr-defined]
    shots("choose your own password")
    p.get_by_role("button", name="Save and continue").click()  # type: ignore[attr-defined]
    p.get_by_text("Signed in as forgetful@example.com").wait_for()  # type: ignore[attr-defined]
    shots("signed in")
