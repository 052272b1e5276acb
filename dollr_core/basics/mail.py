"""Sending e-mail through the SMTP server in the settings: one place for notifications and for
invoices sent to customers (STARTTLS and sign-in when the settings ask for them)."""

from __future__ import annotations

import smtplib
from email.message import EmailMessage

from dollr_core.config import Settings


def send(settings: Settings, message: EmailMessage) -> None:
    """Send one message; raises OSError or smtplib.SMTPException when it cannot be sent."""
    if not settings.smtp_host:
        raise OSError("no SMTP server is set (DOLLR_SMTP_HOST)")
    if message["From"] is None:
        message["From"] = settings.smtp_sender
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_username and settings.smtp_password is not None:
            smtp.login(settings.smtp_username, settings.smtp_password.get_secret_value())
        smtp.send_message(message)
