"""Invoices & orders page: drafts, items, publish, cancel and the list, checked against the sandbox."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

from console.documents_ui import document_label
from dollr_core.basics.access import Actor, Role
from dollr_core.flows import documents
from dollr_core.flows.collect import confirm_collection, prepare_collection
from dollr_core.ledger import audit
from dollr_core.ledger.tables import DocumentRecord
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.sandbox.support import Api, pay_by_card_on_hosted_page

Page = Callable[..., AppTest]


@pytest.fixture
def api(fresh_sandbox: Sandbox) -> Iterator[Api]:
    """Raw, authenticated HTTP to the sandbox: what Dollr really holds, not what the console believes."""
    client = Api(fresh_sandbox.base_url)
    yield client
    client.close()


def invoices_on_dollr(api: Api) -> list[dict[str, Any]]:
    response = api.get("/v1/invoices/list")
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()
    return rows


def invoice_on_dollr(api: Api, dollr_id: int) -> dict[str, Any]:
    response = api.get(f"/v1/invoices/retrieve/{dollr_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


def open_invoices(page: Page, role: Role = Role.FINANCE) -> AppTest:
    at = page("pages/invoices.py", role=role).run()
    assert not at.exception, at.exception
    return at


def new_draft(
    at: AppTest, *, name: str = "Amara Kamara", phone: str = "231771234567", currency: str = "USD"
) -> AppTest:
    at.text_input(key="invoices:customer:name").input(name)
    at.text_input(key="invoices:customer:phone").input(phone)
    at.text_input(key="invoices:customer:email").input("amara@example.com")
    at.selectbox(key="invoices:customer:country").select("LR")
    at.selectbox(key="invoices:currency").select(currency)
    at.text_area(key="invoices:note").input("Consulting, June")
    at.button(key="invoices:create").click().run()
    assert not at.exception, at.exception
    return at


def add_item(at: AppTest, name: str, qty: int, price: str) -> AppTest:
    at.text_input(key="invoices:new_item:name").input(name)
    at.number_input(key="invoices:new_item:qty").set_value(qty)
    at.text_input(key="invoices:new_item:price").input(price)
    at.button(key="invoices:add_item").click().run()
    assert not at.exception, at.exception
    return at


def opened(console: Services, at: AppTest) -> DocumentRecord:
    record = documents.record_by_id(console.engine, at.session_state["invoices:open"])
    assert record is not None
    return record


def total(at: AppTest) -> str:
    return str(at.metric[0].value)


def listed_status(at: AppTest, number: str) -> str:
    table = at.dataframe[0].value
    row = table[table["Number"] == number]
    assert len(row) == 1, table
    return str(row["Status"].iloc[0])


def test_refused_without_permission(page: Page) -> None:
    at = open_invoices(page, Role.OPERATOR)
    assert "does not give access" in errors(at)[0]
    assert not at.button


def test_draft_items_publish_and_list(
    page: Page, console: Services, api: Api, fresh_sandbox: Sandbox
) -> None:
    at = new_draft(open_invoices(page))
    record = opened(console, at)
    assert record.number and record.number.startswith("INV-")
    assert "is open below" in at.success[0].value
    assert "Add the first one" in at.info[0].value

    add_item(at, "Strategy session", 1, "250.00")
    add_item(at, "Report", 2, "12.50")
    assert total(at) == "USD 275.00"
    assert [t.value for t in at.text if t.value.startswith(("1.", "2."))] == [
        "1. Strategy session",
        "2. Report",
    ]
    assert at.text_input(key="invoices:new_item:name").value == ""  # ready for the next line

    items = invoice_on_dollr(api, record.dollr_id)["invoice_items"]
    report = next(i for i in items if i["name"] == "Report")
    at.button(key=f"invoices:edit:{report['id']}").click().run()
    at.number_input(key=f"invoices:item:{report['id']}:qty").set_value(3)
    at.text_input(key=f"invoices:item:{report['id']}:price").input("15")
    at.button(key=f"invoices:save:{report['id']}").click().run()
    assert not at.exception and not errors(at)
    assert total(at) == "USD 295.00"

    strategy = next(i for i in items if i["name"] == "Strategy session")
    at.button(key=f"invoices:remove:{strategy['id']}").click().run()
    assert total(at) == "USD 45.00"
    held = invoice_on_dollr(api, record.dollr_id)
    assert [(i["name"], i["qty"], float(i["amount"])) for i in held["invoice_items"]] == [("Report", 3, 15.0)]

    at.button(key="invoices:publish").click().run()
    assert not at.exception and not errors(at)
    assert invoice_on_dollr(api, record.dollr_id)["status"] == "ACTIVE"
    assert listed_status(at, record.number) == "Waiting for payment"
    assert any("locked" in c.value for c in at.caption)
    assert not any(b.key == "invoices:add_item" for b in at.button)
    assert at.code[0].value.startswith("http")  # the payment link, ready to copy

    before = fresh_sandbox.request_count
    at.run()  # an idle rerun asks Dollr nothing: lists, items and link come from the ledger and session
    assert fresh_sandbox.request_count == before
    assert len(invoices_on_dollr(api)) == 1


@pytest.mark.parametrize(
    ("name", "phone", "said"),
    [
        ("Amara Kamara", "0771234567", "Start the phone number with its country code"),
        ("   ", "231771234567", "Enter the person's full name."),
    ],
)
def test_bad_customer_creates_nothing(page: Page, api: Api, name: str, phone: str, said: str) -> None:
    at = new_draft(open_invoices(page), name=name, phone=phone)
    assert said in errors(at)[0]
    assert not at.button(key="invoices:create").disabled  # the form stays, ready, with what was typed
    assert at.text_input(key="invoices:customer:phone").value == phone
    assert api.get("/v1/parties/list").json() == []
    assert invoices_on_dollr(api) == []


@pytest.mark.parametrize(
    ("currency", "price", "said"),
    [
        ("USD", "0.001", "USD amounts can have at most 2 decimal places."),
        ("RWF", "1.5", "RWF amounts must be whole"),
    ],
)
def test_bad_amount_adds_nothing(
    page: Page, console: Services, api: Api, currency: str, price: str, said: str
) -> None:
    at = new_draft(open_invoices(page), currency=currency, phone="250781234567")
    record = opened(console, at)
    add_item(at, "Consulting", 1, price)
    assert said in errors(at)[0]
    assert at.text_input(key="invoices:new_item:price").value == price  # kept so it can be corrected
    assert invoice_on_dollr(api, record.dollr_id)["invoice_items"] == []


def test_lost_answer_then_second_click_makes_one_draft(page: Page, fresh_sandbox: Sandbox, api: Api) -> None:
    fresh_sandbox.add_fault("/v1/invoices/create", action="drop_response")
    at = new_draft(open_invoices(page))
    assert "could not be reached" in errors(at)[0]
    at.button(key="invoices:create").click().run()  # the same draft key: found on Dollr, not made again
    assert not errors(at)
    assert len(invoices_on_dollr(api)) == 1


def test_cancel_a_draft_after_confirming(page: Page, console: Services, api: Api) -> None:
    at = new_draft(open_invoices(page))
    record = opened(console, at)
    at.button(key="invoices:cancel").click().run()
    assert "cannot be undone" in at.warning[0].value
    at.button(key="invoices:cancel_no").click().run()
    assert invoice_on_dollr(api, record.dollr_id)["status"] == "IDLE"
    at.button(key="invoices:cancel").click().run()
    at.button(key="invoices:cancel_yes").click().run()
    assert not errors(at)
    assert invoice_on_dollr(api, record.dollr_id)["status"] == "CANCELED"
    said = f"{record.number} is cancelled: the customer can no longer pay it."
    assert [t.value for t in at.toast] == [said]
    assert listed_status(at, record.number or "") == "Cancelled"
    assert not any(b.key in ("invoices:publish", "invoices:cancel") for b in at.button)
    [trail] = audit.search(console.engine, audit.AuditFilter(action="invoice_canceled"))
    assert trail.target == record.number and trail.actor == "finance@example.com"


def test_cancel_refused_while_a_payment_is_in_progress(
    page: Page, console: Services, api: Api, finance: Actor
) -> None:
    at = new_draft(open_invoices(page))
    add_item(at, "Strategy session", 1, "250")
    at.button(key="invoices:publish").click().run()
    record = opened(console, at)
    prepare_collection(console, finance, "slow-payer", record=record, phone="231880000003")
    confirm_collection(console, finance, "slow-payer")  # the wallet takes minutes to approve

    at.button(key="invoices:cancel").click().run()
    at.button(key="invoices:cancel_yes").click().run()
    assert "in progress" in errors(at)[0]
    [published] = audit.search(console.engine, audit.AuditFilter(action="invoice_published"))
    assert published.target == record.number
    assert audit.search(console.engine, audit.AuditFilter(action="invoice_canceled")) == []
    assert "cannot be cancelled until its outcome is known" in at.info[0].value
    assert not any(b.key == "invoices:cancel" for b in at.button)
    assert invoice_on_dollr(api, record.dollr_id)["status"] == "PROCESSING"


def test_order_for_a_saved_customer(page: Page, console: Services, api: Api) -> None:
    new_draft(open_invoices(page), name="Musa Kollie", phone="231880001234")
    at = open_invoices(page)  # another person, later: the customer is saved now
    assert at.radio(key="invoices:customer:mode").value == "saved"
    at.text_input(key="invoices:customer:search").input("musa").run()
    saved = at.selectbox(key="invoices:customer:saved")
    assert saved.options == ["Musa Kollie · 231880001234"]
    saved.select_index(0)
    at.radio(key="invoices:kind").set_value("ORDER")
    at.button(key="invoices:create").click().run()
    assert not errors(at)
    record = opened(console, at)
    assert record.source_type == "ORDER" and record.customer_name == "Musa Kollie"
    assert len(api.get("/v1/parties/list").json()) == 1  # the same customer, not a second one


def test_check_with_dollr_shows_a_payment_made_elsewhere(
    page: Page, console: Services, api: Api, finance: Actor, fresh_sandbox: Sandbox
) -> None:
    at = new_draft(open_invoices(page))
    add_item(at, "Strategy session", 1, "250")
    at.button(key="invoices:publish").click().run()
    record = opened(console, at)
    token = at.code[0].value.rstrip("/").rsplit("/", 1)[-1]
    fresh_sandbox.pay_hosted(token, account_number="231880005678")  # the customer pays on Dollr's page
    fresh_sandbox.advance_clock(10)
    assert listed_status(at.run(), record.number or "") == "Waiting for payment"  # not asked yet
    at.button(key="invoices:refresh").click().run()
    assert not at.exception and not errors(at)
    assert "Paid" in at.dataframe[1].value.iloc[0, 1]
    assert listed_status(at, record.number or "") == "Paid"
    assert "invoices:receipt" in {b.key for b in at.button}
    assert invoice_on_dollr(api, record.dollr_id)["status"] == "PAID"


def test_a_card_payment_with_3ds_on_dollrs_page_shows_as_paid(
    page: Page, console: Services, api: Api, fresh_sandbox: Sandbox
) -> None:
    at = new_draft(open_invoices(page))
    add_item(at, "Strategy session", 1, "250")
    at.button(key="invoices:publish").click().run()
    record = opened(console, at)
    pay_by_card_on_hosted_page(api.http, at.code[0].value)  # the customer, their card and their bank
    fresh_sandbox.advance_clock(10)
    at.button(key="invoices:refresh").click().run()
    assert not at.exception and not errors(at)
    assert listed_status(at, record.number or "") == "Paid"
    assert invoice_on_dollr(api, record.dollr_id)["status"] == "PAID"
    assert [row["payment_method"] for row in api.executions()] == ["CREDIT_CARD"]


def test_a_link_opens_the_document(page: Page, console: Services) -> None:
    at = new_draft(open_invoices(page))
    number = opened(console, at).number or ""
    linked = page("pages/invoices.py", role=Role.FINANCE)
    linked.query_params["number"] = number
    linked.run()
    assert linked.subheader[0].value == f"Invoice {number}"


def test_picker_labels_survive_changes_to_the_document() -> None:
    """The browser sends the chosen label back: a label that changed would drop the open document."""
    record = DocumentRecord(
        source_type="INVOICE",
        dollr_id=7,
        number="INV-2026-00007",
        status="IDLE",
        currency="USD",
        fee_bearer="PAYER",
        customer_name="Amara Kamara",
    )
    before = document_label(record)
    record.status, record.total_amount = "PAID", Decimal("275.00")
    assert document_label(record) == before == "INV-2026-00007 · Amara Kamara"
