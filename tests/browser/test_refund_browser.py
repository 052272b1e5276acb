"""Issue 18 in a real browser: a paid invoice is refunded from its receipt, once."""

from __future__ import annotations

from .conftest import Console, Shots, sign_in
from .test_collect_browser import collect_by_wallet, publish_invoice, unique_customer


def refunds(console: Console) -> list[dict[str, object]]:
    return [e for e in console.sandbox_executions() if e["operation_type"] == "REFUND"]


def test_refund_a_paid_invoice_from_its_receipt(page: object, console_server: Console, shots: Shots) -> None:
    p = page
    before = len(refunds(console_server))
    sign_in(p, console_server, "finance")
    number = publish_invoice(p, shots, unique_customer("Efua"), "120.00")
    paid = collect_by_wallet(p, console_server, shots, number)

    p.get_by_role("button", name="Open the receipt").click()  # type: ignore[attr-defined]
    p.get_by_role("heading", name=f"Receipt for invoice {number}").wait_for()  # type: ignore[attr-defined]
    p.get_by_role("link", name="Refund this payment").click()  # type: ignore[attr-defined]
    p.get_by_role("heading", name="Refund a payment").wait_for()  # type: ignore[attr-defined]
    p.get_by_text(number).first.wait_for(state="attached")  # type: ignore[attr-defined]
    shots("refund form from the receipt")
    amount = p.get_by_role("textbox", name="Amount to refund (USD)")  # type: ignore[attr-defined]
    assert amount.input_value() == "120.00"  # everything is left to refund
    amount.fill("45.00")
    p.get_by_role("textbox", name="Reason").fill("One session cancelled")  # type: ignore[attr-defined]
    p.get_by_role("button", name="Refund", exact=True).click()  # type: ignore[attr-defined]
    p.get_by_role("button", name="Make another refund").wait_for()  # type: ignore[attr-defined]
    console_server.advance_clock(10)
    p.get_by_text("The money has moved.").wait_for(timeout=30_000)  # type: ignore[attr-defined]
    shots("refund completed")

    made = refunds(console_server)
    assert len(made) == before + 1
    refund = made[-1]
    assert refund["status"] == "COMPLETED" and str(refund["payee_amount"]) in ("45.0", "45.00", "45")
    assert refund.get("refund_of") in (None, paid["reference_id"])

    p.reload()  # type: ignore[attr-defined]
    p.get_by_text("Signed in as finance@example.com").wait_for()  # type: ignore[attr-defined]  # still signed in
    assert len(refunds(console_server)) == before + 1  # a reload never refunds again
