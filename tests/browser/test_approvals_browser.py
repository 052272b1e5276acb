"""A payout that needs two managers, in a real browser: an admin lowers the two-manager threshold
on the Approvals page, an operator sends USD 1,500 for approval, two different managers approve
it (the first sees that a second is needed), and the operator sends it once."""

from __future__ import annotations

import sqlite3
from typing import Any

from .conftest import PASSWORD, STEP_TIMEOUT_MS, Console, Shots, absent, run_finished, sign_in


def _person(browser: Any, console: Console, role: str) -> Any:
    """A fresh browser context (its own session) signed in as `role`@example.com."""
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    tab.set_default_timeout(STEP_TIMEOUT_MS)
    sign_in(tab, console, role)
    return tab


def _open(tab: Any, name: str) -> None:
    tab.locator("[data-testid=stSidebarNav]").get_by_role("link", name=name).click()


def test_a_payout_above_the_higher_threshold_needs_two_different_managers(
    browser: Any, page: Any, console_server: Console, shots: Shots
) -> None:
    console_server.cli(
        "users", "add", "--email", "manager2@example.com", "--role", "manager", "--password-stdin",
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    before = len([e for e in console_server.sandbox_executions() if e["operation_type"] == "PAYOUT"])
    try:
        sign_in(page, console_server, "admin")
        _open(page, "Approvals")
        page.get_by_text("Change the approval rules").click()
        threshold = page.get_by_role("textbox", name="USD").nth(1)
        threshold.fill("1000")  # two managers approve above
        threshold.press("Tab")  # left as people leave it: the value is in before the click
        run_finished(page)
        page.get_by_role("button", name="Save the rules").click()
        page.get_by_text("The approval rules are saved").wait_for()
        shots("admin saved the rules")

        maker = _person(browser, console_server, "operator")
        _open(maker, "Pay someone")
        maker.get_by_role("textbox", name="Recipient's full name").fill("Aminata Sesay")
        maker.get_by_role("textbox", name="Mobile-money number").fill("231880004321")
        maker.get_by_role("textbox", name="Mobile-money number").press("Enter")
        maker.get_by_text("Mobile network: MTN").wait_for()
        maker.get_by_role("textbox", name="Amount the recipient gets").fill("1500")
        maker.get_by_role("textbox", name="Amount the recipient gets").press("Enter")
        maker.get_by_role("button", name="Review").click()
        maker.get_by_text("two different managers must approve it").wait_for()
        maker.get_by_role("button", name="Send for approval").click()
        maker.get_by_text("Sent for approval: two different managers must approve").wait_for()

        first = _person(browser, console_server, "manager")
        _open(first, "Approvals")
        first.get_by_text("Needs two different managers: yours is the first approval.").wait_for()
        first.get_by_role("button", name="Approve").first.click()
        first.get_by_role("dialog").get_by_role("button", name="Yes, approve").click()
        absent(first.get_by_role("dialog"))
        first.reload()  # the sign-in survives a reload; the card is drawn afresh from the ledger
        first.get_by_text("Approved so far by manager@example.com; one more needed.").wait_for()
        Shots(first, "two-managers-first")("first approval")

        second = _person(browser, console_server, "manager2")
        _open(second, "Approvals")
        second.get_by_text("Approved so far by manager@example.com; one more needed.").wait_for()
        second.get_by_role("button", name="Approve").first.click()
        second.get_by_role("dialog").get_by_role("button", name="Yes, approve").click()
        second.get_by_text("The payout is approved").wait_for()

        _open(maker, "Approvals")
        maker.get_by_role("link", name="Send it on Pay someone").first.click()
        maker.get_by_text("Approved by manager2@example.com").wait_for()
        maker.get_by_role("textbox", name="Merchant passcode").fill("123456")
        maker.get_by_role("button", name="Confirm and send").click()
        maker.get_by_text("Your payout").first.wait_for()
        Shots(maker, "two-managers-sent")("sent")
        payouts = [e for e in console_server.sandbox_executions() if e["operation_type"] == "PAYOUT"]
        assert len(payouts) == before + 1
        assert payouts[-1]["payee_amount"] in (1500, "1500.00", 1500.0, "1500")
    finally:  # other browser tests share this console: its rules go back to the defaults
        with sqlite3.connect(console_server.data_dir / "ledger.db") as db:
            db.execute("DELETE FROM console_setting")
