"""Issue 18 part 9: an invoice PDF carries its pay link and QR code; an e-mailed copy reaches a
real SMTP server on loopback; every copy is recorded on the document and in the audit trail."""

from __future__ import annotations

import email
import io
import socket
from collections.abc import Iterator
from email.message import EmailMessage
from email.policy import default as default_policy
from pathlib import Path
from typing import Any

import pytest
import zxingcpp
from aiosmtpd.controller import Controller
from pypdf import PdfReader
from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.flows import documents
from dollr_core.ledger.tables import AuditRecord
from dollr_core.reports import document_copies
from dollr_core.reports.document_copies import CannotSend
from dollr_core.services import Services
from dollr_sandbox import Sandbox
from tests.conftest import make_services
from tests.flows.test_books_following import published


class Inbox:
    """An SMTP server's handler: keeps every message it is given."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(
        self, server: Any, session: Any, envelope: Any
    ) -> str:  # aiosmtpd calls it by this name
        parsed = email.message_from_bytes(envelope.content, policy=default_policy)
        assert isinstance(parsed, EmailMessage)
        self.messages.append(parsed)
        return "250 Message accepted for delivery"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mailing(
    fresh_sandbox: Sandbox, ledger_url: str, tmp_path: Path, smtp_server: tuple[Inbox, int]
) -> Iterator[Services]:
    svc = make_services(
        fresh_sandbox,
        ledger_url,
        str(tmp_path),
        smtp_host="127.0.0.1",
        smtp_port=smtp_server[1],
        smtp_sender="billing@company.example",
        smtp_starttls=False,  # the test's server speaks plain SMTP on loopback
    )
    yield svc
    svc.client.close()
    svc.engine.dispose()


def pdf_text_and_codes(data: bytes) -> tuple[str, list[str]]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)
    codes = [
        result.text
        for page in reader.pages
        for image in page.images
        for result in zxingcpp.read_barcodes(image.image)
    ]
    return text, codes


def test_invoice_pdf_carries_the_pay_link_and_its_qr_code(services: Services, finance: Actor) -> None:
    record = published(services, finance, "copy-pdf")
    url = documents.pay_link(services, finance, record)
    text, codes = pdf_text_and_codes(document_copies.invoice_pdf(services, finance, record))
    assert url in text.replace("\n", "")
    assert codes == [url]
    assert record.number in text and "Strategy session" in text and "USD 250.00" in text


def test_emailed_invoice_reaches_the_smtp_server_and_is_recorded(
    mailing: Services, smtp_server: tuple[Inbox, int], finance: Actor
) -> None:
    inbox = smtp_server[0]
    record = published(mailing, finance, "copy-mail")
    url = documents.pay_link(mailing, finance, record)
    document_copies.email_document(mailing, finance, record, to="amara@example.com")
    assert len(inbox.messages) == 1
    message = inbox.messages[0]
    assert message["To"] == "amara@example.com" and record.number in str(message["Subject"])
    body = message.get_body(preferencelist=("plain",))
    assert body is not None and url in body.get_content()
    attachment = next(iter(message.iter_attachments()))
    _, codes = pdf_text_and_codes(attachment.get_content())
    assert codes == [url]

    sms = document_copies.sms_text(mailing, finance, record)
    assert url in sms and "USD 250.00" in sms
    document_copies.record_copy(mailing, finance, record, document_copies.Channel.SMS, "231771234567")
    copies = document_copies.copies_of(mailing, record)
    assert [(c.channel, c.recipient, c.sent_by) for c in copies] == [
        ("EMAIL", "amara@example.com", finance.email),
        ("SMS", "231771234567", finance.email),
    ]
    with Session(mailing.engine) as db:
        actions = [a.action for a in db.exec(select(AuditRecord)).all()]
    assert "invoice_copy_email" in actions and "invoice_copy_sms" in actions


def test_only_a_published_unpaid_document_is_sent(
    mailing: Services, smtp_server: tuple[Inbox, int], finance: Actor
) -> None:
    record = published(mailing, finance, "copy-cancel")
    documents.cancel(mailing, finance, record)
    with pytest.raises(CannotSend, match="cancelled"):
        document_copies.email_document(mailing, finance, record, to="amara@example.com")
    with pytest.raises(CannotSend, match="not an e-mail address"):
        document_copies.email_document(mailing, finance, record, to="amara at example")
    assert smtp_server[0].messages == []


def test_no_smtp_settings_is_said_plainly(services: Services, finance: Actor) -> None:
    record = published(services, finance, "copy-nosmtp")
    with pytest.raises(CannotSend, match="DOLLR_SMTP_HOST"):
        document_copies.email_document(services, finance, record, to="amara@example.com")
