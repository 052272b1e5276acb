"""Receipts for every kind of payment: payouts, refunds and transfers as well as collections.

Dollr issues receipts for paid invoices and orders only (`receipts`); for the rest the ledger
holds everything a receipt states: who, how much, every fee, the mobile network's transaction id and
the payment reference. `PaymentReceipt.lines()` is the one list of figures the page and the PDF
show. `browse` lists completed payments to pick a receipt from, searched like the History page.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from fpdf import FPDF
from sqlmodel import Session, select

from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.money import money_text
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.words import short_reference, time_said
from dollr_core.errors import NotFound
from dollr_core.explain import FX_FEE, GATEWAY_FEE, NETWORK_TRANSACTION_ID, PLATFORM_FEE
from dollr_core.ledger.intents import find_attempt
from dollr_core.ledger.tables import Attempt, AttemptState, Intent, PaymentDetail
from dollr_core.reports import history
from dollr_core.reports.history import HistoryFilter, HistoryRow, Outcome, operation_name
from dollr_core.reports.predictor import method_name
from dollr_core.reports.receipts import set_up_fonts
from dollr_core.reports.statements import movement
from dollr_core.services import Services

#: What the other side of each kind of payment is called on its receipt.
_COUNTERPART = {
    "COLLECTION": "Customer",
    "PAYOUT": "Recipient",
    "TRANSFER": "Recipient",
    "REFUND": "Refunded to",
}


class NoReceipt(NotFound):
    """There is no receipt for this reference; the message says why."""


@dataclass(frozen=True)
class PaymentReceipt:
    operation: str
    reference_id: str
    party_name: str
    phone: str
    method: str | None
    currency: str
    amount: Decimal  # what reached the other side (money out) or what the customer paid us (in)
    platform_fee: Decimal
    gateway_fee: Decimal
    fx_fee: Decimal
    balance_change: Decimal
    provider_transaction_id: str | None
    document_number: str | None
    made_by: str
    completed_at: datetime
    note: str
    refund_of: str | None
    approved_by: str | None
    #: The company's time zone: the receipt's times are in it.
    time_zone: str = "UTC"

    @property
    def title(self) -> str:
        kind = operation_name(self.operation).split(" (")[0].lower()
        return f"Receipt: {kind} {short_reference(self.reference_id)}"

    def lines(self, *, short_references: bool = False) -> list[tuple[str, str]]:
        """Every figure, labelled; on a screen (`short_references`) the references are shown short
        and the page offers the whole one to copy, a PDF prints them whole."""
        shown = short_reference if short_references else str
        cur = self.currency
        rows = [
            ("Type", operation_name(self.operation)),
            (_COUNTERPART.get(self.operation, "Other side"), self.party_name or "—"),
            ("Phone", mask_phone(self.phone) if self.phone else "—"),
            ("Paid with", method_name(self.method)),
            ("Amount", money_text(self.amount, cur)),
            (PLATFORM_FEE, money_text(self.platform_fee, cur)),
            (GATEWAY_FEE, money_text(self.gateway_fee, cur)),
            (FX_FEE, money_text(self.fx_fee, cur) if self.fx_fee else "none"),
            ("Our balance changed by", money_text(self.balance_change, cur)),
            ("Document", self.document_number or "—"),
            (NETWORK_TRANSACTION_ID, self.provider_transaction_id or "—"),
            ("Payment reference", shown(self.reference_id)),
            ("Made by", self.made_by or "—"),
            ("Completed", time_said(self.completed_at, self.time_zone)),
        ]
        if self.refund_of:
            rows.append(("Refund of payment", shown(self.refund_of)))
        if self.note:
            rows.append(("Reason" if self.operation == "REFUND" else "Note", self.note))
        if self.approved_by:
            rows.append(("Approved by", self.approved_by))
        return rows


def payment_receipt(svc: Services, actor: Actor, reference_id: str) -> PaymentReceipt:
    require(actor, Permission.VIEW_RECEIPTS)
    attempt = find_attempt(svc.engine, reference_id.strip())
    if attempt is None:
        raise NoReceipt(f"No payment has the reference {reference_id.strip()!r}.")
    if attempt.local_state != AttemptState.COMPLETED:
        raise NoReceipt("This payment has not completed, so there is no receipt for it.")
    return _receipt(svc, attempt)


def _receipt(svc: Services, attempt: Attempt) -> PaymentReceipt:
    with Session(svc.engine) as db:
        intent = db.get(Intent, attempt.intent_id)
        detail = db.exec(select(PaymentDetail).where(PaymentDetail.intent_id == attempt.intent_id)).first()
    line = movement(attempt, detail)
    moved = attempt.payee_currency if attempt.op.value == "COLLECTION" else attempt.settled_payer_currency
    return PaymentReceipt(
        operation=attempt.operation_type,
        reference_id=attempt.reference_id,
        party_name=attempt.party_name,
        phone=attempt.phone,
        method=attempt.method,
        currency=moved or attempt.currency,
        amount=line.amount,
        platform_fee=line.platform_fee,
        gateway_fee=line.gateway_fee,
        fx_fee=line.fx_fee,
        balance_change=line.net,
        provider_transaction_id=attempt.provider_transaction_id,
        document_number=attempt.source_number,
        made_by=attempt.operator,
        completed_at=attempt.final_at or attempt.created_at,
        note=(intent.note if intent else "") or "",
        refund_of=detail.refund_of if detail else None,
        approved_by=intent.decided_by if intent and intent.needs_approval else None,
        time_zone=svc.settings.time_zone,
    )


def browse(
    svc: Services, actor: Actor, text: str = "", *, operations: tuple[str, ...] = (), limit: int = 100
) -> list[HistoryRow]:
    """Completed payments, newest first, searched by name, phone, reference, document or operator id."""
    require(actor, Permission.VIEW_RECEIPTS)
    flt = HistoryFilter(outcomes=(Outcome.COMPLETED,), text=text, operations=operations)
    return history.query_newest(svc.engine, flt, limit)  # no count: the page shows none


def payment_receipt_pdf(view: PaymentReceipt, *, compress: bool = True) -> bytes:
    pdf = FPDF(format="A4")
    family, for_pdf = set_up_fonts(pdf)
    pdf.set_compression(compress)
    pdf.set_title(for_pdf(view.title))
    pdf.add_page()
    pdf.set_font(family, "B", 14)
    pdf.cell(pdf.epw, 9, for_pdf(view.title), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    pdf.set_font(family, size=10)
    with pdf.table(col_widths=(40, 60), first_row_as_headings=False) as table:
        for label, value in view.lines():
            row = table.row()
            row.cell(for_pdf(label))
            row.cell(for_pdf(value))
    pdf.ln(4)
    pdf.set_font(family, "I", 8)
    printed = time_said(datetime.now(UTC), view.time_zone)
    pdf.multi_cell(pdf.epw, 4, for_pdf(f"Printed {printed} from the Dollr Ops Console."))
    return bytes(pdf.output())
