"""A bulk payout in a real browser, from the pasted rows to the results (issue 14, points 2–4).

A finance person makes a batch, a manager approves it in their own session; back on the batch
the finance person types a wrong passcode and leaves the field with Tab before clicking (the
passcode must still arrive); the worker pauses the batch and the open page shows it without a
click; the right passcode resumes it; the finished batch stays on screen with its results, and
the batch picker says where each batch stands.
"""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import expect

from .conftest import Console, Shots, sign_in

ROWS = (
    "name,phone,amount,currency,note,reference\n"
    "Musa Kollie,231880006543,25,USD,stipend,BR-1\n"
    "Aline Uwase,250780006543,15000,RWF,,BR-2\n"
)


#: A batch runs in the background while several sessions poll it: give each step room.
STEP_TIMEOUT = 60_000


def _person(browser: Any, console: Console, role: str) -> Any:
    tab = browser.new_context(viewport={"width": 1400, "height": 1000}).new_page()
    tab.set_default_timeout(STEP_TIMEOUT)
    sign_in(tab, console, role)
    return tab


def _open_bulk(tab: Any) -> None:
    tab.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Bulk payouts").click()
    tab.get_by_role("heading", name="Bulk payouts").wait_for()


def _pick(tab: Any, label: str) -> None:
    tab.get_by_role("combobox", name="Batch").click()
    tab.get_by_role("option", name=label).click()


def _picker(tab: Any) -> Any:
    return tab.get_by_role("combobox", name="Batch")


def _passcode(tab: Any, passcode: str, button: str) -> None:
    """Type the passcode, leave the field with Tab (as people do), then click the button."""
    field = tab.get_by_role("textbox", name="Merchant passcode")
    field.click()
    field.press_sequentially(passcode)
    field.press("Tab")
    tab.get_by_role("button", name=button).click()


def test_a_bulk_payout_is_followed_live_from_start_to_results(
    browser: Any, page: Any, console_server: Console, shots: Shots
) -> None:
    page.set_default_timeout(STEP_TIMEOUT)
    sign_in(page, console_server, "finance")
    _open_bulk(page)
    name = f"Browser stipends {int(time.time())}"
    page.get_by_role("textbox", name="Name of this batch").fill(name)
    page.get_by_role("textbox", name="paste the rows").fill(ROWS)
    page.get_by_role("button", name="Check the rows").click()
    page.get_by_role("button", name="Send for approval").click()
    page.get_by_text("Waiting for a manager's approval (sent by finance@example.com)").wait_for()
    shots("sent for approval")

    manager = _person(browser, console_server, "manager")
    _open_bulk(manager)
    _pick(manager, f"{name} — waiting for a manager's approval")
    manager.get_by_role("button", name="Approve this batch").click()
    dialog = manager.get_by_role("dialog")
    expect(dialog).to_contain_text("It makes 2 payments")  # it says what approving does first
    Shots(manager, "bulk_approve_dialog")("the approval asks first")
    dialog.get_by_role("button", name="Yes, approve").click()
    manager.get_by_text("approved: ready to start").first.wait_for()

    # Point 4: the picker follows the batch's state; the batch stays on screen.
    _open_bulk(page)
    expect(_picker(page)).to_have_value(
        re.compile(re.escape(f"{name} — approved: ready to start")), timeout=STEP_TIMEOUT
    )
    page.get_by_text("Approved by manager@example.com").wait_for()
    shots("approved")

    # Point 2: the passcode survives Tab. A wrong one reaches Dollr, which refuses it.
    _passcode(page, "999999", "Start paying")
    # Point 3: the worker pauses the batch; the open page shows it with no click.
    page.get_by_text("The batch was paused").wait_for()
    assert page.get_by_text("Enter the merchant passcode to start paying.").count() == 0
    expect(_picker(page)).to_have_value(re.compile(re.escape(f"{name} — paused")), timeout=STEP_TIMEOUT)
    shots("paused by the worker")

    _passcode(page, "123456", "Resume paying")
    deadline = time.monotonic() + 300
    results = page.get_by_role("heading", name="Results")
    while not results.is_visible():
        assert time.monotonic() < deadline, "the finished batch's results never showed"
        console_server.advance_clock(5)  # payouts settle after a few sandbox seconds
        page.wait_for_timeout(1000)
    # Point 4: a finished batch stays on screen with its results and downloads.
    page.get_by_role("button", name="Download the results (CSV)").wait_for()
    expect(_picker(page)).to_have_value(re.compile(re.escape(f"{name} — finished")), timeout=STEP_TIMEOUT)
    rows = page.locator("[data-testid=stDataFrame]").first
    expect(rows).to_be_visible(timeout=STEP_TIMEOUT)
    page.wait_for_timeout(2500)  # a live refresh later, the results are still there
    expect(results).to_be_visible(timeout=STEP_TIMEOUT)
    shots("finished with results")
    page.set_viewport_size({"width": 390, "height": 900})
    page.wait_for_timeout(500)
    shots("finished with results on a phone")
    paid = page.locator("[data-testid=stMetric]").filter(has_text="Paid")
    expect(paid).to_contain_text("2", timeout=STEP_TIMEOUT)
