"""What Dollr's answers prove about a request: that Dollr judged and refused it, or that it can
no longer land because its session is over by Dollr's own clock.

A request may reach Dollr long after we gave up on it, so only these proofs end an attempt without
a payment; everything else keeps it UNKNOWN (see `payments.protocol`).
"""

from __future__ import annotations

from datetime import timedelta

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import AuthenticationError, DollrError, InvalidRequestError, PermissionDeniedError
from dollr_core.ledger.tables import Attempt

#: How long after a session's `expires_at` (on Dollr's measured clock) before "not found" is
#: trusted to mean "can no longer land": covers drift since the clock was measured.
CLOCK_MARGIN = timedelta(seconds=30)


def judged_and_refused(exc: DollrError) -> bool:
    """Dollr read this very request and refused it on its content, so it executed nothing.

    Only Dollr's own verdicts count: a 422 naming the fields at fault (a duplicate reference
    excepted: that one means a copy exists), or a 401/403 in Dollr's JSON shape. A 404, 409, a 422
    without fields, a 429, a 5xx, a gateway's page or a lost answer prove nothing.
    """
    if exc.outcome_unknown or not isinstance(exc.body, dict):
        return False
    if isinstance(exc, InvalidRequestError):
        return (
            exc.status == 422
            and bool(exc.errors)
            and all(e.field for e in exc.errors)
            and not is_duplicate_reference(exc)
        )
    return isinstance(exc, AuthenticationError | PermissionDeniedError)


def session_is_gone(exc: DollrError) -> bool:
    return isinstance(exc, InvalidRequestError) and any(e.field == "session_id" for e in exc.errors)


def is_duplicate_reference(exc: DollrError) -> bool:
    return isinstance(exc, InvalidRequestError) and any(e.field == "reference_id" for e in exc.errors)


def session_over_at_dollr(client: DollrClient, attempt: Attempt) -> bool:
    """Dollr's clock (as measured, never assumed) is past the session's expiry plus the margin."""
    now_at_dollr = client.server_clock.now_at_dollr()
    if attempt.session_expires_at is None or now_at_dollr is None:
        return False
    return now_at_dollr > attempt.session_expires_at + CLOCK_MARGIN


def wait_for_proof(client: DollrClient, attempt: Attempt, seconds: float) -> float:
    """`seconds`, or less when the moment that settles the attempt by expiry comes sooner."""
    now_at_dollr = client.server_clock.now_at_dollr()
    if attempt.session_expires_at is None or now_at_dollr is None:
        return seconds
    until_proof = (attempt.session_expires_at + CLOCK_MARGIN - now_at_dollr).total_seconds() + 1.0
    return max(1.0, min(seconds, until_proof))
