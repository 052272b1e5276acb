"""Fee & FX preview page: every method side by side, and the same figures the payment then shows."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import FeeBearer, SourceType
from dollr_core.basics.money import format_money
from dollr_core.explain import FX_FEE
from dollr_core.flows import documents
from dollr_core.flows.directory import Person
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import executions_by_reference, pay_out, settle

FINANCE = Actor("finance@example.com", Role.FINANCE)


def _table(at: AppTest, index: int = 0) -> list[dict[str, str]]:
    rows: list[dict[str, str]] = at.dataframe[index].value.to_dict("records")
    return rows


def _compare(
    at: AppTest, *, operation: str, amount: str, currency: str, target: str, method: str = "all"
) -> None:
    at.radio(key="predictor_operation").set_value(operation)
    at.text_input(key="predictor_amount").input(amount)
    at.selectbox(key="predictor_currency").set_value(currency)
    at.selectbox(key="predictor_target").set_value(target)
    at.selectbox(key="predictor_method").set_value(method)
    at.button(key="predictor_submit").click()
    at.run()
    assert not at.exception, at.exception


def test_payout_preview_lists_every_method_and_equals_the_paid_payout(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = page("pages/predictor.py", role=Role.FINANCE).run()
    _compare(at, operation="PAYOUT", amount="25", currency="USD", target="USD")
    rows = {r["Method"]: r for r in _table(at)}
    assert set(rows) == {"MTN MoMo (Liberia)", "Orange Money (Liberia)", "Dollr wallet"}
    assert "Card" not in rows  # cards do not pay out
    mtn = rows["MTN MoMo (Liberia)"]

    calls = fresh_sandbox.request_count
    at.run()  # an idle rerun shows the same result and asks Dollr nothing
    assert fresh_sandbox.request_count == calls
    assert {r["Method"]: r for r in _table(at)}["MTN MoMo (Liberia)"] == mtn

    attempt = pay_out(console, Actor("op@example.com", Role.OPERATOR), uuid.uuid4().hex, amount="25")
    settle(console, fresh_sandbox)
    executed = executions_by_reference(fresh_sandbox)[attempt.reference_id]
    assert executed["payment_method"] == "MTN_MOMO_LBR"
    assert mtn["Our wallet pays"] == format_money(Decimal(str(executed["payer_amount"])), "USD")
    assert mtn["Recipient receives"] == format_money(Decimal(str(executed["payee_amount"])), "USD")
    fees = Decimal(str(executed["platform_fee"])) + Decimal(str(executed["gateway_fee"]))
    assert mtn["All fees"] == format_money(fees, "USD")


def test_collection_in_another_currency_shows_fx_fee_and_rate(
    page: Callable[..., AppTest], console: Services
) -> None:
    at = page("pages/predictor.py", role=Role.MANAGER).run()
    _compare(at, operation="COLLECTION", amount="100", currency="USD", target="LRD")
    rows = {r["Method"]: r for r in _table(at)}
    assert set(rows) == {"MTN MoMo (Liberia)", "Orange Money (Liberia)"}  # cards pay in USD only
    mtn = rows["MTN MoMo (Liberia)"]
    assert mtn["We receive"] == "USD 100.00"
    assert mtn[FX_FEE] == "USD 0.75"
    assert mtn["Customer pays"] == "LRD 19,617.50"  # (100 + 1.50 + 1.00 + 0.75) × 190
    assert mtn["Exchange rate"] == "1 USD ≈ 190 LRD"
    assert at.get("vega_lite_chart"), "the comparison chart is drawn"


def test_bad_amount_is_explained(page: Callable[..., AppTest], console: Services) -> None:
    at = page("pages/predictor.py").run()
    _compare(at, operation="COLLECTION", amount="12.345", currency="USD", target="USD")
    assert at.error and "at most 2 decimal places" in at.error[0].value
    assert not at.dataframe


def test_published_invoice_preview_equals_its_collection(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    from tests.flows.helpers import collect

    # A real collection first: its invoice shows what Dollr charged; then an identical new invoice
    # (same items, same customer) is previewed and must be quoted the very same figures.
    paid = collect(console, FINANCE, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    executed = executions_by_reference(fresh_sandbox)[paid.reference_id]

    record = documents.create_document(
        console,
        FINANCE,
        draft_key=uuid.uuid4().hex,
        source_type=SourceType.INVOICE,
        customer=Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR"),
        currency="USD",
        note="Same again",
        fee_bearer=FeeBearer.PAYER,
    )
    documents.add_item(console, FINANCE, record, documents.LineItem("Strategy session", 1, Decimal("250.00")))
    documents.add_item(console, FINANCE, record, documents.LineItem("Report", 2, Decimal("12.50")))
    record = documents.publish(console, FINANCE, record)

    at = page("pages/predictor.py").run()
    at.selectbox(key="predictor_document").set_value(record.id)
    at.selectbox(key="predictor_document_target").set_value("USD")
    at.button(key="predictor_document_submit").click()
    at.run()
    assert not at.exception
    rows = {r["Method"]: r for r in _table(at)}
    assert set(rows) == {"MTN MoMo (Liberia)", "Orange Money (Liberia)", "Card"}
    mtn = rows["MTN MoMo (Liberia)"]
    assert mtn["Customer pays"] == format_money(Decimal(str(executed["payer_amount"])), "USD")
    assert mtn["We receive"] == format_money(Decimal(str(executed["payee_amount"])), "USD")
