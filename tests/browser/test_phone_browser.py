"""On a phone (390 px) in a real browser: an invoice's item rows stay rows, a collection is made and
followed to its end, the payment reference is shown whole, the receipt's printable page is a print
view (not a download), the customer's receipt link opens a page (not JSON), and History keeps each
payment's name and amount in view (issue 14, points 14 and 15)."""

from __future__ import annotations

import re
from typing import Any

from .conftest import Console, Shots, sign_in
from .test_collect_browser import collect_by_wallet, go, grid, money, unique_customer

PHONE = {"width": 390, "height": 844}


def same_row(a: Any, b: Any) -> bool:
    """Two elements sit side by side: their vertical extents overlap."""
    box_a, box_b = a.bounding_box(), b.bounding_box()
    return bool(box_a["y"] < box_b["y"] + box_b["height"] and box_b["y"] < box_a["y"] + box_a["height"])


def fits(locator: Any) -> bool:
    """Nothing of the element is cut off: its content is no wider than its box."""
    return bool(locator.evaluate("e => e.scrollWidth <= e.clientWidth + 1"))


def menu(p: Any, name: str) -> None:
    """The menu is folded away on a phone: send the click to its entry directly."""
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name=name, exact=True).dispatch_event("click")


def test_a_day_on_a_phone(page: Any, console_server: Console, shots: Shots, browser: Any) -> None:
    p = page
    sign_in(p, console_server, "finance")
    go(p, "Invoices & orders")
    p.get_by_role("heading", name="Invoices & orders").wait_for()
    p.set_viewport_size(PHONE)
    p.get_by_text("A new customer", exact=True).click()
    p.get_by_role("textbox", name="Customer's full name").fill(unique_customer("Hawa"))
    p.get_by_role("textbox", name="Phone number").fill("231770001234")
    p.get_by_role("button", name="Create the draft").click()
    p.get_by_text("was made").first.wait_for()
    p.get_by_role("textbox", name="Item").fill("Strategy session")
    p.get_by_role("textbox", name="Unit price (USD)").fill("250.00")
    p.get_by_role("button", name="Add item").click()
    name = p.get_by_text("1. Strategy session", exact=True)
    name.wait_for()
    name.scroll_into_view_if_needed()
    shots("phone draft with an item")
    row = p.locator("[data-testid=stHorizontalBlock]").filter(has=name).first
    total = row.get_by_text(money("250.00", "USD"), exact=True)
    assert same_row(name, total), "the item's name and its line total sit on one line"
    assert same_row(name, row.get_by_role("button", name="Edit")), "Edit sits on the item's line"

    p.get_by_role("button", name="Publish this invoice").click()
    p.get_by_text("The items are locked").wait_for()
    number = p.get_by_role("heading", name=re.compile(r"^Invoice \S+$")).inner_text().split()[-1]
    execution = collect_by_wallet(p, console_server, shots, number)
    whole = str(execution["reference_id"])
    short = p.get_by_role("button", name=f"Payment reference: {whole[:8]}")
    short.scroll_into_view_if_needed()
    short.click()  # the whole reference, ready to copy
    reference = p.locator("[data-testid=stCode]").filter(has_text=whole).first
    reference.wait_for()
    shots("phone payment reference")
    assert fits(reference.locator("pre").first), "the payment reference is not cut off"
    p.keyboard.press("Escape")  # the popover closes

    p.get_by_role("button", name="Open the receipt").click()
    p.get_by_role("heading", name=f"Receipt for invoice {number}").wait_for()
    p.get_by_role("button", name="Printable page").click()
    dialog = p.get_by_role("dialog")
    frame = dialog.frame_locator("iframe")
    frame.get_by_role("button", name="Print").wait_for()
    frame.get_by_text(number).first.wait_for()
    shots("phone print view")
    dialog.get_by_role("button", name="Close").click()

    link = p.locator("[data-testid=stCode]").filter(has_text="/_sandbox/receipts/").first.inner_text().strip()
    customer = browser.new_context(viewport=PHONE).new_page()
    try:
        customer.goto(link)
        customer.get_by_role("heading", name="Receipt").wait_for()
        customer.get_by_text(number).first.wait_for()
        assert not customer.locator("body").inner_text().lstrip().startswith("{"), "a page, not JSON"
        Shots(customer, shots.dir.name)("customer's receipt on the phone")
        assert fits(customer.locator("body"))
    finally:
        customer.context.close()

    menu(p, "History")
    p.get_by_role("heading", name="Payment history").wait_for()
    table = p.locator("[data-testid=stDataFrame]").last
    cells = grid(table, showing="Hawa")
    shots("phone history")
    heads = [h for h in cells[0] if h.strip()]
    assert heads[:3] == ["Name", "Amount", "Currency"], heads  # in view before the table scrolls sideways
    row = next(r for r in cells[1:] if any("Hawa" in c for c in r))
    assert row[1:3] == ["250", "USD"], row  # a number, sorted by value, its currency beside it

    menu(p, "Receipts")
    p.get_by_role("tab", name="Every payment").click()
    (heads, newest, *_) = grid(p.locator(".st-key-receipts_browse"), showing="Hawa")
    # The grid draws only the columns in view: on a phone the amount and document scroll sideways.
    assert newest[heads.index("Name")].startswith("Hawa"), newest  # the payment just collected, first
    assert newest[heads.index("Type")] == "Collection (money in)", newest
    shots("phone every payment")
