"""Collect a payment page: wallet collections exactly once, their outcome, and payment links."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator
from decimal import Decimal

import pytest
from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import SourceType
from dollr_core.basics.money import format_money
from dollr_core.explain import GATEWAY_FEE, PLATFORM_FEE
from dollr_core.flows import documents
from dollr_core.flows.collect import publish_new_document
from dollr_core.flows.directory import Person
from dollr_core.ledger.tables import Attempt, AttemptState, DocumentRecord
from dollr_core.services import Services
from dollr_core.team import users
from dollr_sandbox import Sandbox
from tests.sandbox.support import Api, pay_by_card_on_hosted_page

from .conftest import PASSWORD

Page = Callable[..., AppTest]


@pytest.fixture
def api(fresh_sandbox: Sandbox) -> Iterator[Api]:
    client = Api(fresh_sandbox.base_url)
    yield client
    client.close()


@pytest.fixture
def invoice(console: Services, finance: Actor) -> DocumentRecord:
    """A published USD 275.00 invoice, made the way the Invoices page makes one."""
    return publish_new_document(
        console,
        finance,
        uuid.uuid4().hex,
        source_type=SourceType.INVOICE,
        customer=Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR"),
        currency="USD",
        items=[
            documents.LineItem.checked("Strategy session", 1, "250.00", "USD"),
            documents.LineItem.checked("Report", 2, "12.50", "USD"),
        ],
    )


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def keys(at: AppTest) -> set[str]:
    return {b.key for b in at.button if b.key}


def open_collect(page: Page, role: Role = Role.FINANCE, number: str | None = None) -> AppTest:
    at = page("pages/collect.py", role=role)
    if number:
        at.query_params["number"] = number
    at.run()
    assert not at.exception, at.exception
    return at


def choose(at: AppTest, record: DocumentRecord, wallet: str) -> AppTest:
    at.selectbox(key="collect:document").select(record.id).run()
    at.text_input(key="collect:wallet").input(wallet).run()
    assert not at.exception, at.exception
    return at


def metric(at: AppTest, label: str) -> str:
    return next(str(m.value) for m in at.metric if m.label == label)


def make_due(svc: Services) -> None:
    """Tests move the sandbox's clock, not ours: let the next look at every open payment happen now."""
    with Session(svc.engine) as db:
        for row in db.exec(select(Attempt)).all():
            row.next_poll_at = None
            row.lease_until = None
            db.add(row)
        db.commit()


def settle_and_rerun(at: AppTest, svc: Services, sandbox: Sandbox) -> AppTest:
    sandbox.advance_clock(10)
    make_due(svc)
    at.run()  # the live status asks Dollr, sees the outcome and reruns the page once
    assert not at.exception, at.exception
    return at


def test_refused_without_permission(page: Page) -> None:
    at = open_collect(page, Role.MANAGER)
    assert "does not give access" in errors(at)[0]
    assert not at.button


def test_wallet_collection_once_then_completed(
    page: Page, console: Services, invoice: DocumentRecord, fresh_sandbox: Sandbox, api: Api
) -> None:
    at = choose(open_collect(page), invoice, "231880005678")
    assert "MTN" in at.success[0].value and "Liberia (LR)" in at.success[0].value
    assert at.success[0].value.startswith("Mobile network: **MTN**")  # "Operator" is a role
    assert at.selectbox(key="collect:pay_currency").options == ["USD", "LRD"]

    predicted = api.get(
        "/v1/predictions/payment-source/amount-and-fees",
        params={
            "source_type": "INVOICE",
            "source_id": invoice.dollr_id,
            "target_currency": "USD",
            "payment_method": "MTN_MOMO_LBR",
            "provider": "PAWAPAY",
        },
    ).json()
    assert metric(at, "The customer pays") == format_money(Decimal(predicted["payer_amount"]), "USD")
    assert metric(at, "We receive") == format_money(Decimal(predicted["payee_amount"]), "USD") == "USD 275.00"
    fees = at.dataframe[-1].value
    shown = dict(zip(fees.iloc[:, 0], fees.iloc[:, 1], strict=True))
    assert shown[PLATFORM_FEE] == format_money(Decimal(predicted["platform_fee"]), "USD")
    assert shown[GATEWAY_FEE] == format_money(Decimal(predicted["gateway_fee"]), "USD")
    assert shown["Exchange rate"] == "No exchange: same currency"

    before = fresh_sandbox.request_count
    at.run()  # idle: the quote is remembered, nothing is asked of Dollr
    assert fresh_sandbox.request_count == before

    at.button(key="collect:confirm").click().run()
    assert not at.exception and not errors(at)
    assert len(fresh_sandbox.executions()) == 1
    assert "collect:confirm" not in keys(at)  # the payment is shown instead of the button

    at.session_state["collect:confirm:busy"] = True  # a second click that arrives late
    at.run()
    second_tab = open_collect(page, number=invoice.number)  # another window on the same invoice
    assert "already under way" in second_tab.warning[0].value
    assert "collect:confirm" not in keys(second_tab)
    assert len(fresh_sandbox.executions()) == 1

    settle_and_rerun(at, console, fresh_sandbox)
    assert [e["status"] for e in fresh_sandbox.executions()] == ["COMPLETED"]
    assert any("Completed." in s.value for s in at.success)
    assert "collect:receipt" in keys(at)
    assert documents.record_by_id(console.engine, invoice.id or 0).status == "PAID"  # type: ignore[union-attr]

    invoices = page("pages/invoices.py", role=Role.FINANCE).run()
    table = invoices.dataframe[0].value
    assert table[table["Number"] == invoice.number]["Status"].iloc[0] == "Paid"


