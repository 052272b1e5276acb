"""Reports in a real browser (issue 6): history filtered, exported as CSV, and a payment's receipt
opened from its row and downloaded as PDF."""

from __future__ import annotations

import csv
import io
import re
import sqlite3
from collections.abc import Callable
from decimal import Decimal

from pypdf import PdfReader

from dollr_core.basics.money import quantize

from .conftest import Console, Shots, sign_in
from .test_collect_browser import collect_by_wallet, go, grid, metric, publish_invoice, unique_customer

COLLECTIONS = "Collection (money in)"  # the Type filter's words for COLLECTION


def ledger_count(console: Console, operation: str | None = None) -> int:
    """Payments in the console's ledger (every one started today, inside history's default week)."""
    query = "SELECT count(*) FROM attempt"
    args: tuple[str, ...] = ()
    if operation is not None:
        query, args = query + " WHERE operation_type = ?", (operation,)
    with sqlite3.connect(console.data_dir / "ledger.db") as db:
        (n,) = db.execute(query, args).fetchone()
    return int(n)


def pay_someone(p: object, console: Console, name: str) -> None:
    """An operator sends a small payout, so history holds more than collections."""
    sign_in(p, console, "operator")
    go(p, "Pay someone")
    p.get_by_role("textbox", name="Recipient's full name").fill(name)  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Mobile-money number").fill("231880004321")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Mobile-money number").press("Enter")  # type: ignore[attr-defined]
    p.get_by_text("Mobile network: MTN").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Amount the recipient gets").fill("12.00")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Amount the recipient gets").press("Enter")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Review").click()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Merchant passcode").fill("123456")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Confirm and send").click()  # type: ignore[attr-defined]
    p.get_by_role("heading", name="Your payout").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Sign out").click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Sign in").wait_for()  # type: ignore[attr-defined]


def only_collections(p: object) -> None:
    p.locator("[data-testid=stMultiSelect]").filter(has_text="Type").click()  # type: ignore[attr-defined]
    p.get_by_role("option", name=COLLECTIONS).click()  # type: ignore[attr-defined]
    p.keyboard.press("Escape")  # type: ignore[attr-defined]


def search_for(p: object, text: str) -> None:
    box = p.get_by_role("textbox", name="Search")  # type: ignore[attr-defined]
    box.fill(text)
    box.press("Enter")


def open_history(p: object, *, collections_only: bool = False, search: str = "") -> None:
    """Open History (its filters start empty in a new sign-in) and set the filters asked for."""
    go(p, "History")
    p.get_by_role("heading", name="Payment history").wait_for()  # type: ignore[attr-defined]
    if collections_only:
        only_collections(p)
    if search:
        search_for(p, search)


def shows_payments(p: object, count: int) -> None:
    """Wait until the totals count `count` payments and the table below says so too (the run ended)."""
    metric(p, "Payments").get_by_text(f"{count:,}", exact=True).wait_for()  # type: ignore[attr-defined]
    p.get_by_text(re.compile(rf"^Showing 1–{min(count, 50):,} of {count:,}, newest first")).wait_for()  # type: ignore[attr-defined]


def csv_button(count: int) -> re.Pattern[str]:
    """The export button's name for `count` payments (singular or not)."""
    return (
        re.compile(r"^Download this payment \(CSV\)$")
        if count == 1
        else re.compile(rf"^Download these {count:,} payments \(CSV\)$")
    )


def download(p: object, console: Console, button: str | re.Pattern[str], reopen: Callable[[], None]) -> bytes:
    """Click a download button and return the file (the pages' buttons don't rerun on click:
    with Streamlit 1.67 a rerun could drop the file; `console` and `reopen` are kept for callers)."""
    with p.expect_download(timeout=15_000) as info:  # type: ignore[attr-defined]
        p.get_by_role("button", name=button).click()  # type: ignore[attr-defined]
    return info.value.path().read_bytes()  # type: ignore[no-any-return]


