"""Receipts: what was paid for a document, by whom, to whom, with every fee, as Dollr recorded it.

A receipt exists once an invoice or order is PAID (contract §3.3); before that the console says
why there is none yet, in plain words. `ReceiptView.lines()` is the one list of figures the page,
the PDF and the printable page all show, so they can never disagree.

A PAID document never changes, so its receipt is kept for the life of the process; the answer
"not paid yet" is kept a few seconds only, so a page rerun costs no call to Dollr.
"""

from __future__ import annotations

import html
import logging
import threading
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from fpdf import FPDF

from dollr_core.api.caches import TTLCache
from dollr_core.api.client import DollrClient
from dollr_core.api.errors import DollrError
from dollr_core.api.models import DocumentDetail, MerchantInfo, Receipt
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import MerchantType, SourceStatus, SourceType
from dollr_core.basics.money import money_text
from dollr_core.basics.words import provider_name, short_reference, time_said
from dollr_core.errors import NotFound
from dollr_core.explain import FX_FEE, GATEWAY_FEE, NETWORK_TRANSACTION_ID, PLATFORM_FEE, failure_reason
from dollr_core.flows import documents
from dollr_core.flows.collect import latest_collection
from dollr_core.flows.directory import customer_for_counterparty
from dollr_core.ledger.tables import AttemptState, DocumentRecord
from dollr_core.reports.predictor import method_name
from dollr_core.services import Services

logger = logging.getLogger(__name__)

__all__ = [
    "Contact",
    "ReceiptLine",
    "ReceiptUnavailable",
    "ReceiptView",
    "load_receipt",
    "receipt_for",
    "receipt_html",
    "receipt_pdf",
]

#: Who "we" are to Dollr's merchant-info endpoint (M1). Settings has no such entry yet; the sandbox
#: merchant is 1 / ORGANIZATION.

UNKNOWN = "—"
#: How long "no receipt yet" is remembered: long enough for reruns, short enough to see a payment land.
UNAVAILABLE_TTL = 15.0
#: Receipts of PAID documents kept per process (they never change).
MAX_KEPT = 1000


@dataclass(frozen=True)
class Contact:
    name: str
    phone: str | None = None
    email: str | None = None


@dataclass(frozen=True)
class ReceiptLine:
    name: str
    qty: int
    unit_amount: Decimal | None
    currency: str

    @property
    def total(self) -> Decimal | None:
        return self.unit_amount * self.qty if self.unit_amount is not None else None


