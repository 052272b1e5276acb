"""The refund and wallet-transfer pages: a person can make each, and it pays once."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from decimal import Decimal

from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.flows import refunds
from dollr_core.ledger.intents import get_intent
from dollr_core.ledger.tables import IntentState
from dollr_core.reports import payment_receipts
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, settle


def of_kind(sandbox: Sandbox, kind: str) -> list[dict[str, object]]:
    return [e for e in sandbox.executions() if e["operation_type"] == kind]


def test_refund_from_a_reference_pays_once(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    finance = Actor("finance@example.com", Role.FINANCE)
    paid = collect(console, finance, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    at = page("pages/refunds.py", role=Role.FINANCE)
    at.query_params["reference"] = paid.reference_id
    at.run()
    assert not at.exception
    at.text_input(key="refunds_amount").input("20")
    at.text_input(key="refunds_reason").input("Late delivery")
    at.button(key="refunds_submit").click().run()
    assert not at.exception and not at.error
    at.run()  # a rerun never refunds twice
    refunds = of_kind(fresh_sandbox, "REFUND")
    assert len(refunds) == 1
    [earlier] = [d.value for d in at.dataframe if "State" in d.value.columns]
    assert earlier["State"][0] in ("Being sent", "Completed")  # the ledger's state in words, not EXECUTING
    assert str(refunds[0]["reference_id"]) in [c.value for c in at.code]  # the whole one, to copy
    settle(console, fresh_sandbox)
    receipt = payment_receipts.payment_receipt(console, finance, str(refunds[0]["reference_id"]))
    assert ("Reason", "Late delivery") in receipt.lines() and (
        "Refund of payment",
        paid.reference_id,
    ) in receipt.lines()
    assert payment_receipts.payment_receipt_pdf(receipt).startswith(b"%PDF")


def test_refund_page_refuses_more_than_is_left(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    finance = Actor("finance@example.com", Role.FINANCE)
    paid = collect(console, finance, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    at = page("pages/refunds.py", role=Role.FINANCE)
    at.query_params["reference"] = paid.reference_id
    at.run()
    at.text_input(key="refunds_amount").input("999")
    at.text_input(key="refunds_reason").input("Oops")
    at.button(key="refunds_submit").click().run()
    assert at.error and "can still be refunded" in at.error[0].value
    assert of_kind(fresh_sandbox, "REFUND") == []


def test_transfer_page_sends_once(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    # Our wallets at the test sandbox (the embedded sandbox's are found without this setting).
    console.settings = console.settings.model_copy(update={"wallet_ids": {"USD": 1, "LRD": 2, "RWF": 3}})
    at = page("pages/transfers.py", role=Role.FINANCE).run()
    assert not at.exception
    at.text_input(key="transfers_name").input("Kofi Mensah")
    at.text_input(key="transfers_phone").input("231880007777")
    at.text_input(key="transfers_amount").input("25")
    at.button(key="transfers_submit").click().run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    at.run()
    assert len(of_kind(fresh_sandbox, "TRANSFER")) == 1


def test_operators_may_neither_refund_nor_transfer(page: Callable[..., AppTest], console: Services) -> None:
    assert page("pages/refunds.py", role=Role.OPERATOR).run().error
    assert page("pages/transfers.py", role=Role.MANAGER).run().error


def test_a_paid_invoice_offers_its_refund(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    finance = Actor("finance@example.com", Role.FINANCE)
    paid = collect(console, finance, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    at = page("pages/invoices.py", role=Role.FINANCE)
    at.query_params["number"] = paid.source_number or ""
    at.run()
    assert not at.exception
    links = [m.value for m in at.markdown if "Refund this payment" in m.value]
    assert links and paid.reference_id in links[0]


def test_a_refund_above_the_threshold_is_approved_on_the_approvals_page_then_paid_once(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    console.settings = console.settings.model_copy(update={"approval_thresholds": {"USD": Decimal("100")}})
    finance = Actor("finance@example.com", Role.FINANCE)
    paid = collect(console, finance, uuid.uuid4().hex)  # USD 275.00
    settle(console, fresh_sandbox)
    key = uuid.uuid4().hex
    refunds.prepare_refund(
        console, finance, key, reference_id=paid.reference_id, amount="200", reason="Broken"
    )

    at = page("pages/approvals.py", role=Role.MANAGER).run()
    assert not at.exception, at.exception
    assert any("Refund of" in m.value for m in at.markdown)
    at.button(key=f"approve:{key}").click().run()
    at.button(key="approvals:confirm").click().run()  # the dialog: "Yes, approve"
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert get_intent(console.engine, key).state == IntentState.READY  # type: ignore[union-attr]
    refunds.confirm_refund(console, finance, key)
    assert len(of_kind(fresh_sandbox, "REFUND")) == 1
