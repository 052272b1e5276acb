"""Receipts page: every figure of a real paid invoice, and plain reasons when there is none."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import FeeBearer, SourceType
from dollr_core.basics.money import format_money
from dollr_core.basics.words import short_reference
from dollr_core.explain import GATEWAY_FEE, NETWORK_TRANSACTION_ID, PLATFORM_FEE
from dollr_core.flows import documents
from dollr_core.flows.collect import NewCollection, collect_new_document
from dollr_core.flows.directory import Person
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, executions_by_reference, pay_out, settle
from tests.support.sql import statements

FINANCE = Actor("finance@example.com", Role.FINANCE)


def _texts(at: AppTest) -> str:
    parts = [t.value for t in at.text] + [m.value for m in at.markdown] + [s.value for s in at.subheader]
    return "\n".join(parts)


def _figures(at: AppTest) -> dict[str, str]:
    return {row["What"]: row["Value"] for row in at.dataframe[1].value.to_dict("records")}


def test_paid_invoice_in_another_currency_shows_every_figure(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    order = NewCollection(
        customer=Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR"),
        currency="USD",
        items=[documents.LineItem("Strategy session", 1, Decimal("250.00"))],
        wallet_phone="231880005678",
        payer_currency="LRD",
    )
    attempt = collect_new_document(console, FINANCE, uuid.uuid4().hex, order)
    settle(console, fresh_sandbox)
    paid = executions_by_reference(fresh_sandbox)[attempt.reference_id]
    number = attempt.source_number
    assert number

    at = page("pages/receipts.py", role=Role.MANAGER)
    at.query_params["number"] = number
    at.run()
    assert not at.exception, at.exception
    shown = _texts(at)
    assert f"Receipt for invoice {number}" in shown
    assert "Sandbox Trading Ltd" in shown  # merchant
    assert "Amara Kamara" in shown and "amara@example.com" in shown  # customer
    items = at.dataframe[0].value.to_dict("records")
    assert items == [
        {"Item": "Strategy session", "Qty": 1, "Unit price": "USD 250.00", "Amount": "USD 250.00"}
    ]

    figures = _figures(at)
    assert figures["Invoice number"] == number
    assert figures["Customer paid"] == format_money(paid["payer_amount"], "LRD")  # type: ignore[arg-type]
    assert figures["We received"] == format_money(paid["payee_amount"], "USD")  # type: ignore[arg-type]
    assert figures[PLATFORM_FEE] == format_money(paid["platform_fee"], "USD")  # type: ignore[arg-type]
    assert figures[GATEWAY_FEE] == format_money(paid["gateway_fee"], "USD")  # type: ignore[arg-type]
    assert figures["Currency exchange fee"] == format_money(paid["fx_fee"], "USD")  # type: ignore[arg-type]
    assert figures["Exchange rate"] == "1 USD = 190 LRD"
    assert figures["Paid with"] == "MTN MoMo (Liberia)"  # no provider code (PAWAPAY)
    assert figures[NETWORK_TRANSACTION_ID] == paid["provider_transaction_id"]
    assert figures["Payment reference"] == attempt.reference_id[:8]  # short; the whole one to copy:
    assert attempt.reference_id in [c.value for c in at.code]
    assert figures["Issued"] != "—" and figures["Paid"] != "—"

    assert {b.label for b in at.get("download_button")} == {"Download PDF"}
    assert at.button(key="receipts_print").label == "Printable page"  # a print view, not a download
    assert at.get("link_button"), "the customer's receipt link is offered"
    assert any("/_sandbox/receipts/" in c.value for c in at.code)

    calls = fresh_sandbox.request_count
    at.run()  # a PAID receipt never changes: the rerun asks Dollr nothing
    assert fresh_sandbox.request_count == calls
    assert _figures(at) == figures

    at.button(key="receipts_print").click().run()  # opens the print view in a dialog
    assert any("Press Print" in c.value for c in at.caption)
    assert not at.exception


def test_hand_over_from_another_page(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    attempt = collect(console, FINANCE, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    at = page("pages/receipts.py", role=Role.FINANCE)
    at.session_state["receipt_number"] = attempt.source_number
    at.run()
    assert not at.exception
    assert _figures(at)["Invoice number"] == attempt.source_number
    assert at.query_params["number"] == attempt.source_number  # the address can be shared


def test_documents_without_receipt_say_why(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    def published(note: str) -> str:
        record = documents.create_document(
            console,
            FINANCE,
            draft_key=uuid.uuid4().hex,
            source_type=SourceType.INVOICE,
            customer=Person.checked("Musa Kollie", "231880001234"),
            currency="USD",
            note=note,
            fee_bearer=FeeBearer.PAYEE,
        )
        documents.add_item(console, FINANCE, record, documents.LineItem("Rent", 1, Decimal("80")))
        record = documents.publish(console, FINANCE, record)
        assert record.number
        return record.number

    unpaid = published("unpaid")
    cancelled = published("cancelled")
    record = documents.find_document(console, FINANCE, cancelled)
    assert record is not None
    documents.cancel(console, FINANCE, record)
    slow = collect(console, FINANCE, uuid.uuid4().hex, wallet="231880000003")  # stays PROCESSING

    expected = {
        unpaid: "Not paid yet: the customer has not paid this invoice.",
        cancelled: "this invoice was cancelled",
        str(slow.source_number): "Not paid yet: the payment is still processing.",
    }
    for number, reason in expected.items():
        at = page("pages/receipts.py").run()
        at.text_input(key="receipts_search").input(number)
        at.button(key="receipts_find_button").click()
        at.run()
        assert not at.exception
        assert any(reason in info.value for info in at.info), (number, [i.value for i in at.info])
        assert not at.get("download_button")


def test_unknown_number_is_said_plainly_and_not_asked_again(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = page("pages/receipts.py").run()
    at.text_input(key="receipts_search").input("INV-2025-99999")
    at.button(key="receipts_find_button").click()
    at.run()
    assert at.warning and "No invoice or order was found" in at.warning[0].value
    calls = fresh_sandbox.request_count
    at.run()
    assert fresh_sandbox.request_count == calls


def test_operators_cannot_open_receipts(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/receipts.py", role=Role.OPERATOR).run()
    assert at.error and "does not give access" in at.error[0].value
    assert not at.text_input


def test_every_payment_lists_completed_payments_newest_first_and_counts_none(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    """The "Every payment" tab shows no total, so it never counts the ledger's payments (a COUNT
    over 100,000 completed payments was half of the page's idle rerun)."""
    operator = Actor("olivia.operator@example.com", Role.OPERATOR)
    older = pay_out(console, operator, uuid.uuid4().hex, amount="11")
    newer = pay_out(console, operator, uuid.uuid4().hex, amount="12")
    settle(console, fresh_sandbox)
    at = page("pages/receipts.py")
    at.run()
    assert not at.exception, at.exception
    with statements(console.engine) as idle:
        at.run()
    listed = at.dataframe(key="receipts_browse").value.to_dict("records")
    assert [r["Payment reference"] for r in listed] == [
        short_reference(newer.reference_id),
        short_reference(older.reference_id),
    ]
    assert idle and not any("count(" in s.lower() for s in idle), idle
