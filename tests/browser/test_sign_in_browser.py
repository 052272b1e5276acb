"""Sign-in and lock-out in a real browser."""

from __future__ import annotations

from .conftest import Console, Shots, absent, sign_in


def test_sign_in_and_role_menu(page: object, console_server: Console, shots: Shots) -> None:
    page.goto(console_server.url)  # type: ignore[attr-defined]
    page.get_by_role("button", name="Sign in").wait_for()  # type: ignore[attr-defined]
    shots("sign in screen")
    sign_in(page, console_server, "operator")
    shots("operator home")
    sidebar = page.locator("[data-testid='stSidebar']")  # type: ignore[attr-defined]
    assert sidebar.get_by_text("SANDBOX").count() >= 1
    assert sidebar.get_by_text("Pay someone").count() == 1
    absent(sidebar.get_by_text("Users"))  # admin-only page is not offered
