"""What the sandbox remembers: one model per stored thing, serialised as JSON in the state store.

These are the sandbox's internal records, not API shapes (those are in ``schemas.py``).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from dollr_core.basics.enums import (
    ExecutionStatus,
    FeeBearer,
    OperationType,
    PaymentMethod,
    Provider,
    RelationshipType,
    SourceStatus,
    SourceType,
    WalletStatus,
)


class Record(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=False)


class Stamped(Record):
    id: int
    created_at: datetime
    updated_at: datetime


class Party(Stamped):
    fullname: str
    phone: str
    email: str | None = None
    country_code: str | None = None


class Counterparty(Stamped):
    relationship_type: RelationshipType
    party_id: int | None = None


class Item(Record):
    id: int
    name: str
    currency: str
    qty: int
    amount: Decimal


class Source(Stamped):
    """An invoice or an order; ids are shared by both kinds so a wrong ``source_type`` is detectable."""

    kind: SourceType
    number: str
    status: SourceStatus
    currency: str
    note: str | None
    fee_bearer: FeeBearer
    as_payment_link: bool
    counterparty_id: int
    reference_id: str | None = None
    due_date: datetime | None = None
    items: list[Item] = []
    paid_at: datetime | None = None
    #: The collection that paid it, for the receipt.
    paid_by: str | None = None
    #: Opaque token in the pay link and hosted URL.
    pay_token: str

    @property
    def total_amount(self) -> Decimal:
        return sum((item.amount * item.qty for item in self.items), Decimal(0))


class Checkout(Stamped):
    mode: str
    source_id: int
    source_type: SourceType
    config_id: int
    party_id: int
    counterparty_id: int
    reference_id: str | None = None
    due_date: datetime | None = None
    expires_at: datetime | None = None
    success_url: str | None = None
    cancel_url: str | None = None
    #: Opaque token of this checkout's hosted URL; it dies at ``expires_at``, the pay link does not.
    token: str | None = None


class SessionStatus(StrEnum):
    ACTIVE = "ACTIVE"
    #: An execution was accepted on it; a new attempt needs a new session.
    USED = "USED"


class Session(Stamped):
    #: The operation it may be executed as (a checkout session is a COLLECTION session).
    operation: OperationType
    status: SessionStatus = SessionStatus.ACTIVE
    expires_at: datetime
    used_by: str | None = None
    # checkout
    source_id: int | None = None
    source_type: SourceType | None = None
    payment_account_id: int | None = None
    # payout
    payout_account_id: int | None = None
    wallet_id: int | None = None
    amount: Decimal | None = None
    currency: str | None = None
    # transfer
    to_counterparty_id: int | None = None
    # refund
    original_payment_intent_id: int | None = None
    reason: str | None = None


class PaymentAccount(Stamped):
    account_name: str
    #: As sent: ``PAWAPAY`` or, for MoMo, the method name (§9 #1).
    provider: str
    method: PaymentMethod
    party_id: int
    country_code: str | None = None
    insensitive_account_number: str | None = None
    #: Cards: the Stripe payment method (a test card id, ``cards.py``); None pays like ``pm_card_visa``.
    payment_method_id: str | None = None
    operation_type: OperationType
    is_active: bool = True


class Execution(Record):
    reference_id: str
    operation_type: OperationType
    status: ExecutionStatus
    #: sha256 of the canonical request, to tell a replay from a reuse (§7).
    fingerprint: str
    session_id: int | None
    created_at: datetime
    updated_at: datetime
    method: PaymentMethod
    provider: Provider
    account_number: str | None = None
    account_name: str | None = None
    #: Cards: the Stripe payment method charged.
    payment_method_id: str | None = None
    payment_account_id: int | None = None
    payout_account_id: int | None = None
    payment_intent_id: int | None = None
    source_id: int | None = None
    source_type: SourceType | None = None
    wallet_id: int | None = None
    #: Original collection, for refunds.
    refund_of: str | None = None
    to_counterparty_id: int | None = None
    fee_bearer: FeeBearer
    tier: str
    base_amount: Decimal
    base_currency: str
    payer_amount: Decimal
    payer_currency: str
    payee_amount: Decimal
    payee_currency: str
    platform_fee: Decimal
    gateway_fee: Decimal
    fx_fee: Decimal | None = None
    fx_rate: Decimal
    provider_transaction_id: str | None = None
    gateway_message: str | None = None
    wallet_message: str | None = None
    requires_action: bool = False
    client_secret: str | None = None
    #: Amount held on ``wallet_id`` until the outcome (payouts, transfers, refunds).
    held: Decimal = Decimal(0)
    # The planned course, fixed at creation so later config changes do not rewrite history.
    processing_at: datetime | None = None
    final_at: datetime | None = None
    final_status: ExecutionStatus | None = None
    final_message: str | None = None
    completed_at: datetime | None = None


class Wallet(Stamped):
    currency: str
    status: WalletStatus = WalletStatus.ACTIVE
    #: Settled money.
    balance: Decimal
    #: Part of ``balance`` reserved for executions still in flight.
    held: Decimal = Decimal(0)

    @property
    def available(self) -> Decimal:
        return self.balance - self.held


class Token(Record):
    jti: str
    expires_at: datetime


class Meta(Record):
    """Everything that is not a record: id counters, clock offset, run-time switches."""

    counters: dict[str, int] = {}
    clock_offset: float = 0.0
    verified: bool = True
    signing_key: str
