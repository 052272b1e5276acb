"""Invoices that reach the customer: a PDF with the pay link and its QR code, by e-mail or SMS.

Only a published, unpaid invoice or order can be sent (there is nothing to pay otherwise). Every
copy sent — e-mailed, handed over as an SMS text, or downloaded as a PDF to send — is recorded on
the document (`DocumentCopy`) and in the audit trail. E-mail goes through the SMTP server in the
settings (`DOLLR_SMTP_*`).
"""

from __future__ import annotations

import io
import smtplib
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

import segno
from fpdf import FPDF
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError
from dollr_core.api.models import DocumentDetail
from dollr_core.basics import mail
from dollr_core.basics.access import Actor, Permission, require_any
from dollr_core.basics.enums import SourceStatus
from dollr_core.basics.money import money_text
from dollr_core.errors import InputRefused
from dollr_core.flows import documents
from dollr_core.ledger import audit
from dollr_core.ledger.tables import DocumentCopy, DocumentRecord
from dollr_core.reports.receipts import set_up_fonts
from dollr_core.services import Services

SENDABLE = (SourceStatus.ACTIVE.value, SourceStatus.PROCESSING.value)


class CannotSend(InputRefused):
    """The document cannot be sent as asked; the message says why in one sentence."""


class Channel:
    EMAIL = "EMAIL"
    SMS = "SMS"
    PDF = "PDF"


def _allowed(actor: Actor) -> None:
    require_any(actor, Permission.MANAGE_INVOICES, Permission.COLLECT)


def _payable(svc: Services, actor: Actor, record: DocumentRecord) -> tuple[DocumentDetail, str]:
    """The document fresh from Dollr and its pay link, or why it cannot be sent."""
    current = documents.detail(svc, actor, record.source_type, record.dollr_id)
    kind = "invoice" if record.source_type == "INVOICE" else "order"
    if str(current.status) not in SENDABLE:
        state = {"IDLE": "still a draft: publish it first", "PAID": "already paid", "CANCELED": "cancelled"}
        raise CannotSend(f"This {kind} is {state.get(str(current.status), str(current.status).lower())}.")
    if not record.as_payment_link:
        raise CannotSend(f"This {kind} was made without a payment link, so there is no link to send.")
    try:
        url = documents.pay_link(svc, actor, record)
    except DollrError as exc:
        raise CannotSend(f"Dollr gave no pay link for this {kind}: {exc.message}") from None
    return current, url


def qr_png(url: str) -> bytes:
    """The pay link as a QR code (PNG), big enough to scan from paper or a screen."""
    buffer = io.BytesIO()
    segno.make(url, error="m").save(buffer, kind="png", scale=8, border=4)
    return buffer.getvalue()


def _merchant_name(svc: Services) -> str:
    try:
        return svc.client.merchants.info(svc.settings.merchant_id, svc.settings.merchant_type).name
    except DollrError:
        return "Our company"


def invoice_pdf(svc: Services, actor: Actor, record: DocumentRecord, *, compress: bool = True) -> bytes:
    """The document as an A4 PDF: items, total, due date, the pay link and its QR code."""
    _allowed(actor)
    current, url = _payable(svc, actor, record)
    return _pdf(record, current, url, _merchant_name(svc), compress=compress)