def csv_rows(data: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8-sig"))))


def pdf_text(data: bytes) -> str:
    """The text a PDF reader extracts (receipts embed a Unicode font, so text is glyph-coded)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


def exact(amount: object, currency: str) -> Decimal:
    """A sandbox amount as the export writes it: exact, in the currency's minor units."""
    return quantize(Decimal(str(amount)), currency)


def test_history_filter_export_and_receipt_pdf(page: object, console_server: Console, shots: Shots) -> None:
    p = page
    pay_someone(p, console_server, unique_customer("Musa"))
    sign_in(p, console_server, "finance")
    customer = unique_customer("Hawa")
    number = publish_invoice(p, shots, customer, "80.00")
    execution = collect_by_wallet(p, console_server, shots, number)

    open_history(p)
    everything = ledger_count(console_server)
    shows_payments(p, everything)
    shots("history unfiltered")

    # Only collections: the totals and the export shrink to the ledger's collections.
    only_collections(p)
    collected = ledger_count(console_server, "COLLECTION")
    assert 0 < collected < everything
    shows_payments(p, collected)
    shots("only collections")
    rows = csv_rows(
        download(
            p,
            console_server,
            csv_button(collected),
            lambda: open_history(p, collections_only=True),
        )
    )
    assert len(rows) == collected
    assert {r["Type"] for r in rows} == {"COLLECTION"}

    # And this customer's name: one payment, exactly the one just collected.
    search_for(p, customer)
    shows_payments(p, 1)
    shots("one customer")
    (row,) = csv_rows(
        download(
            p,
            console_server,
            csv_button(1),
            lambda: open_history(p, collections_only=True, search=customer),
        )
    )
    assert (row["Name"], row["Document"], row["Outcome"]) == (customer, number, "Completed")
    assert row["Payment reference"] == execution["reference_id"]
    assert Decimal(row["Payer paid"]) == exact(execution["payer_amount"], row["Payer currency"])
    assert Decimal(row["Payee received"]) == exact(execution["payee_amount"], row["Payee currency"])

    # Pick its row in the table (the row-marker column, left of the first cell), then its receipt.
    table = p.locator(".st-key-history_table")  # type: ignore[attr-defined]
    (header, first, *_) = grid(table, showing=customer)
    assert first[header.index("Name")] == customer
    table.scroll_into_view_if_needed()
    box = table.bounding_box()
    p.mouse.click(box["x"] + 18, box["y"] + 35 + 17)  # type: ignore[attr-defined]  # header and rows are 35 px
    receipt = p.get_by_role("link", name="Open its receipt")  # type: ignore[attr-defined]
    receipt.wait_for()
    shots("row picked")
    receipt.click()
    p.get_by_role("heading", name=f"Receipt for invoice {number}").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Download PDF").wait_for()  # type: ignore[attr-defined]
    shots("receipt")
    pdf = download(p, console_server, "Download PDF", lambda: reopen_receipt(p, number))
    assert pdf.startswith(b"%PDF-")
    assert len(pdf) > 1500
    assert number in pdf_text(pdf)

    # Every completed payment has its receipt: the one just collected heads that list.
    go(p, "Receipts")
    p.get_by_role("tab", name="Every payment").click()  # type: ignore[attr-defined]
    listed = p.locator(".st-key-receipts_browse")  # type: ignore[attr-defined]
    (header, newest, *_) = grid(listed, showing=customer)
    assert newest[header.index("Name")] == customer
    assert newest[header.index("Document")] == number
    shots("every payment")


def reopen_receipt(p: object, number: str) -> None:
    go(p, "Receipts")
    p.get_by_role("textbox", name="Invoice or order number").fill(number)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Find receipt").click()  # type: ignore[attr-defined]
    p.get_by_role("heading", name=f"Receipt for invoice {number}").wait_for()  # type: ignore[attr-defined]
