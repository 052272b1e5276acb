"""Payment status, through the page and through dollr_core.reports.status_lookup: by reference (ours or only
Dollr's), by invoice number, never mixing the payment's status with the invoice's."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlmodel import Session, select
from streamlit.testing.v1 import AppTest

from dollr_core.basics.access import Actor, Role
from dollr_core.ledger.tables import DocumentRecord
from dollr_core.payments.follow_up import refresh_payment
from dollr_core.reports import status_lookup
from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..conftest import make_services
from ..flows.helpers import collect, pay_out, settle
from .test_payout_page import table, texts

OPERATOR = Actor("olivia.operator@example.com", Role.OPERATOR)
FINANCE = Actor("fred.finance@example.com", Role.FINANCE)


def look_up(at: AppTest, text: str) -> AppTest:
    at.text_input(key="status_query").input(text)
    at.button(key="status_lookup").click()
    return at.run()


def metrics(block: Any) -> dict[str, str]:
    return {m.label: m.value for m in block.metric}


def test_completed_payout_by_reference(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    attempt = pay_out(console, OPERATOR, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    at = look_up(page("pages/status.py", role=Role.MANAGER).run(), attempt.reference_id)
    assert not at.exception
    assert metrics(at) == {"Payment status": "Completed", "Invoice / order status": "—"}
    assert "Completed: the money has moved." in texts(at)
    assert "payouts, transfers and refunds have none" in texts(at)
    assert table(at)["Recipient gets"] == "USD 25.00"
    assert table(at)["Kind"] == "Payout (money out)"

    asked = fresh_sandbox.request_count
    at.run()  # an idle rerun shows the last answer without asking Dollr
    at.run()
    assert fresh_sandbox.request_count == asked
    assert metrics(at)["Payment status"] == "Completed"


def test_processing_collection_from_a_link_explains_waiting(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    attempt = collect(console, FINANCE, uuid.uuid4().hex, wallet="231880000003")  # the slow test number
    fresh_sandbox.advance_clock(5)
    refresh_payment(console, attempt.reference_id, actor=FINANCE.email, force=True)

    at = page("pages/status.py", role=Role.OPERATOR)
    at.query_params["reference"] = attempt.reference_id
    at.run()
    assert not at.exception
    assert metrics(at) == {"Payment status": "Processing", "Invoice status": "Payment in progress"}
    said = texts(at)
    assert "the payer may need to approve it on their phone" in said
    assert "Waiting is safe: do not send it again." in said
    assert "A payment for it is in progress" in said

    asked = fresh_sandbox.request_count
    at.run()
    assert fresh_sandbox.request_count == asked  # the link is looked up once, not on every rerun


def test_invoice_number_shows_both_statuses_side_by_side(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    collect(console, FINANCE, uuid.uuid4().hex)
    settle(console, fresh_sandbox)
    with Session(console.engine) as db:
        number = db.exec(select(DocumentRecord.number)).one()
    assert number is not None

    at = look_up(page("pages/status.py", role=Role.FINANCE).run(), number.lower())
    assert not at.exception
    payment_column, document_column = at.columns[0], at.columns[1]
    assert metrics(payment_column) == {"Payment status": "Completed"}
    assert metrics(document_column) == {"Invoice status": "Paid"}
    assert "Paid in full." in texts(at)
    assert table(document_column)["Number"] == number

    linked = page("pages/status.py", role=Role.OPERATOR)  # as History links here
    linked.query_params["number"] = number
    linked.run()
    assert metrics(linked) == {"Payment status": "Completed", "Invoice status": "Paid"}


def test_reference_only_dollr_knows_is_found_by_asking_each_kind(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox, tmp_path: Path
) -> None:
    elsewhere = make_services(fresh_sandbox, f"sqlite:///{tmp_path}/elsewhere.db", str(tmp_path))
    try:
        attempt = pay_out(elsewhere, OPERATOR, uuid.uuid4().hex)
    finally:
        elsewhere.client.close()
        elsewhere.engine.dispose()

    found = status_lookup.lookup_reference(console, FINANCE, attempt.reference_id.upper())
    assert found.attempt is None and found.payment is not None
    assert found.payment.operation_type == "PAYOUT"
    assert found.payment.status in ("PENDING", "PROCESSING")

    at = look_up(page("pages/status.py", role=Role.ADMIN).run(), attempt.reference_id)
    assert metrics(at)["Payment status"] in ("Waiting to start", "Processing")


def test_unknown_reference_and_number_say_not_found(
    page: Callable[..., AppTest], console: Services, fresh_sandbox: Sandbox
) -> None:
    at = look_up(page("pages/status.py", role=Role.OPERATOR).run(), str(uuid.uuid4()))
    assert not at.exception
    assert "Not found: neither this console nor Dollr has a payment with this reference." in texts(at)
    assert not at.metric

    look_up(at, "INV-2099-99999")
    assert "Not found: no invoice or order has this number or id." in texts(at)

    look_up(at, "   ")
    assert "Enter a payment reference, an invoice or order number, a name, a phone or an amount." in texts(at)
    assert fresh_sandbox.executions() == []


def test_lookups_keep_the_two_statuses_apart_on_every_ledger(
    services: Services, fresh_sandbox: Sandbox
) -> None:
    """status_lookup directly, on SQLite and PostgreSQL: a declined payment leaves the invoice open."""
    failed = collect(services, FINANCE, uuid.uuid4().hex, wallet="231880000001")  # the payer declines
    settle(services, fresh_sandbox)

    by_reference = status_lookup.look_up(services, OPERATOR, failed.reference_id)
    assert isinstance(by_reference, status_lookup.ReferenceLookup)
    assert by_reference.payment is not None and by_reference.payment.status == "FAILED"
    assert by_reference.payment.reason is not None and "declined" in by_reference.payment.reason
    assert by_reference.document is not None and by_reference.document.status == "ACTIVE"

    number = by_reference.document.number
    assert number is not None
    by_number = status_lookup.look_up(services, OPERATOR, number)
    assert isinstance(by_number, status_lookup.DocumentLookup)
    assert by_number.document is not None and by_number.document.status == "ACTIVE"
    assert by_number.latest is not None and by_number.latest.status == "FAILED"
    assert [a.reference_id for a in by_number.attempts] == [failed.reference_id]