def test_paying_in_another_currency_shows_the_exchange(page: Page, invoice: DocumentRecord) -> None:
    at = choose(open_collect(page), invoice, "231880005678")
    at.selectbox(key="collect:pay_currency").select("LRD").run()
    assert metric(at, "The customer pays") == "LRD 53,948.60"  # (275 + 4.13 + 2.75 + FX fee 2.06) × 190
    fees = at.dataframe[-1].value
    shown = dict(zip(fees.iloc[:, 0], fees.iloc[:, 1], strict=True))
    assert shown["Exchange rate"] == "1 USD = 190 LRD (about)"
    assert shown["Currency exchange fee"] == "USD 2.06"


@pytest.mark.parametrize(
    ("wallet", "said"),
    [("0880005678", "Start the phone number with its country code"), ("231990005678", "Phone number")],
)
def test_wallet_number_problems_are_said_plainly(
    page: Page, invoice: DocumentRecord, fresh_sandbox: Sandbox, wallet: str, said: str
) -> None:
    at = choose(open_collect(page), invoice, wallet)
    assert errors(at)[0].startswith(said)
    assert "collect:confirm" not in keys(at)
    assert fresh_sandbox.executions() == []


def test_declined_wallet_fails_with_reason_and_try_again(
    page: Page, console: Services, invoice: DocumentRecord, fresh_sandbox: Sandbox
) -> None:
    at = choose(open_collect(page), invoice, "231880000001")
    first_key = at.session_state["intent:collect"]
    at.button(key="collect:confirm").click().run()
    settle_and_rerun(at, console, fresh_sandbox)
    assert "declined" in errors(at)[0] and "Nothing was paid" in errors(at)[0]

    at.button(key="collect:retry").click().run()
    assert not at.exception
    assert at.session_state["intent:collect"] != first_key  # a new payment, not a replay of the old one
    assert at.selectbox(key="collect:document").value == invoice.id
    assert at.text_input(key="collect:wallet").value == "231880000001"
    at.text_input(key="collect:wallet").input("231880005678").run()
    at.button(key="collect:confirm").click().run()
    declined, fresh = fresh_sandbox.executions()
    assert declined["status"] == "FAILED" and fresh["status"] == "PENDING"


def test_payment_link_for_a_published_invoice(page: Page, invoice: DocumentRecord) -> None:
    at = open_collect(page, Role.OPERATOR)
    at.selectbox(key="collect:document").select(invoice.id).run()
    at.radio(key="collect:how").set_value("link").run()
    assert not at.exception and not errors(at)
    assert at.code[0].value.startswith("http")