@dataclass(frozen=True)
class ReceiptView:
    """A receipt, assembled from the receipt itself, the document and the merchant's details."""

    source_type: str
    number: str
    merchant: Contact
    customer: Contact
    items: list[ReceiptLine]
    currency: str
    total: Decimal | None
    payer_amount: Decimal | None
    payer_currency: str | None
    payee_amount: Decimal | None
    payee_currency: str | None
    platform_fee: Decimal | None
    gateway_fee: Decimal | None
    fx_fee: Decimal | None
    fee_currency: str | None
    fee_bearer: str | None
    fx_rate: Decimal | None
    fx_currency_from: str | None
    fx_currency_to: str | None
    provider: str | None
    payment_method: str | None
    provider_transaction_id: str | None
    reference_id: str | None
    issued_at: datetime | None
    due_date: datetime | None
    paid_at: datetime | None
    note: str
    #: The customer's own copy on Dollr's site (None when Dollr would not give one).
    receipt_url: str | None
    #: The company's time zone: the receipt's times are in it.
    time_zone: str = "UTC"

    @property
    def complete(self) -> bool:
        """Everything was fetched (a passing failure left no gap), so it may be kept for good."""
        return UNKNOWN not in (self.merchant.name, self.customer.name)

    @property
    def kind(self) -> str:
        return "invoice" if self.source_type == SourceType.INVOICE else "order"

    @property
    def title(self) -> str:
        return f"Receipt for {self.kind} {self.number}"

    def lines(self, *, short_references: bool = False) -> list[tuple[str, str]]:
        """Every figure of the payment, labelled, in the order a person reads them; on a screen
        (`short_references`) the reference is shown short and the page offers the whole one."""
        fee_currency = self.fee_currency or self.currency
        rows = [
            (f"{self.kind.capitalize()} number", self.number),
            ("Total billed", _money(self.total, self.currency)),
            ("Customer paid", _money(self.payer_amount, self.payer_currency)),
            ("We received", _money(self.payee_amount, self.payee_currency)),
            (PLATFORM_FEE, _money(self.platform_fee, fee_currency)),
            (GATEWAY_FEE, _money(self.gateway_fee, fee_currency)),
            (FX_FEE, _money(self.fx_fee, fee_currency) if self.fx_fee else "none"),
            ("Fees paid by", _bearer(self.fee_bearer)),
            ("Exchange rate", self.fx_text),
            ("Paid with", self.paid_with),
            (NETWORK_TRANSACTION_ID, self.provider_transaction_id or "—"),
            (
                "Payment reference",
                short_reference(self.reference_id) if short_references else self.reference_id or "—",
            ),
            ("Issued", time_said(self.issued_at, self.time_zone)),
            ("Due", time_said(self.due_date, self.time_zone)),
            ("Paid", time_said(self.paid_at, self.time_zone)),
        ]
        return rows

    @property
    def paid_with(self) -> str:
        if not self.payment_method:
            return provider_name(self.provider)
        return method_name(self.payment_method)

    @property
    def fx_text(self) -> str:
        source, target = self.fx_currency_from, self.fx_currency_to
        if self.fx_rate is None or not source or not target or source == target:
            return f"no exchange ({source or self.currency} paid in {target or source or self.currency})"
        return f"1 {source} = {self.fx_rate.normalize():f} {target}"


@dataclass(frozen=True)
class ReceiptUnavailable:
    """There is no receipt (yet): `reason` says why in plain words."""

    source_type: str
    number: str
    status: str
    reason: str


def _money(amount: Decimal | None, currency: str | None) -> str:
    return money_text(amount, currency) or "—"


def _bearer(value: str | None) -> str:
    return {"PAYER": "the customer", "PAYEE": "us (deducted from what we received)"}.get(
        value or "", value or "—"
    )


# --------------------------------------------------------------------------- finding and caching


