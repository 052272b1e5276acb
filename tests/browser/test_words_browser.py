"""What a person reads: the Dashboard's headline figures fit, and the currency box shows the
currency the review uses (issue 14, points 5 and 7)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from dollr_core.ledger import open_ledger
from tests.reports.fakes import add, attempt

from .conftest import Console, Shots, sign_in

#: Headline figures in three currencies, as large as a busy week makes them.
BIG = (("USD", "12345.67"), ("LRD", "1234567.89"), ("RWF", "12345678"))

CUT_OFF = """() => [...document.querySelectorAll('[data-testid=stMetricValue]')]
  .map(e => [e, e.querySelector('div,p,span') || e])
  .filter(([outer, inner]) => [outer, inner].some(x => x.scrollWidth > x.clientWidth + 1)
     || /…|\\.\\.\\.$/.test(outer.innerText))
  .map(([outer]) => outer.innerText)"""


@pytest.fixture(scope="module")
def three_currencies(console_server: Console) -> None:
    """Completed collections and payouts in USD, LRD and RWF today, written straight to the ledger."""
    engine = open_ledger(f"sqlite:///{console_server.data_dir}/ledger.db")
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for currency, amount in BIG:
        common = {"currency": currency, "payer_currency": currency, "created_at": now, "updated_at": now}
        rows.append(attempt(amount=amount, operation_type="PAYOUT", **common))
        rows.append(attempt(amount=amount, operation_type="COLLECTION", **common))
    for row in rows:
        row["settled_payer_currency"] = row["payee_currency"] = row["currency"]
    add(engine, *rows)
    engine.dispose()


@pytest.mark.parametrize("width", [1280, 390])
def test_dashboard_figures_are_never_cut_off(
    page: Any, console_server: Console, shots: Shots, three_currencies: None, width: int
) -> None:
    page.set_viewport_size({"width": width, "height": 900})
    signed_in(page, console_server, "finance")
    page.get_by_text("Collected in RWF").first.wait_for()
    page.wait_for_timeout(1000)  # the columns have their final widths
    shots(f"dashboard at {width}px")
    values = page.locator("[data-testid=stMetricValue]")
    assert values.count() >= 6
    assert page.evaluate(CUT_OFF) == []


def signed_in(page: Any, console: Console, role: str) -> None:
    """`sign_in`, allowing a slow first start (the machine is shared) before the form shows."""
    page.goto(console.url)
    page.get_by_label("E-mail").wait_for(timeout=120_000)
    sign_in(page, console, role)


def shown(page: Any, label: str) -> str:
    """What a select box shows on screen: its value, or "" when only the placeholder shows."""
    return str(page.get_by_role("combobox", name=label).input_value())


def test_currency_box_shows_the_currency_of_the_review(
    page: Any, console_server: Console, shots: Shots
) -> None:
    signed_in(page, console_server, "operator")
    page.locator("[data-testid=stSidebarNav]").get_by_role("link", name="Pay someone").click()
    page.get_by_role("textbox", name="Recipient's full name").wait_for()
    assert page.title().startswith("Pay someone")  # each page its own browser title
    sidebar = page.locator("[data-testid=stSidebar]")
    assert "127.0.0.1" not in sidebar.inner_text()  # no raw address
    assert "(Operator)" in sidebar.inner_text()  # the role's name, not its code
    assert sidebar.locator("a[href^='mailto:']").count() == 0  # the address is text, not a link
    page.get_by_role("textbox", name="Recipient's full name").fill("Musa Kollie")
    page.get_by_role("textbox", name="Mobile-money number").fill("231880004321")
    page.get_by_role("textbox", name="Mobile-money number").press("Enter")
    page.get_by_text("Mobile network: MTN").wait_for()
    page.get_by_role("textbox", name="Amount the recipient gets").fill("600")
    page.get_by_role("textbox", name="Amount the recipient gets").press("Enter")
    page.wait_for_timeout(1000)
    page.get_by_role("button", name="Review").click()
    page.get_by_text("Our wallet is debited").wait_for()
    page.wait_for_timeout(1000)
    shots("review")
    assert shown(page, "Currency") == "USD"
    assert shown(page, "Saved recipients") == "New recipient"
    assert "USD 600.00" in page.locator("[data-testid=stMetricValue]").first.inner_text()