def test_new_sale_paid_by_link(page: Page, api: Api) -> None:
    at = open_collect(page, Role.OPERATOR)
    at.radio(key="collect:what").set_value("new").run()
    at.text_input(key="collect:customer:name").input("Musa Kollie")
    at.text_input(key="collect:customer:phone").input("231880001234")
    at.text_input(key="collect:sale_item:name").input("T-shirt")
    at.number_input(key="collect:sale_item:qty").set_value(2)
    at.text_input(key="collect:sale_item:price").input("12.50")
    at.button(key="collect:sale_add").click().run()
    assert metric(at, "Total") == "USD 25.00"
    at.radio(key="collect:how").set_value("wallet").run()
    assert "cannot make invoices" in at.info[0].value  # an operator bills new sales by link
    assert "collect:sale_create" not in keys(at)

    at.radio(key="collect:how").set_value("link").run()
    at.button(key="collect:sale_checkout").click().run()
    assert not at.exception and not errors(at)
    assert at.code[0].value.startswith("http")
    held = api.get("/v1/invoices/list").json()
    assert [(d["status"], float(d["total_amount"])) for d in held] == [("ACTIVE", 25.0)]


def test_new_sale_link_paid_by_card_with_3ds(page: Page, api: Api, fresh_sandbox: Sandbox) -> None:
    at = open_collect(page, Role.OPERATOR)
    at.radio(key="collect:what").set_value("new").run()
    at.text_input(key="collect:customer:name").input("Musa Kollie")
    at.text_input(key="collect:customer:phone").input("231880001234")
    at.text_input(key="collect:sale_item:name").input("T-shirt")
    at.text_input(key="collect:sale_item:price").input("12.50")
    at.button(key="collect:sale_add").click().run()
    at.radio(key="collect:how").set_value("link").run()
    at.button(key="collect:sale_checkout").click().run()
    assert not at.exception and not errors(at)
    # The customer opens the link, pays by a card that needs 3-D Secure and confirms with the bank.
    pay_by_card_on_hosted_page(api.http, at.code[0].value)
    fresh_sandbox.advance_clock(10)
    held = api.get("/v1/invoices/list").json()
    assert [(d["status"], float(d["total_amount"])) for d in held] == [("PAID", 12.5)]


def test_new_sale_made_here_then_collected(page: Page, console: Services, api: Api) -> None:
    at = open_collect(page)
    at.radio(key="collect:what").set_value("new").run()
    at.text_input(key="collect:customer:name").input("Musa Kollie")
    at.text_input(key="collect:customer:phone").input("231880001234")
    at.text_input(key="collect:sale_item:name").input("Tyres")
    at.text_input(key="collect:sale_item:price").input("0.001")
    at.button(key="collect:sale_add").click().run()
    assert "at most 2 decimal places" in errors(at)[0]
    at.text_input(key="collect:sale_item:price").input("40")
    at.button(key="collect:sale_add").click().run()
    at.button(key="collect:sale_create").click().run()
    assert not at.exception and not errors(at)

    held = api.get("/v1/invoices/list").json()
    assert [(d["status"], float(d["total_amount"])) for d in held] == [("ACTIVE", 40.0)]
    record = documents.record_by_number(console.engine, held[0]["invoice_number"])
    assert record is not None and at.selectbox(key="collect:document").value == record.id
    at.text_input(key="collect:wallet").input("231880005678").run()
    assert metric(at, "We receive") == "USD 40.00"
    assert "collect:confirm" in keys(at)


def test_attempt_state_survives_rerun_without_polling_when_final(
    page: Page, console: Services, invoice: DocumentRecord, fresh_sandbox: Sandbox
) -> None:
    at = choose(open_collect(page), invoice, "231880005678")
    at.button(key="collect:confirm").click().run()
    settle_and_rerun(at, console, fresh_sandbox)
    with Session(console.engine) as db:
        assert db.exec(select(Attempt)).one().local_state == AttemptState.COMPLETED
    before = fresh_sandbox.request_count
    at.run()
    assert fresh_sandbox.request_count == before  # a final payment is never asked about again


def test_invoices_page_hands_the_invoice_to_collect(
    app: Callable[..., AppTest], console: Services, invoice: DocumentRecord
) -> None:
    users.add_user(console.engine, email="finance@example.com", role=Role.FINANCE, password=PASSWORD)
    at = app()
    at.session_state["signed_in_email"] = "finance@example.com"
    at.session_state["last_active"] = time.time()
    at.run()
    at.switch_page("pages/invoices.py").run()
    at.selectbox(key="invoices:open").select(invoice.id).run()
    at.button(key="invoices:collect").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value == "Collect a payment"
    assert at.selectbox(key="collect:document").value == invoice.id
    assert at.query_params["number"] == invoice.number  # a browser refresh reopens it