class _Kept:
    """One Dollr client's receipts: PAID ones for good, "not yet" answers for a few seconds."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.paid: dict[tuple[object, ...], ReceiptView] = {}
        self.recent: TTLCache[tuple[object, ...], ReceiptView | ReceiptUnavailable] = TTLCache(
            UNAVAILABLE_TTL
        )
        self.merchants: TTLCache[tuple[int, str], MerchantInfo] = TTLCache(3600.0)


#: Keyed by the client, so each Dollr account (and each test's fresh services) has its own.
_KEPT: weakref.WeakKeyDictionary[DollrClient, _Kept] = weakref.WeakKeyDictionary()
_KEPT_LOCK = threading.Lock()


def _kept(svc: Services) -> _Kept:
    with _KEPT_LOCK:
        kept = _KEPT.get(svc.client)
        if kept is None:
            kept = _KEPT[svc.client] = _Kept()
        return kept


def load_receipt(
    svc: Services,
    actor: Actor,
    text: str,
) -> ReceiptView | ReceiptUnavailable:
    """The receipt of the invoice or order with this number (INV-…/ORD-…) or Dollr id."""
    require(actor, Permission.VIEW_RECEIPTS)
    record = documents.find_document(svc, actor, text)
    if record is None:
        raise NotFound(f"No invoice or order was found for {text.strip()!r}; check the number.")
    return receipt_for(svc, actor, record)


def receipt_for(
    svc: Services,
    actor: Actor,
    record: DocumentRecord,
) -> ReceiptView | ReceiptUnavailable:
    require(actor, Permission.VIEW_RECEIPTS)
    merchant_id, merchant_type = svc.settings.merchant_id, svc.settings.merchant_type
    kept = _kept(svc)
    key: tuple[object, ...] = (record.source_type, record.dollr_id, merchant_id, str(merchant_type))
    with kept.lock:
        view = kept.paid.get(key)
    if view is not None:
        return view
    result = kept.recent.get_or_compute(
        key, lambda: _fetch(svc, actor, record, kept, merchant_id, MerchantType(merchant_type))
    )
    if isinstance(result, ReceiptView) and result.complete:
        with kept.lock:
            if len(kept.paid) >= MAX_KEPT:
                kept.paid.clear()
            kept.paid[key] = result
    return result


def _fetch(
    svc: Services,
    actor: Actor,
    record: DocumentRecord,
    kept: _Kept,
    merchant_id: int,
    merchant_type: MerchantType,
) -> ReceiptView | ReceiptUnavailable:
    current = documents.detail(svc, actor, record.source_type, record.dollr_id)
    number = current.number or record.number or str(record.dollr_id)
    if current.status != SourceStatus.PAID:
        return ReceiptUnavailable(
            record.source_type, number, str(current.status), _why_not(svc, record, str(current.status))
        )
    receipt = documents.receipt(svc, actor, record)
    try:
        merchant: MerchantInfo | None = kept.merchants.get_or_compute(
            (merchant_id, merchant_type.value), lambda: svc.client.merchants.info(merchant_id, merchant_type)
        )
    except DollrError:  # the receipt is still worth showing without our letterhead (not kept)
        merchant = None
    url = _receipt_url(svc, record.source_type, number)
    return _assemble(current, _customer(svc, current), receipt, merchant, url, svc.settings.time_zone)


def _receipt_url(svc: Services, source_type: str, number: str) -> str | None:
    try:
        return svc.client.links.receipt(SourceType(source_type), number).url
    except DollrError:  # e.g. links restricted during onboarding (403)
        return None


def _why_not(svc: Services, record: DocumentRecord, status: str) -> str:
    kind = "invoice" if record.source_type == SourceType.INVOICE else "order"
    if status == SourceStatus.PROCESSING:
        return (
            "Not paid yet: the payment is still processing. The receipt appears here as soon as"
            " the customer's payment completes."
        )
    if status == SourceStatus.CANCELED:
        return f"There is no receipt: this {kind} was cancelled, so it can no longer be paid."
    if status == SourceStatus.IDLE:
        return f"Not available: this {kind} is still a draft; publish it and collect the payment first."
    if status == SourceStatus.ACTIVE:
        last = latest_collection(svc, record)
        if last is not None and last.local_state == AttemptState.FAILED:
            return (
                f"Not paid yet: the last payment attempt failed ({failure_reason(last)})."
                " The customer can try again."
            )
        return f"Not paid yet: the customer has not paid this {kind}."
    return f"No receipt: this {kind} is {status.lower()}."


def _customer(svc: Services, current: DocumentDetail) -> Contact:
    """The customer: Dollr's embedded party, else the people we stored, else Dollr's counterparty."""
    party = current.counterparty.party if current.counterparty else None
    if party is None and current.counterparty_id is not None:
        known = customer_for_counterparty(svc.engine, current.counterparty_id)
        if known is not None:
            return Contact(known.fullname, known.phone, known.email)
        try:
            party = svc.client.counterparties.retrieve(current.counterparty_id).party
        except DollrError:
            party = None
    if party is None:
        return Contact(UNKNOWN)
    return Contact(party.fullname, party.phone, party.email)


def _assemble(
    current: DocumentDetail,
    customer: Contact,
    receipt: Receipt,
    merchant: MerchantInfo | None,
    url: str | None,
    time_zone: str,
) -> ReceiptView:
    currency = receipt.currency or current.currency
    if receipt.items:
        items = [
            ReceiptLine(i.name or "—", i.qty or 1, i.amount, i.currency or currency) for i in receipt.items
        ]
    else:  # receipt shapes are undocumented: fall back to the document's own items
        items = [ReceiptLine(i.name, i.qty, i.amount, i.currency or currency) for i in current.items]
    return ReceiptView(
        source_type=str(current.source_type),
        number=receipt.number or current.number,
        merchant=Contact(merchant.name, merchant.phone, merchant.email) if merchant else Contact(UNKNOWN),
        customer=customer,
        items=items,
        currency=currency,
        total=receipt.total_amount if receipt.total_amount is not None else current.total_amount,
        payer_amount=receipt.payer_amount,
        payer_currency=receipt.payer_currency,
        payee_amount=receipt.payee_amount,
        payee_currency=receipt.payee_currency,
        platform_fee=receipt.platform_fee,
        gateway_fee=receipt.gateway_fee,
        fx_fee=receipt.fx_fee,
        fee_currency=receipt.fee_currency or receipt.payee_currency or currency,
        fee_bearer=str(receipt.fee_bearer or current.fee_bearer or "") or None,
        fx_rate=receipt.fx_rate,
        fx_currency_from=receipt.fx_currency_from,
        fx_currency_to=receipt.fx_currency_to,
        provider=str(receipt.provider) if receipt.provider else None,
        payment_method=str(receipt.payment_method) if receipt.payment_method else None,
        provider_transaction_id=receipt.provider_transaction_id,
        reference_id=receipt.reference_id,
        issued_at=current.created_at,
        due_date=current.due_date,
        paid_at=receipt.paid_at or current.paid_at,
        note=current.note or "",
        receipt_url=url,
        time_zone=time_zone,
    )


# --------------------------------------------------------------------------- PDF and printable page


_PDF_SWAPS = {
    ord(k): v for k, v in {"—": "-", "–": "-", "•": "*", "’": "'", "“": '"', "”": '"', "…": "..."}.items()
}


def _latin1(text: str) -> str:
    """The PDF's built-in fonts know Latin-1 only: swap common punctuation, replace the rest."""
    swapped = text.translate(_PDF_SWAPS)
    return swapped.encode("latin-1", "replace").decode("latin-1")


