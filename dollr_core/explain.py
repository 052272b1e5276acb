"""Every failure, said in plain words: what happened and what to do next.

Used by the console (and any script) so a person never sees a stack trace or an HTTP code alone.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import sqlite3
import traceback
from dataclasses import dataclass

import psycopg
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from dollr_core.api.errors import (
    AuthenticationError,
    DollrError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    RequestValidationError,
    ServerError,
    describe_validation_error,
)
from dollr_core.basics.redact import redact_text
from dollr_core.errors import Refusal
from dollr_core.ledger.tables import Attempt, AttemptState

#: Field names as a person would say them.
FIELD_NAMES = {
    "phone": "phone number",
    "party_phone": "phone number",
    "insensitive_account_number": "wallet number",
    "amount": "amount",
    "base_amount": "amount",
    "currency": "currency",
    "target_currency": "currency the customer pays in",
    "session_id": "payment session",
    "reference_id": "payment reference",
    "payment_account_id": "wallet",
    "payout_account_id": "recipient's wallet",
    "fullname": "name",
    "email": "e-mail address",
    "country_code": "country",
    "qty": "quantity",
    "name": "item name",
    "passcode": "passcode",
    "code": "passcode",
}


#: The fees, named the same on every screen and document (quote, review, receipt, preview).
PLATFORM_FEE = "Dollr platform fee"
GATEWAY_FEE = "Mobile network or card fee"
#: The mobile network's (or card company's) own id of a payment: what its support asks for.
NETWORK_TRANSACTION_ID = "Transaction id at the mobile network or card company"
FX_FEE = "Currency exchange fee"


@dataclass(frozen=True)
class Explanation:
    headline: str  # what happened
    advice: str  # what to do now
    details: str = ""  # for the collapsed "technical details" section; never holds a secret


_faults = logging.getLogger("dollr_core.faults")
_DATABASE_ERRORS = (SQLAlchemyError, sqlite3.Error, psycopg.Error)


def fault_reference(exc: BaseException) -> str:
    """Log a fault in our code once, under a short reference a person can quote to an admin.

    The log gets the (redacted) error and where it happened; the page gets only the reference,
    never SQL, parameters or a stack trace.
    """
    reference = getattr(exc, "dollr_fault_reference", None)
    if isinstance(reference, str):
        return reference
    reference = secrets.token_hex(4).upper()
    with contextlib.suppress(AttributeError):  # kept on the error, so a rerun logs it once
        exc.dollr_fault_reference = reference  # type: ignore[attr-defined]
    where = "".join(traceback.format_tb(exc.__traceback__))
    _faults.error("Fault %s: %s\n%s", reference, redact_text(f"{type(exc).__name__}: {exc}"), where)
    return reference


def explain(exc: BaseException) -> Explanation:
    """A refusal (ours or Dollr's) or a person's bad input as advice; anything else as a fault.

    A ValueError, LookupError, RuntimeError … that is not a `Refusal` is a bug in our code, so it
    is shown with a fault reference and never as "correct it and try again".
    """
    details = redact_text(f"{type(exc).__name__}: {exc}", phones=False)  # phone fields are masked at source
    if isinstance(exc, Refusal):
        return Explanation(str(exc), exc.advice, details)
    if isinstance(exc, _DATABASE_ERRORS):
        reference = fault_reference(exc)
        return Explanation(
            f"The console could not read or write its ledger (fault {reference}).",
            "Nothing you entered needs correcting. Try again in a moment; if it keeps happening, give"
            f" an admin the reference {reference}: it finds the details in the console's log.",
            f"Fault reference {reference} (details in the console's log).",
        )
    if isinstance(exc, InvalidRequestError):
        fields = {e.field for e in exc.errors}
        if "session_id" in fields:
            return Explanation(
                "The payment session expired before the payment was sent.",
                "Start again: nothing was charged.",
                details,
            )
        return Explanation(_field_sentences(exc), "Correct it and try again.", details)
    if isinstance(exc, ValidationError | RequestValidationError):
        return Explanation(_field_sentences(exc), "Correct it and try again.", details)
    if isinstance(exc, PermissionDeniedError):
        return Explanation(
            "Your Dollr account is not yet verified for this (payouts, transfers and refunds need a"
            " fully verified merchant).",
            "Finish verification in the Dollr merchant portal, then try again.",
            details,
        )
    if isinstance(exc, AuthenticationError):
        return Explanation(
            "Dollr did not accept the console's API keys.",
            "An admin should check DOLLR_CLIENT_ID and DOLLR_CLIENT_SECRET.",
            details,
        )
    if isinstance(exc, NotFoundError):
        return Explanation(
            "Dollr has no record of that.", "Check the number or reference and try again.", details
        )
    if isinstance(exc, RateLimitError):
        wait = f" about {int(exc.retry_after)} seconds" if exc.retry_after else " a moment"
        return Explanation(
            "Dollr is busy and asked us to slow down.", f"Wait{wait}, then try again.", details
        )
    if isinstance(exc, ServerError | NetworkError):
        return Explanation(
            "Dollr could not be reached or had a problem.",
            "Nothing needs to be re-entered. If a payment was being sent, its status is being checked:"
            " do not send it again.",
            details,
        )
    if isinstance(exc, DollrError):
        return Explanation(exc.message, "Try again in a moment; if it keeps failing, tell an admin.", details)
    reference = fault_reference(exc)
    return Explanation(
        f"This is a fault in the console, not in what you entered (fault {reference}).",
        f"Try again; if it keeps happening, give an admin the reference {reference}.",
        f"Fault reference {reference} (details in the console's log).",
    )


def _field_sentences(exc: ValidationError | RequestValidationError | InvalidRequestError) -> str:
    parts = []
    for field, sentence in describe_validation_error(exc):
        label = FIELD_NAMES.get(field.split(".")[-1], field.replace("_", " ")) if field else ""
        parts.append(f"{label.capitalize()}: {sentence}" if label else sentence)
    return " ".join(parts) or "Some of what was entered is not valid."


def attempt_outcome(attempt: Attempt) -> Explanation:
    """What a person should understand from where a payment stands."""
    state = AttemptState(attempt.local_state)
    if state is AttemptState.COMPLETED:
        return Explanation("Completed.", "The money has moved.")
    if state is AttemptState.FAILED:
        return Explanation(
            f"Failed: {failure_reason(attempt)}",
            "Nothing was paid. Fix the cause, then start a new payment.",
        )
    if state is AttemptState.REFUSED:
        return Explanation(
            f"Dollr refused it: {attempt.last_error or 'no reason given'}",
            "Nothing was paid. Correct the details and start again.",
        )
    if state is AttemptState.ABANDONED:
        return Explanation("It never reached Dollr.", "Nothing was paid. You can confirm it again.")
    if state is AttemptState.UNKNOWN:
        return Explanation(
            "We are checking with Dollr whether it went through.",
            "Do not send it again: the console settles this by itself.",
        )
    if attempt.remote_status == "PENDING":
        return Explanation(
            "Sent: Dollr has it and is handing it to the mobile network or card company.",
            "This usually takes a few seconds. Waiting is safe; this page updates by itself.",
        )
    if attempt.remote_status == "PROCESSING" or state is AttemptState.ACCEPTED:
        who = (
            "the customer's mobile network is working on it (the customer may need to approve on the phone)"
            if attempt.operation_type == "COLLECTION"
            else "the recipient's mobile network is working on it"
        )
        return Explanation(
            f"Processing: {who}.",
            "This can take a few minutes. Waiting is safe; this page updates by itself.",
        )
    return Explanation("Sending to Dollr…", "Waiting is safe; this page updates by itself.")


_REASONS = (
    ("declin", "the payer declined the request on their phone"),
    ("insufficient", "there was not enough money in the wallet"),
    ("wallet balance", "our Dollr wallet does not hold enough for the amount plus fees"),
    ("timeout", "the payer did not approve in time"),
    ("timed out", "the payer did not approve in time"),
    ("passcode", "the merchant passcode was wrong"),
)


def failure_reason(attempt: Attempt) -> str:
    said = [attempt.wallet_message, attempt.gateway_message, attempt.last_error]
    text = " ".join(dict.fromkeys(m.strip() for m in said if m and m.strip()))
    lowered = text.lower()
    for needle, plain in _REASONS:
        if needle in lowered:
            return f"{plain} ({text})" if text else plain
    return text or "Dollr gave no reason"
