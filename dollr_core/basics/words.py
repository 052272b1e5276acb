"""Codes, counts and times in the words people read: the one place the console turns a code into words.

Pages show these words; the code itself stays available in a details view for support.
(Operations and payment methods have theirs beside their reports: `reports.history.operation_name`,
`reports.predictor.method_name`.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dollr_core.basics.enums import ExecutionStatus, Provider, SourceStatus

#: An invoice's or order's status at Dollr, as people say it.
DOCUMENT_STATUS_WORDS: dict[str, str] = {
    SourceStatus.IDLE: "Draft",
    SourceStatus.ACTIVE: "Waiting for payment",
    SourceStatus.PROCESSING: "Payment in progress",
    SourceStatus.PAID: "Paid",
    SourceStatus.CANCELED: "Cancelled",
}

#: A payment's status at Dollr, as people say it.
PAYMENT_STATUS_WORDS: dict[str, str] = {
    ExecutionStatus.PENDING: "Waiting to start",
    ExecutionStatus.PROCESSING: "Processing",
    ExecutionStatus.COMPLETED: "Completed",
    ExecutionStatus.FAILED: "Failed",
}

#: Who carries a payment behind Dollr.
PROVIDER_WORDS: dict[str, str] = {
    Provider.PAWAPAY: "Mobile money (pawaPay)",
    Provider.STRIPE: "Card (Stripe)",
    Provider.PLATFORM: "Dollr wallet",
}

#: How many characters of a reference a screen shows; the whole one is a click away.
SHORT_REFERENCE = 8


def document_status(status: str) -> str:
    return DOCUMENT_STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


def payment_status(status: str) -> str:
    return PAYMENT_STATUS_WORDS.get(status, status.replace("_", " ").capitalize())


def action_name(action: str) -> str:
    """An audit action code in words: `payout_submitted` is "Payout submitted"."""
    return action.replace("_", " ").capitalize()


def provider_name(provider: str | None) -> str:
    return PROVIDER_WORDS.get(provider or "", (provider or "—").replace("_", " ").capitalize())


def short_reference(reference: str | None) -> str:
    """The first characters of a reference (a UUID): enough to tell payments apart on screen."""
    return (reference or "")[:SHORT_REFERENCE] or "—"


def count(n: int, noun: str, adjective: str = "") -> str:
    """`count(1, "payment")` is "1 payment", `count(3, "payment", "completed")` "3 completed payments"."""
    words = f"{adjective} {noun}" if adjective else noun
    if n == 1:
        return f"1 {words}"
    return f"{n:,} {words}{'es' if noun.endswith(('s', 'sh', 'ch', 'x')) else 's'}"


def a_or_an(word: str) -> str:
    """ "a MTN wallet" reads wrong only for vowels: "an Orange wallet", "a MTN wallet"."""
    return f"{'an' if word[:1].lower() in 'aeiou' else 'a'} {word}"


def local_time(moment: datetime, time_zone: str, *, seconds: bool = False) -> str:
    """A moment in the company's time zone, e.g. "2026-12-01 14:05"; the zone is named once per
    table or heading (see `zone_label`), not on every cell."""
    aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    shape = "%Y-%m-%d %H:%M:%S" if seconds else "%Y-%m-%d %H:%M"
    return aware.astimezone(ZoneInfo(time_zone)).strftime(shape)


def zone_label(time_zone: str) -> str:
    """How a heading names the company's time zone: "Africa/Monrovia time" or "UTC"."""
    return "UTC" if time_zone == "UTC" else f"{time_zone} time"
