"""A payout in a real browser: confirm clicked twice quickly, then a reload — one execution."""

from __future__ import annotations

import contextlib

from .conftest import Console, Shots, absent, sign_in


def test_payout_double_click_and_reload_pays_once(
    page: object, console_server: Console, shots: Shots
) -> None:
    p = page  # the Playwright page; typed loosely so the harness needs no stubs
    before = len([e for e in console_server.sandbox_executions() if e["operation_type"] == "PAYOUT"])
    sign_in(p, console_server, "operator")
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Pay someone").click()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Recipient's full name").fill("Musa Kollie")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Mobile-money number").fill("231880004321")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Mobile-money number").press("Enter")  # type: ignore[attr-defined]
    p.get_by_text("Mobile network: MTN").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Amount the recipient gets").fill("42.50")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Amount the recipient gets").press("Enter")  # type: ignore[attr-defined]
    shots("recipient and amount")
    p.get_by_role("button", name="Review").click()  # type: ignore[attr-defined]
    p.get_by_text("Our wallet is debited").wait_for()  # type: ignore[attr-defined]
    shots("review")
    p.get_by_role("textbox", name="Merchant passcode").fill("123456")  # type: ignore[attr-defined]
    confirm = p.get_by_role("button", name="Confirm and send")  # type: ignore[attr-defined]
    confirm.click()
    with contextlib.suppress(Exception):  # a second, impatient click: the button may be disabled or gone
        confirm.click(timeout=500, force=True)
    p.get_by_text("Your payout").first.wait_for()  # type: ignore[attr-defined]
    p.wait_for_timeout(1500)  # type: ignore[attr-defined]  # the second click's rerun has run
    shots("sent")
    # The second click is absorbed: no demand for the passcode that the first click already used.
    absent(p.get_by_text("Enter the merchant passcode"))  # type: ignore[attr-defined]
    p.reload()  # type: ignore[attr-defined]
    p.wait_for_timeout(2000)  # type: ignore[attr-defined]
    shots("after reload")
    console_server.advance_clock(10)
    p.wait_for_timeout(3000)  # type: ignore[attr-defined]
    payouts = [e for e in console_server.sandbox_executions() if e["operation_type"] == "PAYOUT"]
    assert len(payouts) == before + 1
    assert payouts[-1]["payee_amount"] in (42.5, "42.50", "42.5")