#: Unicode fonts embedded in receipts (Debian's fonts-dejavu-core, and fonts-droid-fallback for
#: Chinese, Japanese and Korean names); `./dev` installs both.
UNICODE_FONT_FACES = {
    "": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"),
    "B": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
    "I": Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Oblique.ttf"),
}
FALLBACK_FONTS = (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)


def set_up_fonts(pdf: FPDF) -> tuple[str, Callable[[str], str]]:
    """The font family to write with, and how text must be prepared for it.

    Names are printed as typed ("Niyonsaba Émilienne 李") with the Unicode fonts; only when they
    are not installed does the receipt fall back to Helvetica, which shows `?` for what Latin-1 lacks.
    """
    regular = UNICODE_FONT_FACES[""]
    if not regular.is_file():
        logger.warning("No Unicode font at %s: receipts show non-Latin names as '?'", regular)
        return "Helvetica", _latin1
    for style, path in UNICODE_FONT_FACES.items():
        pdf.add_font("Receipt", style, str(path if path.is_file() else regular))
    fallbacks = []
    for number, path in enumerate(p for p in FALLBACK_FONTS if p.is_file()):
        fallbacks.append(f"Fallback{number}")
        pdf.add_font(fallbacks[-1], "", str(path))
    if fallbacks:
        pdf.set_fallback_fonts(fallbacks, exact_match=False)
    return "Receipt", str


def _contact_lines(contact: Contact) -> list[str]:
    return [x for x in (contact.name, contact.phone, contact.email) if x]