def _pdf(
    record: DocumentRecord, current: DocumentDetail, url: str, merchant: str, *, compress: bool
) -> bytes:
    kind = "Invoice" if record.source_type == "INVOICE" else "Order"
    number = current.number or record.number or str(record.dollr_id)
    pdf = FPDF(format="A4")
    family, for_pdf = set_up_fonts(pdf)
    pdf.set_compression(compress)
    pdf.set_title(for_pdf(f"{kind} {number}"))
    pdf.add_page()
    width = pdf.epw
    pdf.set_font(family, "B", 16)
    pdf.cell(width, 9, for_pdf(merchant), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, "B", 13)
    pdf.cell(width, 8, for_pdf(f"{kind} {number}"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(family, size=10)
    pdf.cell(width, 6, for_pdf(f"For: {record.customer_name}"), new_x="LMARGIN", new_y="NEXT")
    if current.due_date:
        pdf.cell(width, 6, f"Due: {current.due_date.astimezone(UTC):%d %b %Y}", new_x="LMARGIN", new_y="NEXT")
    if current.note:
        pdf.multi_cell(width, 5, for_pdf(f"Note: {current.note}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(3)
    with pdf.table(col_widths=(50, 10, 20, 20), text_align=("LEFT", "RIGHT", "RIGHT", "RIGHT")) as table:
        header = table.row()
        for title in ("Item", "Qty", "Unit price", "Amount"):
            header.cell(title)
        for item in current.items:
            row = table.row()
            row.cell(for_pdf(item.name))
            row.cell(str(item.qty))
            row.cell(for_pdf(money_text(item.amount, current.currency)))
            row.cell(for_pdf(money_text(item.amount * item.qty, current.currency)))
    pdf.ln(2)
    pdf.set_font(family, "B", 12)
    total = money_text(current.total_amount, current.currency)
    pdf.cell(width, 8, for_pdf(f"Total: {total}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)
    pdf.set_font(family, size=10)
    pdf.cell(width, 6, "Pay by mobile money or card at:", new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 180)
    pdf.multi_cell(width, 5, for_pdf(url), link=url, new_x="LMARGIN", new_y="NEXT")
    pdf.set_text_color(0, 0, 0)
    pdf.image(io.BytesIO(qr_png(url)), w=45, h=45)
    pdf.set_font(family, "I", 8)
    pdf.cell(width, 5, "Scan the code with your phone's camera to open the payment page.")
    return bytes(pdf.output())


def sms_text(svc: Services, actor: Actor, record: DocumentRecord) -> str:
    """A ready-made SMS with the amount, the due date and the pay link (the person sends it)."""
    _allowed(actor)
    current, url = _payable(svc, actor, record)
    return compose_sms(record, url, due=current.due_date, merchant=_merchant_name(svc))


def compose_sms(record: DocumentRecord, url: str, *, due: datetime | None = None, merchant: str = "") -> str:
    """The SMS text from what the page already holds (no call to Dollr)."""
    kind = "Invoice" if record.source_type == "INVOICE" else "Order"
    when = f", due {due:%d %b %Y}" if due else ""
    sender = f" from {merchant}" if merchant else ""
    total = money_text(record.total_amount, record.currency)
    return f"{kind} {record.number}{sender}: {total}{when}. Pay here: {url}"


def record_copy(
    svc: Services,
    actor: Actor,
    record: DocumentRecord,
    channel: str,
    recipient: str = "",
    outcome: str = "sent",
) -> DocumentCopy:
    """A copy went to the customer (or was handed over to send): on the document and in the audit."""
    _allowed(actor)
    copy = DocumentCopy(
        document_id=record.id or 0,
        channel=channel,
        recipient=recipient[:254],
        sent_by=actor.email,
        outcome=outcome,
    )
    with Session(svc.engine) as db:
        db.add(copy)
        db.commit()
        db.refresh(copy)
    audit.record(
        svc.engine,
        actor.email,
        f"{record.source_type.lower()}_copy_{channel.lower()}",
        target=record.number or str(record.dollr_id),
        outcome=outcome[:16],
        detail=f"to {recipient}" if recipient else None,
    )
    return copy


def copies_of(svc: Services, record: DocumentRecord) -> list[DocumentCopy]:
    with Session(svc.engine) as db:
        return list(
            db.exec(
                select(DocumentCopy)
                .where(DocumentCopy.document_id == record.id)
                .order_by(col(DocumentCopy.id))
            ).all()
        )


def _address(text: str) -> str:
    value = text.strip()
    local, _, domain = value.partition("@")
    if not local or "." not in domain or " " in value or len(value) > 254:
        raise CannotSend(f"{value or 'The e-mail address'!r} is not an e-mail address.")
    return value


def email_document(
    svc: Services, actor: Actor, record: DocumentRecord, *, to: str, with_pdf: bool = True
) -> DocumentCopy:
    """E-mail the pay link (and the PDF) to the customer through the configured SMTP server."""
    _allowed(actor)
    address = _address(to)
    settings = svc.settings
    if not settings.smtp_host:
        raise CannotSend("E-mail is not set up: set DOLLR_SMTP_HOST (and DOLLR_SMTP_SENDER) first.")
    current, url = _payable(svc, actor, record)
    merchant = _merchant_name(svc)
    kind = "Invoice" if record.source_type == "INVOICE" else "Order"
    total = money_text(current.total_amount, current.currency)
    message = EmailMessage()
    message["From"] = settings.smtp_sender
    message["To"] = address
    message["Subject"] = f"{kind} {current.number} from {merchant}: {total}"
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid()
    due = f" It is due on {current.due_date:%d %b %Y}." if current.due_date else ""
    message.set_content(
        f"Hello {record.customer_name},\n\n{kind} {current.number} for {total} is ready.{due}\n\n"
        f"Pay by mobile money or card here:\n{url}\n\n{merchant}\n"
    )
    if with_pdf:
        message.add_attachment(
            _pdf(record, current, url, merchant, compress=True),
            maintype="application",
            subtype="pdf",
            filename=f"{kind.lower()}-{current.number}.pdf",
        )
    try:
        mail.send(settings, message)
    except (OSError, smtplib.SMTPException) as exc:
        record_copy(svc, actor, record, Channel.EMAIL, address, outcome="failed")
        raise CannotSend(f"The e-mail to {address} could not be sent: {exc}.") from None
    return record_copy(svc, actor, record, Channel.EMAIL, address)
