"""Codes, counts and times in the words people read: the one place the console turns a code into words.

Pages show these words; the code itself stays available in a details view for support.
(Operations and payment methods have theirs beside their reports: `reports.history.operation_name`,
`reports.predictor.method_name`.)
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from dollr_core.basics.access import Role
from dollr_core.basics.enums import ExecutionStatus, Provider, RelationshipType, SourceStatus

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

#: A console role, as a person reads it (the code is what `users` commands and settings take).
ROLE_WORDS: dict[str, str] = {
    Role.OPERATOR: "Operator",
    Role.FINANCE: "Finance",
    Role.MANAGER: "Manager",
    Role.ADMIN: "Admin",
}

#: Who a wallet-transfer recipient is to the company (Dollr's relationship codes).
RELATIONSHIP_WORDS: dict[str, str] = {
    RelationshipType.CUSTOMER: "A customer",
    RelationshipType.SUPPLIER: "A supplier",
    RelationshipType.EMPLOYEE: "An employee",
    RelationshipType.BENEFICIARY: "A beneficiary",
    RelationshipType.FRIEND: "A friend",
    RelationshipType.FAMILY: "Family",
    RelationshipType.DONOR: "A donor",
    RelationshipType.DONEE: "Someone we donate to",
    RelationshipType.CONTACT: "A contact",
    RelationshipType.SERVICE_PROVIDER: "A service provider",
    RelationshipType.PARTNER: "A business partner",
    RelationshipType.SELF: "Ourselves (another wallet of ours)",
}

#: Where a payout, refund or transfer the console holds stands (the ledger's intent states).
INTENT_STATE_WORDS: dict[str, str] = {
    "OPEN": "Being prepared",
    "AWAITING_APPROVAL": "Waiting for approval",
    "READY": "Ready to send",
    "EXECUTING": "Being sent",
    "COMPLETED": "Completed",
    "FAILED": "Failed",
    "REJECTED": "Rejected",
    "CANCELED": "Withdrawn",
}

#: How many characters of a reference a screen shows; the whole one is a click away.
SHORT_REFERENCE = 8


def document_status(status: str) -> str:
    return _words(DOCUMENT_STATUS_WORDS, status)


def payment_status(status: str) -> str:
    return _words(PAYMENT_STATUS_WORDS, status)


def _words(table: dict[str, str], code: str | None) -> str:
    """The words for a code; a code the table does not know yet still reads as words, not a code."""
    return table.get(code or "", (code or "—").replace("_", " ").capitalize())


def role_name(role: str) -> str:
    return _words(ROLE_WORDS, role)


def relationship_name(relationship: str) -> str:
    return _words(RELATIONSHIP_WORDS, relationship)


def intent_state(state: str) -> str:
    return _words(INTENT_STATE_WORDS, state)


def action_name(action: str) -> str:
    """An audit action code in words: `payout_submitted` is "Payout submitted"."""
    return action.replace("_", " ").capitalize()


def provider_name(provider: str | None) -> str:
    return _words(PROVIDER_WORDS, provider)


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


def time_said(moment: datetime | None, time_zone: str) -> str:
    """A moment on its own (in a sentence or on a receipt), naming its zone:
    "2026-12-01 14:05 (Africa/Kigali time)"."""
    return f"{local_time(moment, time_zone)} ({zone_label(time_zone)})" if moment else "—"
