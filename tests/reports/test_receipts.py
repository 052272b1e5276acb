"""Receipts assembled from a real sandbox payment; PDF and printable page; plain reasons otherwise."""

from __future__ import annotations

import io
import uuid
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest
from pypdf import PdfReader

from dollr_core.basics.access import AccessDenied, Actor, Role
from dollr_core.flows import documents
from dollr_core.flows.collect import NewCollection, collect_new_document
from dollr_core.flows.directory import Person
from dollr_core.reports import receipts
from dollr_core.reports.receipts import ReceiptUnavailable, ReceiptView
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.flows.helpers import collect, executions_by_reference, settle

FINANCE = Actor("fred@example.com", Role.FINANCE)
MANAGER = Actor("mia@example.com", Role.MANAGER)


@pytest.fixture
def paid(sqlite_services: Services, fresh_sandbox: Sandbox) -> tuple[ReceiptView, dict[str, object]]:
    order = NewCollection(
        customer=Person.checked("Amara <b>Kamara</b>", "231771234567", "amara@example.com", "LR"),
        currency="USD",
        items=[documents.LineItem("Strategy session", 2, Decimal("120.00"))],
        wallet_phone="231880005678",
        payer_currency="LRD",
        note="Thank you — see you soon",
    )
    attempt = collect_new_document(sqlite_services, FINANCE, uuid.uuid4().hex, order)
    settle(sqlite_services, fresh_sandbox)
    view = receipts.load_receipt(sqlite_services, MANAGER, attempt.source_number or "")
    assert isinstance(view, ReceiptView)
    return view, executions_by_reference(fresh_sandbox)[attempt.reference_id]


def test_receipt_holds_every_figure_of_the_payment(paid: tuple[ReceiptView, dict[str, object]]) -> None:
    view, executed = paid
    assert view.merchant.name == "Sandbox Trading Ltd"
    assert (view.customer.name, view.customer.email) == ("Amara <b>Kamara</b>", "amara@example.com")
    assert [(i.name, i.qty, i.unit_amount, i.total) for i in view.items] == [
        ("Strategy session", 2, Decimal("120.00"), Decimal("240.00"))
    ]
    assert view.total == Decimal("240.00")
    assert (view.payer_amount, view.payer_currency) == (executed["payer_amount"], "LRD")
    assert (view.payee_amount, view.payee_currency) == (executed["payee_amount"], "USD")
    assert (view.platform_fee, view.gateway_fee, view.fx_fee) == (
        executed["platform_fee"],
        executed["gateway_fee"],
        executed["fx_fee"],
    )
    assert (view.fx_rate, view.fx_currency_from, view.fx_currency_to) == (Decimal(190), "USD", "LRD")
    assert view.provider_transaction_id == executed["provider_transaction_id"]
    assert view.reference_id == executed["reference_id"]
    assert view.paid_at is not None and view.issued_at is not None
    assert view.receipt_url and "/_sandbox/receipts/" in view.receipt_url
    assert dict(view.lines())["Exchange rate"] == "1 USD = 190 LRD"


def test_pdf_and_printable_page(paid: tuple[ReceiptView, dict[str, object]]) -> None:
    view, executed = paid
    pdf = receipts.receipt_pdf(view)
    assert pdf.startswith(b"%PDF")
    printed = pdf_text(pdf)
    for text in (view.number, str(executed["provider_transaction_id"]), "Sandbox Trading Ltd", "LRD"):
        assert text in printed, text

    page = receipts.receipt_html(view)
    assert "Amara &lt;b&gt;Kamara&lt;/b&gt;" in page and "<b>Kamara" not in page  # typed text is never HTML
    assert view.number in page and "@media print" in page
    assert "Thank you — see you soon" in page


def pdf_text(pdf: bytes) -> str:
    """The text a PDF reader extracts (what a person can select, copy and search)."""
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


def test_pdf_prints_names_in_any_script(paid: tuple[ReceiptView, dict[str, object]]) -> None:
    view, _ = paid
    name = "Niyonsaba Émilienne 李"
    pdf = receipts.receipt_pdf(replace(view, customer=replace(view.customer, name=name), note="Ọmọ — ŵ"))
    printed = pdf_text(pdf)
    assert name in printed and "Ọmọ — ŵ" in printed
    assert "?" not in printed
    assert b"/FontFile2" in receipts.receipt_pdf(view, compress=False)  # the font travels with the file


def test_pdf_without_unicode_fonts_still_prints(
    paid: tuple[ReceiptView, dict[str, object]], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    view, _ = paid
    monkeypatch.setitem(receipts.UNICODE_FONT_FACES, "", tmp_path / "missing.ttf")
    named = replace(view, customer=replace(view.customer, name="Émilienne 李"))
    printed = pdf_text(receipts.receipt_pdf(named))
    assert "Émilienne ?" in printed and view.number in printed


def test_paid_receipt_is_fetched_once(
    sqlite_services: Services, fresh_sandbox: Sandbox, paid: tuple[ReceiptView, dict[str, object]]
) -> None:
    view, _ = paid
    calls = fresh_sandbox.request_count
    again = receipts.load_receipt(sqlite_services, FINANCE, view.number.lower())
    assert again == view
    assert fresh_sandbox.request_count == calls


def test_no_receipt_says_why(sqlite_services: Services, fresh_sandbox: Sandbox) -> None:
    declined = collect(sqlite_services, FINANCE, uuid.uuid4().hex, wallet="231880000001")
    settle(sqlite_services, fresh_sandbox)
    result = receipts.load_receipt(sqlite_services, MANAGER, declined.source_number or "")
    assert isinstance(result, ReceiptUnavailable)
    assert result.status == "ACTIVE"
    assert result.reason.startswith("Not paid yet: the last payment attempt failed (the payer declined")

    with pytest.raises(LookupError, match="No invoice or order"):
        receipts.load_receipt(sqlite_services, MANAGER, "INV-1999-00001")
    with pytest.raises(AccessDenied):
        receipts.load_receipt(sqlite_services, Actor("op@example.com", Role.OPERATOR), "INV-1999-00001")


def test_a_passing_failure_is_not_kept(sqlite_services: Services, fresh_sandbox: Sandbox) -> None:
    attempt = collect(sqlite_services, FINANCE, uuid.uuid4().hex)
    settle(sqlite_services, fresh_sandbox)
    fresh_sandbox.add_fault(path="/v1/merchants/merchant-info", count=10, status=500)
    first = receipts.load_receipt(sqlite_services, MANAGER, attempt.source_number or "")
    assert isinstance(first, ReceiptView)
    assert first.merchant.name == "—" and not first.complete  # shown without the letterhead
    fresh_sandbox.clear_faults()
    receipts._kept(sqlite_services).recent.clear()  # as if the few seconds had passed
    again = receipts.load_receipt(sqlite_services, MANAGER, attempt.source_number or "")
    assert isinstance(again, ReceiptView) and again.merchant.name == "Sandbox Trading Ltd"
