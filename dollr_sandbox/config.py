"""Everything the sandbox can be told at start-up."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from dollr_core.basics.constants import (
    SANDBOX_CLIENT_ID,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_PASSCODE,
    SANDBOX_PASSCODE_PHONE,
)
from dollr_core.basics.enums import MerchantType, PaymentMethod
from dollr_sandbox.operators import DEFAULT_PREFIXES
from dollr_sandbox.pricing import PricingConfig


class WrongPasscode(StrEnum):
    """How a payout with a wrong passcode is answered; the docs allow all three (§3.8 E2)."""

    #: 200 with an execution that is FAILED at once (PENDING → FAILED), on record at the status API.
    FAILED = "failed"
    #: 403 ``{"detail": ...}``, nothing stored.
    FORBIDDEN = "403"
    #: 422 at ``body.passcode.token.code``, nothing stored.
    UNPROCESSABLE = "422"


def _initial_balances() -> dict[str, Decimal]:
    return {"USD": Decimal("10000"), "LRD": Decimal("2000000"), "RWF": Decimal("10000000")}


@dataclass
class SandboxConfig:
    """Start-up settings. ``verified``, ``latency_ms``, ``rate_limit_per_minute``,
    ``rate_limit_window_seconds``, ``token_rate_limit_per_minute``, ``wrong_passcode``, ``lenient``,
    ``data_envelope``, ``check_operator``, ``check_account_party`` and
    ``refuse_collection_while_processing`` can also be changed at run time
    (``Sandbox.configure`` / ``POST /_sandbox/config``).
    """

    #: SQLite database holding the state; None keeps everything in memory.
    state_file: str | os.PathLike[str] | None = None
    client_id: str = SANDBOX_CLIENT_ID
    client_secret: str = SANDBOX_CLIENT_SECRET
    passcode: str = SANDBOX_PASSCODE
    passcode_phone: str = SANDBOX_PASSCODE_PHONE
    #: Accepted instead of the phone in ``passcode.token.user_id``.
    passcode_user_id: str = "1"
    wrong_passcode: WrongPasscode = WrongPasscode.FAILED
    #: Unverified merchants get 403 on payouts, transfers and refunds (contract §6.3).
    verified: bool = True
    #: /v1 requests per minute per merchant, across all its tokens (sliding window); requests
    #: without a valid token count per client address. 0 switches every rate limit off.
    rate_limit_per_minute: int = 1200
    #: The sliding window that limit is counted over (the limit scaled to it): 60 s lets a
    #: minute's requests come in one burst; 1 s allows no more than the rate in any second.
    rate_limit_window_seconds: float = 60.0
    #: Token requests (A1) per minute per client id: refresh storms get 429s (§2). 0 disables it.
    token_rate_limit_per_minute: int = 60
    #: Delay added to every /v1 request, for benchmarks.
    latency_ms: int = 0
    #: Accept ids as numeric strings or ints both ways, and the legacy payout-session body (§9).
    lenient: bool = False
    #: Wrap every successful /v1 body in ``{"data": ...}`` (§9 #2).
    data_envelope: bool = False
    #: 422 on a mobile-money payment account whose number belongs to another operator by prefix
    #: (PA1 ``body.method``, "invalid combination"). Off accepts it, as the docs' own sample needs:
    #: they register 231771234567, an Orange number, as an MTN wallet (§3.10).
    check_operator: bool = True
    #: 422 on a collection whose payment account belongs to another party than the one the
    #: document bills (``body.payment_account_id``).
    check_account_party: bool = True
    #: Refuse (422) a checkout session or collection on a document that is PROCESSING. Off by
    #: default: the docs warn that Dollr live may charge such a second collection (§7.3), so the
    #: sandbox accepts and charges it, and a client that sends one is caught.
    refuse_collection_while_processing: bool = False
    #: Access-token lifetime, reported as ``expires_in`` (minutes) and enforced on the sandbox clock.
    token_expires_minutes: int = 60
    #: Realtime-key lifetime in seconds (R1).
    realtime_key_seconds: int = 300
    #: PENDING → PROCESSING after this long, then PROCESSING → final after ``processing_seconds``.
    pending_seconds: float = 1.0
    processing_seconds: float = 3.0
    #: Test number ``…0003`` completes after this long in PROCESSING.
    slow_seconds: float = 180.0
    #: Test number ``…0004`` fails after this long in PROCESSING (the payer never approves).
    timeout_seconds: float = 120.0
    #: A card payment waiting for 3-D Secure fails when the customer has not authenticated by then.
    card_authentication_seconds: float = 600.0
    #: Where the sandbox clock starts (then runs with wall time); None starts it at the wall clock.
    start_time: datetime | None = None
    #: Checkout and payout sessions expire this long after creation.
    session_ttl_seconds: int = 900
    initial_balances: Mapping[str, Decimal] = field(default_factory=_initial_balances)
    merchant_id: int = 1
    merchant_name: str = "Sandbox Trading Ltd"
    merchant_type: MerchantType = MerchantType.ORGANIZATION
    merchant_email: str | None = "payments@sandbox.example"
    merchant_phone: str | None = "231880000000"
    fee_tier: str = "default"
    pricing: PricingConfig = field(default_factory=PricingConfig)
    #: Phone prefix → mobile-money method, for PR3.
    operator_prefixes: Mapping[str, PaymentMethod] = field(default_factory=lambda: dict(DEFAULT_PREFIXES))