def receipt_pdf(view: ReceiptView, *, compress: bool = True) -> bytes:
    """The receipt as an A4 PDF (one page for any ordinary number of items)."""
    pdf = FPDF(format="A4")
    pdf.set_compression(compress)
    family, printable = set_up_fonts(pdf)
    pdf.set_title(view.title)
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.add_page()
    width = pdf.epw

    pdf.set_font(family, "B", 16)
    pdf.cell(width, 9, printable(view.merchant.name), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=9)
    for line in _contact_lines(view.merchant)[1:]:
        pdf.cell(width, 5, printable(line), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, "B", 13)
    pdf.cell(width, 8, printable(view.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    pdf.cell(
        width,
        6,
        printable("Customer: " + ", ".join(_contact_lines(view.customer))),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    if view.note:
        pdf.multi_cell(width, 5, printable(f"Note: {view.note}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)

    pdf.set_font(family, "B", 10)
    with pdf.table(col_widths=(50, 10, 20, 20), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        header = table.row()
        for title in ("Item", "Qty", "Unit price", "Amount"):
            header.cell(title)
        pdf.set_font(family, size=10)
        for item in view.items:
            row = table.row()
            row.cell(printable(item.name))
            row.cell(str(item.qty))
            row.cell(printable(_money(item.unit_amount, item.currency)))
            row.cell(printable(_money(item.total, item.currency)))
    pdf.ln(4)

    pdf.set_font(family, size=10)
    with pdf.table(col_widths=(40, 60), first_row_as_headings=False) as table:
        for label, value in view.lines():
            row = table.row()
            row.cell(printable(label))
            row.cell(printable(value))
    pdf.ln(4)
    pdf.set_font(family, "I", 8)
    printed = time_said(datetime.now(UTC), view.time_zone)
    pdf.multi_cell(width, 4, printable(f"Printed {printed} from the Dollr Ops Console."))
    return bytes(pdf.output())


_PRINT_CSS = """
body { font-family: Helvetica, Arial, sans-serif; color: #111; max-width: 720px; margin: 2em auto; }
h1 { font-size: 1.4em; margin-bottom: 0; } h2 { font-size: 1.15em; margin-top: 1.5em; }
table { border-collapse: collapse; width: 100%; margin-top: .5em; }
th, td { border-bottom: 1px solid #ccc; padding: .35em .5em; text-align: left; vertical-align: top; }
td.num, th.num { text-align: right; } .muted { color: #555; font-size: .9em; }
@media print { body { margin: 0; } a { color: inherit; text-decoration: none; } .no-print { display: none; } }
.no-print { font: inherit; padding: .4em 1.2em; cursor: pointer; }
"""
_PRINT_BUTTON = '<button class=no-print type=button onclick="window.print()">Print</button>'


def receipt_html(view: ReceiptView, *, print_button: bool = False) -> str:
    """A standalone, print-friendly HTML page of the receipt; every value is escaped.

    With ``print_button`` the page carries a Print button (hidden on paper) that prints just it."""

    def esc(text: object) -> str:
        return html.escape(str(text), quote=True)

    items = "".join(
        f"<tr><td>{esc(i.name)}</td><td class=num>{i.qty}</td>"
        f"<td class=num>{esc(_money(i.unit_amount, i.currency))}</td>"
        f"<td class=num>{esc(_money(i.total, i.currency))}</td></tr>"
        for i in view.items
    )
    figures = "".join(f"<tr><th>{esc(label)}</th><td>{esc(value)}</td></tr>" for label, value in view.lines())
    merchant = "<br>".join(esc(x) for x in _contact_lines(view.merchant)[1:])
    customer = "<br>".join(esc(x) for x in _contact_lines(view.customer))
    note = f"<p>{esc(view.note)}</p>" if view.note else ""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{esc(view.title)}</title>"
        f"<style>{_PRINT_CSS}</style></head><body>{_PRINT_BUTTON if print_button else ''}"
        f"<h1>{esc(view.merchant.name)}</h1><p class=muted>{merchant}</p>"
        f"<h2>{esc(view.title)}</h2><p><strong>Customer</strong><br>{customer}</p>{note}"
        "<table><tr><th>Item</th><th class=num>Qty</th>"
        "<th class=num>Unit price</th><th class=num>Amount</th></tr>"
        f"{items}</table><h2>Payment</h2><table>{figures}</table>"
        f"<p class=muted>Printed {esc(time_said(datetime.now(UTC), view.time_zone))}"
        " from the Dollr Ops Console.</p></body></html>"
    )


def summary_rows(view: ReceiptView) -> Sequence[tuple[str, str]]:
    """Merchant and customer as label/value pairs (for a plain table on screen)."""
    return [
        ("From", ", ".join(_contact_lines(view.merchant))),
        ("Customer", ", ".join(_contact_lines(view.customer))),
    ]
