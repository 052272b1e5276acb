"""Getting paid in a real browser (issue 5): finance drafts an invoice for a new customer, adds an
item, publishes it, collects it from the customer's mobile-money wallet, watches it complete and
opens its receipt. The helpers here are reused by the history test."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

from dollr_core.basics.money import format_money
from dollr_core.explain import NETWORK_TRANSACTION_ID

from .conftest import Console, Shots, sign_in

WALLET = "231880005678"  # an MTN Liberia test wallet: the sandbox completes its payments


def unique_customer(first: str) -> str:
    """A customer name no other test uses, so a search finds this test's payment only."""
    return f"{first} Tarr {uuid.uuid4().hex[:6]}"


def collections(console: Console) -> list[dict[str, object]]:
    """The collections the sandbox really holds."""
    return [e for e in console.sandbox_executions() if e["operation_type"] == "COLLECTION"]


def go(p: object, name: str) -> None:
    """Open a page from the sidebar menu."""
    p.locator("[data-testid=stSidebarNav]").get_by_role("link", name=name, exact=True).click()  # type: ignore[attr-defined]


def metric(p: object, label: str) -> object:
    """The value of the metric labelled exactly `label` (a locator)."""
    name = p.locator("[data-testid=stMetricLabel]").get_by_text(label, exact=True)  # type: ignore[attr-defined]
    return p.locator("[data-testid=stMetric]").filter(has=name).locator("[data-testid=stMetricValue]")  # type: ignore[attr-defined]


def grid(frame: object, *, showing: str) -> list[list[str]]:
    """The cells of a st.dataframe, row by row, header first, once a cell reads `showing`.

    The grid paints on a canvas; its cells also sit in a hidden accessible table, filled a moment
    after the frame appears: read that table once it holds what we wait for.
    """
    frame.locator("td").filter(has_text=showing).first.wait_for(state="attached")  # type: ignore[attr-defined]
    rows: list[list[str]] = frame.evaluate(  # type: ignore[attr-defined]
        "e => [...e.querySelectorAll('tr')].map(r => [...r.children].map(c => c.textContent))"
    )
    return rows


def money(value: object, currency: object) -> str:
    """A sandbox amount (JSON number or string) as the console shows it, e.g. "USD 1,250.00"."""
    return format_money(Decimal(str(value)), str(currency))


def publish_invoice(p: object, shots: Shots, customer: str, price: str) -> str:
    """Invoices & orders: a USD draft for a new customer, one item, published. Returns its number."""
    go(p, "Invoices & orders")
    p.get_by_role("heading", name="Invoices & orders").wait_for()  # type: ignore[attr-defined]
    p.get_by_text("A new customer", exact=True).click()  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Customer's full name").fill(customer)  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Phone number").fill("231770001234")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Note for the customer").fill("Consulting services, June")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Create the draft").scroll_into_view_if_needed()  # type: ignore[attr-defined]
    shots("new draft filled in")
    p.get_by_role("button", name="Create the draft").click()  # type: ignore[attr-defined]
    made = p.get_by_text(re.compile(r"^Draft \S+ was made")).inner_text()  # type: ignore[attr-defined]
    number: str = made.split()[1]
    p.get_by_role("heading", name=f"Invoice {number}").wait_for()  # type: ignore[attr-defined]
    shots("draft made")

    p.get_by_role("textbox", name="Item").fill("Strategy session")  # type: ignore[attr-defined]
    p.get_by_role("textbox", name="Unit price (USD)").fill(price)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Add item").click()  # type: ignore[attr-defined]
    p.get_by_text("1. Strategy session").wait_for()  # type: ignore[attr-defined]
    assert metric(p, "Total").inner_text() == money(price, "USD")  # type: ignore[attr-defined]
    shots("item added")

    p.get_by_role("button", name="Publish this invoice").click()  # type: ignore[attr-defined]
    p.get_by_text("The items are locked").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Collect this payment now").scroll_into_view_if_needed()  # type: ignore[attr-defined]
    shots("published")
    return number


def collect_by_wallet(p: object, console: Console, shots: Shots, number: str) -> dict[str, object]:
    """From the open, published invoice: hand over to Collect, quote, confirm, see it complete.

    Returns the sandbox's record of the one collection this added."""
    before = {e["reference_id"] for e in collections(console)}
    p.get_by_role("button", name="Collect this payment now").click()  # type: ignore[attr-defined]
    p.get_by_role("heading", name="Collect a payment").wait_for()  # type: ignore[attr-defined]
    wallet = p.get_by_role("textbox", name="Customer's mobile-money number")  # type: ignore[attr-defined]
    wallet.fill(WALLET)
    wallet.press("Enter")
    p.get_by_text("Mobile network: MTN").wait_for()  # type: ignore[attr-defined]
    pays = metric(p, "The customer pays").inner_text()  # type: ignore[attr-defined]
    receives = metric(p, "We receive").inner_text()  # type: ignore[attr-defined]
    confirm = p.get_by_role("button", name=re.compile(r"^Ask the wallet to pay"))  # type: ignore[attr-defined]
    confirm.scroll_into_view_if_needed()
    shots("operator and quote")
    confirm.click()
    p.get_by_role("heading", name=f"Payment for {number}").wait_for()  # type: ignore[attr-defined]
    p.get_by_text("Processing").first.wait_for()  # type: ignore[attr-defined]
    shots("confirmed and processing")
    console.advance_clock(10)
    # The live status polls every 2 s; when final, the page reruns once and offers the receipt.
    p.get_by_text("The money has moved.").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    p.get_by_role("button", name="Open the receipt").wait_for()  # type: ignore[attr-defined]
    shots("completed")

    added = [e for e in collections(console) if e["reference_id"] not in before]
    assert len(added) == 1, added
    execution = added[0]
    assert execution["status"] == "COMPLETED"
    assert (pays, receives) == (
        money(execution["payer_amount"], execution["payer_currency"]),
        money(execution["payee_amount"], execution["payee_currency"]),
    )
    return execution


def test_invoice_collected_by_wallet_then_receipt(
    page: object, console_server: Console, shots: Shots
) -> None:
    p = page
    before = len(collections(console_server))
    sign_in(p, console_server, "finance")
    number = publish_invoice(p, shots, unique_customer("Comfort"), "250.00")
    execution = collect_by_wallet(p, console_server, shots, number)
    assert execution["source_type"] == "INVOICE"

    p.get_by_role("button", name="Open the receipt").click()  # type: ignore[attr-defined]
    p.get_by_role("heading", name=f"Receipt for invoice {number}").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Download PDF").wait_for()  # type: ignore[attr-defined]
    shots("receipt")
    p.get_by_role("button", name="Download PDF").scroll_into_view_if_needed()  # type: ignore[attr-defined]
    shots("receipt figures")
    payment = p.locator("[data-testid=stDataFrame]").nth(1)  # type: ignore[attr-defined]
    figures = {what: value for what, value in grid(payment, showing=number)}
    assert figures["Invoice number"] == number
    assert figures["Total billed"] == money("250.00", "USD")
    assert figures["Customer paid"] == money(execution["payer_amount"], execution["payer_currency"])
    assert figures["We received"] == money(execution["payee_amount"], execution["payee_currency"])
    assert figures["Payment reference"] == str(execution["reference_id"])[:8]  # the whole one to copy
    assert figures[NETWORK_TRANSACTION_ID] == execution["provider_transaction_id"]

    after = collections(console_server)
    assert len(after) == before + 1  # opening the receipt moved no money
