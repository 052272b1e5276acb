"""The ledger's tables: what we asked Dollr to do, what it answered, and who did it.

One module for every table (SQLModel), as in the FastAPI full-stack template. Queries live in
plain functions elsewhere; sessions are passed explicitly.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

from sqlalchemy import Column, Index, String, Text, UniqueConstraint, func
from sqlalchemy import false as sa_false
from sqlmodel import Field, SQLModel

from dollr_core.basics.enums import ExecutionStatus, OperationType

from .columns import Money, UTCDateTime, utcnow


def _money() -> Any:
    return Field(default=None, sa_type=Money)


def _when(index: bool = False) -> Any:
    return Field(
        default_factory=utcnow, sa_column_kwargs={"nullable": False}, sa_type=UTCDateTime, index=index
    )


def _maybe_when() -> Any:
    return Field(default=None, sa_type=UTCDateTime)


class IntentKind(StrEnum):
    """What the person set out to do; decides which flow steps an intent goes through."""

    DOCUMENT_COLLECTION = "DOCUMENT_COLLECTION"  # collect an invoice/order from a mobile-money wallet
    PAYOUT = "PAYOUT"
    TRANSFER = "TRANSFER"
    REFUND = "REFUND"


class IntentState(StrEnum):
    OPEN = "OPEN"  # steps before the execution are being carried out
    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # a second person must approve before money moves
    READY = "READY"  # everything prepared; the next submit may claim it
    EXECUTING = "EXECUTING"  # an attempt holds the intent: in flight, unknown or being polled
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # Dollr said FAILED, or refused the request: a retry is a new intent
    REJECTED = "REJECTED"  # an approver said no
    CANCELED = "CANCELED"  # withdrawn before any money moved

    @property
    def is_final(self) -> bool:
        return self in _FINAL_INTENT_STATES


_FINAL_INTENT_STATES = frozenset(
    {IntentState.COMPLETED, IntentState.FAILED, IntentState.REJECTED, IntentState.CANCELED}
)


class AttemptState(StrEnum):
    """Where one reference_id stands, as far as this ledger knows."""

    PREPARING = "PREPARING"  # reference_id stored; session not yet opened, nothing sent
    SENDING = "SENDING"  # the execution call may be on the wire
    UNKNOWN = "UNKNOWN"  # the call's outcome is unclear: settle by a status lookup
    ACCEPTED = "ACCEPTED"  # Dollr holds the execution (PENDING/PROCESSING): keep polling
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"  # Dollr says FAILED
    REFUSED = "REFUSED"  # Dollr refused the request; no execution exists
    ABANDONED = "ABANDONED"  # confirmed never landed and can no longer land (session expired)

    @property
    def is_final(self) -> bool:
        return self in _FINAL_ATTEMPT_STATES


_FINAL_ATTEMPT_STATES = frozenset(
    {AttemptState.COMPLETED, AttemptState.FAILED, AttemptState.REFUSED, AttemptState.ABANDONED}
)
OPEN_ATTEMPT_STATES = tuple(s for s in AttemptState if s not in _FINAL_ATTEMPT_STATES)


class Customer(SQLModel, table=True):
    """A Dollr party we created, so the next payment to or from the same person reuses it."""

    __tablename__ = "customer"
    id: int | None = Field(default=None, primary_key=True)
    dollr_party_id: int = Field(unique=True)
    fullname: str = Field(max_length=200, index=True)
    phone: str = Field(max_length=15, index=True)
    email: str | None = Field(default=None, max_length=254)
    country_code: str | None = Field(default=None, max_length=2)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class Relationship(SQLModel, table=True):
    """A Dollr counterparty: one per party and relationship type."""

    __tablename__ = "relationship"
    __table_args__ = (UniqueConstraint("dollr_party_id", "relationship_type"),)
    id: int | None = Field(default=None, primary_key=True)
    dollr_counterparty_id: int = Field(unique=True)
    dollr_party_id: int = Field(index=True)
    relationship_type: str = Field(max_length=32)
    created_at: datetime = _when()


class AccountRecord(SQLModel, table=True):
    """A Dollr payment account; mobile-money accounts are reused per party + method + number."""

    __tablename__ = "payment_account"
    __table_args__ = (UniqueConstraint("dollr_party_id", "operation_type", "method", "account_number"),)
    id: int | None = Field(default=None, primary_key=True)
    dollr_account_id: int = Field(unique=True)
    dollr_party_id: int = Field(index=True)
    operation_type: str = Field(max_length=16)
    method: str = Field(max_length=32)
    provider: str = Field(max_length=16)
    account_number: str = Field(default="", max_length=15)  # "" for cards: never reused
    is_active: bool = True
    created_at: datetime = _when()


class DocumentRecord(SQLModel, table=True):
    """Our mirror of an invoice or order, so lists and searches need no call to Dollr."""

    __tablename__ = "document"
    __table_args__ = (UniqueConstraint("source_type", "dollr_id"),)
    id: int | None = Field(default=None, primary_key=True)
    source_type: str = Field(max_length=8)
    dollr_id: int
    number: str | None = Field(default=None, max_length=40, index=True)
    #: Our own reference on the document: the draft key, so a lost answer is found again.
    reference: str | None = Field(default=None, max_length=64, index=True)
    status: str = Field(max_length=16, index=True)
    currency: str = Field(max_length=3)
    total_amount: Decimal | None = _money()
    fee_bearer: str = Field(max_length=8)
    note: str = Field(default="", max_length=500)
    as_payment_link: bool = False
    dollr_counterparty_id: int | None = None
    customer_name: str = Field(default="", max_length=200, index=True)
    customer_phone: str = Field(default="", max_length=15)
    created_by: str = Field(default="", max_length=254)
    paid_at: datetime | None = _maybe_when()
    created_at: datetime = _when()
    updated_at: datetime = _when()
    #: Made in Dollr's portal or by another integration, brought in by the sync.
    made_outside: bool = False
    #: A hosted checkout's end: after it the document is no longer followed.
    expires_at: datetime | None = _maybe_when()
    #: When the reconciler next asks Dollr whether the document was paid (backs off; None: due now).
    next_check_at: datetime | None = _maybe_when()
    check_count: int = 0


class Intent(SQLModel, table=True):
    """One intended movement of money, identified by the key made when its form was shown.

    A rerun, a double click or a second tab carries the same key, so it finds this row instead of
    creating a payment. The flow's steps are recorded here as they complete, so an interrupted flow
    resumes where it stopped.
    """

    __tablename__ = "intent"
    id: int | None = Field(default=None, primary_key=True)
    intent_key: str = Field(unique=True, max_length=64)
    kind: str = Field(max_length=24)
    operation_type: str = Field(max_length=16)
    state: str = Field(default=IntentState.OPEN, max_length=20, index=True)
    step: str = Field(default="", max_length=32)
    operator: str = Field(default="", max_length=254, index=True)
    params_fingerprint: str = Field(default="", max_length=64)
    # who is paid or paying
    party_name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=15)
    dollr_party_id: int | None = None
    dollr_counterparty_id: int | None = None
    method: str | None = Field(default=None, max_length=32)
    provider: str | None = Field(default=None, max_length=16)
    account_id: int | None = None  # payment account (collection) or payout account (payout)
    # what for
    source_type: str | None = Field(default=None, max_length=8)
    source_id: int | None = None
    source_number: str | None = Field(default=None, max_length=40)
    amount: Decimal | None = _money()
    currency: str = Field(default="", max_length=3)
    payer_currency: str | None = Field(default=None, max_length=3)
    note: str = Field(default="", max_length=500)
    batch_id: int | None = Field(default=None, index=True)
    # the quote the person saw before confirming
    predicted_payer_amount: Decimal | None = _money()
    predicted_payee_amount: Decimal | None = _money()
    predicted_platform_fee: Decimal | None = _money()
    predicted_gateway_fee: Decimal | None = _money()
    predicted_fx_fee: Decimal | None = _money()
    # maker-checker
    needs_approval: bool = False
    decided_by: str | None = Field(default=None, max_length=254)
    decided_at: datetime | None = _maybe_when()
    decision_reason: str | None = Field(default=None, max_length=500)
    #: 1 or 2 different managers (approval rules); the first of two is recorded until the second.
    approvals_needed: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    first_approved_by: str | None = Field(default=None, max_length=254)
    first_approved_at: datetime | None = _maybe_when()
    #: A request left undecided, or an approval left unsent, returns to its maker at this time.
    approval_due_at: datetime | None = _maybe_when()
    # the attempt that currently holds the intent, and who is working on it
    current_attempt_id: int | None = None
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _maybe_when()
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    created_at: datetime = _when(index=True)
    updated_at: datetime = _when()


class Attempt(SQLModel, table=True):
    """One execution request: one reference_id, stored before it is ever sent."""

    __tablename__ = "attempt"
    __table_args__ = (
        Index("ix_attempt_created", "created_at"),
        Index("ix_attempt_poll", "local_state", "next_poll_at"),
        Index("ix_attempt_filters", "operation_type", "remote_status", "currency"),
        # History filters: measured on 100,000 rows (bench/history_bench.py), 3-4x faster with these.
        Index("ix_attempt_op_created", "operation_type", "created_at"),
        Index("ix_attempt_state_created", "local_state", "created_at"),
        Index("ix_attempt_operator", "operator"),
        # The Dashboard's money moved, summed over the whole ledger from this index alone, in its
        # order (no sort): 15 ms instead of 180 ms on 100,000 payments (SQLite and PostgreSQL).
        Index(
            "ix_attempt_moved",
            "local_state",
            "operation_type",
            "currency",
            "payee_currency",
            "settled_payer_currency",
            "payer_currency",
            "payee_amount",
            "payer_amount",
        ),
    )
    id: int | None = Field(default=None, primary_key=True)
    reference_id: str = Field(sa_column=Column(String(36), unique=True, nullable=False))
    intent_id: int = Field(index=True)
    operation_type: str = Field(max_length=16)
    step: str = Field(default="", max_length=32)
    local_state: str = Field(default=AttemptState.PREPARING, max_length=16)
    remote_status: str | None = Field(default=None, max_length=16)
    session_id: int | None = None
    session_expires_at: datetime | None = _maybe_when()
    account_id: int | None = None
    source_type: str | None = Field(default=None, max_length=8)
    source_id: int | None = None
    source_number: str | None = Field(default=None, max_length=40)
    party_name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=15)
    method: str | None = Field(default=None, max_length=32)
    provider: str | None = Field(default=None, max_length=16)
    amount: Decimal | None = _money()
    currency: str = Field(default="", max_length=3)
    payer_currency: str | None = Field(default=None, max_length=3)
    predicted_payer_amount: Decimal | None = _money()
    predicted_payee_amount: Decimal | None = _money()
    predicted_platform_fee: Decimal | None = _money()
    predicted_gateway_fee: Decimal | None = _money()
    predicted_fx_fee: Decimal | None = _money()
    payer_amount: Decimal | None = _money()
    payee_amount: Decimal | None = _money()
    settled_payer_currency: str | None = Field(default=None, max_length=3)
    payee_currency: str | None = Field(default=None, max_length=3)
    provider_transaction_id: str | None = Field(default=None, max_length=128)
    payment_intent_id: int | None = None
    gateway_message: str | None = Field(default=None, max_length=500)
    wallet_message: str | None = Field(default=None, max_length=500)
    requires_action: bool = False
    last_error: str | None = Field(default=None, sa_column=Column(Text))
    #: The execution body without secrets, so a resend repeats it to the byte.
    request_json: str | None = Field(default=None, sa_column=Column(Text))
    operator: str = Field(default="", max_length=254)
    batch_id: int | None = Field(default=None, index=True)
    created_at: datetime = _when()
    updated_at: datetime = _when()
    sent_at: datetime | None = _maybe_when()
    final_at: datetime | None = _maybe_when()
    next_poll_at: datetime | None = _maybe_when()
    #: Dollr said 429: nobody sends this attempt again before then.
    retry_not_before: datetime | None = _maybe_when()
    poll_count: int = 0
    lease_owner: str | None = Field(default=None, max_length=64)
    lease_until: datetime | None = _maybe_when()

    @property
    def remote(self) -> ExecutionStatus | None:
        return ExecutionStatus(self.remote_status) if self.remote_status else None

    @property
    def op(self) -> OperationType:
        return OperationType(self.operation_type)


class LedgerEvent(SQLModel, table=True):
    """Append-only: every change of an intent, attempt, batch or batch row, who made it and when.

    Written only by `ledger.transitions`, in the transaction of the change it records."""

    __tablename__ = "ledger_event"
    id: int | None = Field(default=None, primary_key=True)
    intent_id: int | None = Field(default=None, index=True)
    attempt_id: int | None = Field(default=None, index=True)
    batch_id: int | None = Field(default=None, index=True)
    batch_row_id: int | None = Field(default=None, index=True)
    actor: str = Field(max_length=254)
    action: str = Field(max_length=64)
    from_state: str | None = Field(default=None, max_length=24)
    to_state: str | None = Field(default=None, max_length=24)
    detail: str | None = Field(default=None, sa_column=Column(Text))
    at: datetime = _when(index=True)


class ConsoleUser(SQLModel, table=True):
    """A person who may sign in to the console. OpenID Connect users have no password hash."""

    __tablename__ = "console_user"
    id: int | None = Field(default=None, primary_key=True)
    email: str = Field(unique=True, max_length=254)
    name: str = Field(default="", max_length=200)
    role: str = Field(max_length=16)
    password_hash: str | None = Field(default=None, max_length=200)
    is_active: bool = True
    failed_sign_ins: int = 0
    locked_until: datetime | None = _maybe_when()
    last_sign_in_at: datetime | None = _maybe_when()
    #: Set by an admin's reset: the temporary password must be replaced at the next sign-in.
    password_must_change: bool = Field(default=False, sa_column_kwargs={"server_default": sa_false()})
    #: Raised by every password change: a console session signed in under an older one is signed out.
    session_generation: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    #: Two-factor sign-in (TOTP, RFC 6238): the shared secret, base32, once the person enrolled.
    totp_secret: str | None = Field(default=None, max_length=64)
    totp_enabled_at: datetime | None = _maybe_when()
    #: The newest time step whose code was accepted: that code, and every older one, is refused.
    totp_last_step: int | None = None
    created_by: str = Field(default="", max_length=254)
    created_at: datetime = _when()
    updated_at: datetime = _when()


class RecoveryCode(SQLModel, table=True):
    """One of a user's one-time recovery codes for two-factor sign-in, kept only as a hash."""

    __tablename__ = "recovery_code"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="console_user.id", index=True)
    code_hash: str = Field(max_length=64)
    used_at: datetime | None = _maybe_when()
    created_at: datetime = _when()


class AuditRecord(SQLModel, table=True):
    """Append-only: who did what, when, to what, and how it ended."""

    __tablename__ = "audit"
    id: int | None = Field(default=None, primary_key=True)
    at: datetime = _when(index=True)
    actor: str = Field(max_length=254, index=True)
    action: str = Field(max_length=64, index=True)
    target: str = Field(default="", max_length=200)
    outcome: str = Field(default="ok", max_length=16)
    detail: str | None = Field(default=None, sa_column=Column(Text))


class ConsoleSetting(SQLModel, table=True):
    """A setting an admin changes in the console (JSON), with who changed it last."""

    __tablename__ = "console_setting"
    key: str = Field(primary_key=True, max_length=64)
    value: str = Field(sa_column=Column(Text, nullable=False))
    updated_by: str = Field(max_length=254)
    updated_at: datetime = _when()


class NotificationState(StrEnum):
    PENDING = "PENDING"  # waiting to be sent, or to be tried again after a failure
    SENDING = "SENDING"  # claimed by one sender
    SENT = "SENT"
    FAILED = "FAILED"  # gave up after the last try
    UNKNOWN = "UNKNOWN"  # the sender stopped mid-send: never sent again, so never twice


class Notification(SQLModel, table=True):
    """The outbox: one message for one recipient about one event, and how sending it went."""

    __tablename__ = "notification"
    __table_args__ = (
        UniqueConstraint("event_key", "channel", "recipient", name="uq_notification_once"),
        Index("ix_notification_due", "state", "next_try_at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    event_key: str = Field(max_length=160)
    kind: str = Field(max_length=32)
    channel: str = Field(max_length=8)  # email or webhook
    recipient: str = Field(max_length=254)  # an e-mail address, or "webhook"
    subject: str = Field(max_length=200)
    body: str = Field(sa_column=Column(Text, nullable=False))
    state: str = Field(default=NotificationState.PENDING, max_length=10)
    attempts: int = 0
    next_try_at: datetime = _when()
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime = _when()
    sent_at: datetime | None = _maybe_when()


class NotificationPreference(SQLModel, table=True):
    """The notifications a person turned off (every kind is on until they do)."""

    __tablename__ = "notification_preference"
    email: str = Field(primary_key=True, max_length=254)
    muted: str = Field(default="", max_length=500)  # kinds, comma-separated
    updated_at: datetime = _when()


class BatchState(StrEnum):
    DRAFT = "DRAFT"  # rows being checked and fixed
    AWAITING_APPROVAL = "AWAITING_APPROVAL"
    APPROVED = "APPROVED"  # waiting for the passcode to start
    RUNNING = "RUNNING"
    PAUSED = "PAUSED"
    FINISHED = "FINISHED"  # every row final
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"


class Batch(SQLModel, table=True):
    """A bulk payout: many rows, one approval, one passcode."""

    __tablename__ = "batch"
    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200)
    state: str = Field(default=BatchState.DRAFT, max_length=20, index=True)
    created_by: str = Field(max_length=254)
    decided_by: str | None = Field(default=None, max_length=254)
    decided_at: datetime | None = _maybe_when()
    decision_reason: str | None = Field(default=None, max_length=500)
    #: 1 or 2 different managers (approval rules, on the batch's total per currency).
    approvals_needed: int = Field(default=1, sa_column_kwargs={"server_default": "1"})
    first_approved_by: str | None = Field(default=None, max_length=254)
    first_approved_at: datetime | None = _maybe_when()
    retry_of: int | None = None
    #: The one worker paying the batch, across every console process (`ledger.leases.claim_batch`).
    worker_owner: str | None = Field(default=None, max_length=64)
    worker_until: datetime | None = _maybe_when()
    created_at: datetime = _when()
    updated_at: datetime = _when()


class BatchRowState(StrEnum):
    VALID = "VALID"
    INVALID = "INVALID"
    EXCLUDED = "EXCLUDED"
    QUEUED = "QUEUED"  # approved, not sent yet: may still be cancelled
    SENT = "SENT"  # handed to the execution protocol
    PAID = "PAID"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


#: Rows that hold their own reference: paid, or money that is (or may be) on its way.
REFERENCE_HOLDING_ROWS = (BatchRowState.QUEUED, BatchRowState.SENT, BatchRowState.PAID)


class BatchRow(SQLModel, table=True):
    __tablename__ = "batch_row"
    __table_args__ = (UniqueConstraint("batch_id", "row_number"),)
    id: int | None = Field(default=None, primary_key=True)
    batch_id: int = Field(index=True)
    row_number: int
    name: str = Field(default="", max_length=200)
    phone: str = Field(default="", max_length=32)
    amount_text: str = Field(default="", max_length=40)
    amount: Decimal | None = _money()
    currency: str = Field(default="", max_length=8)
    note: str = Field(default="", max_length=500)
    own_reference: str | None = Field(default=None, max_length=100, index=True)
    state: str = Field(default=BatchRowState.VALID, max_length=16, index=True)
    problems: str = Field(default="", max_length=1000)
    carrier: str | None = Field(default=None, max_length=40)
    predicted_fees: Decimal | None = _money()
    predicted_debit: Decimal | None = _money()
    intent_key: str | None = Field(default=None, max_length=64)
    reference_id: str | None = Field(default=None, max_length=36)
    payee_amount: Decimal | None = _money()
    payer_amount: Decimal | None = _money()
    failure_reason: str | None = Field(default=None, max_length=500)
    updated_at: datetime = _when()


# One row at a time may hold an own reference (compared without case), across every batch: two
# batches started at the same instant cannot both queue it, whichever process starts them.
_holding = BatchRow.__table__.c.state.in_([s.value for s in REFERENCE_HOLDING_ROWS])  # type: ignore[attr-defined]
HELD_REFERENCE_INDEX = "uq_batch_row_held_reference"
Index(
    HELD_REFERENCE_INDEX,
    func.lower(BatchRow.__table__.c.own_reference),  # type: ignore[attr-defined]
    unique=True,
    postgresql_where=_holding,
    sqlite_where=_holding,
)


class PaymentOrigin(StrEnum):
    """How a payment reached the ledger."""

    CONSOLE = "CONSOLE"  # sent by a person through the console
    PAY_LINK = "PAY_LINK"  # a console document paid on Dollr's hosted page (link or checkout)
    OUTSIDE = "OUTSIDE"  # a document made outside the console, brought in by the sync


class PaymentDetail(SQLModel, table=True):
    """What an execution response does not say: the receipt's fees and FX, what a refund refunds,
    where a transfer goes. One row per intent (only one of its attempts can complete)."""

    __tablename__ = "payment_detail"
    id: int | None = Field(default=None, primary_key=True)
    intent_id: int = Field(unique=True)
    origin: str = Field(default=PaymentOrigin.CONSOLE, max_length=16)
    fee_bearer: str | None = Field(default=None, max_length=8)
    platform_fee: Decimal | None = _money()
    gateway_fee: Decimal | None = _money()
    fx_fee: Decimal | None = _money()
    fee_currency: str | None = Field(default=None, max_length=3)
    fx_rate: Decimal | None = _money()
    fx_currency_from: str | None = Field(default=None, max_length=3)
    fx_currency_to: str | None = Field(default=None, max_length=3)
    #: A refund: the collection it gives money back from.
    refund_of: str | None = Field(default=None, max_length=36, index=True)
    original_payment_intent_id: int | None = None
    #: A transfer: the counterparty's wallet it goes to, and our wallet it leaves.
    to_counterparty_id: int | None = None
    from_wallet_id: int | None = None
    paid_at: datetime | None = _maybe_when()
    created_at: datetime = _when()


class DocumentItem(SQLModel, table=True):
    """A document's line as Dollr holds it (kept for documents the sync brought in)."""

    __tablename__ = "document_item"
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(index=True)
    name: str = Field(max_length=200)
    qty: int = 1
    unit_amount: Decimal | None = _money()
    currency: str = Field(max_length=3)


class DocumentCopy(SQLModel, table=True):
    """Every copy of a document sent to its customer: by e-mail, as SMS text, or as a PDF."""

    __tablename__ = "document_copy"
    id: int | None = Field(default=None, primary_key=True)
    document_id: int = Field(index=True)
    channel: str = Field(max_length=8)
    recipient: str = Field(default="", max_length=254)
    sent_by: str = Field(max_length=254)
    outcome: str = Field(default="sent", max_length=16)
    sent_at: datetime = _when()


class OpeningBalance(SQLModel, table=True):
    """The wallet's balance on a day, entered once per currency by finance: statements start here."""

    __tablename__ = "opening_balance"
    id: int | None = Field(default=None, primary_key=True)
    currency: str = Field(unique=True, max_length=3)
    amount: Decimal = Field(sa_type=Money, sa_column_kwargs={"nullable": False})
    #: The start of the day (company time zone) the balance held at, as UTC.
    as_of: datetime = Field(sa_type=UTCDateTime, sa_column_kwargs={"nullable": False})
    entered_by: str = Field(max_length=254)
    entered_at: datetime = _when()


class ReconciliationRun(SQLModel, table=True):
    """One reconciliation report: the ledger's payments of a period checked against Dollr."""

    __tablename__ = "reconciliation_run"
    id: int | None = Field(default=None, primary_key=True)
    period_from: datetime = Field(sa_type=UTCDateTime, sa_column_kwargs={"nullable": False})
    period_to: datetime = Field(sa_type=UTCDateTime, sa_column_kwargs={"nullable": False})
    state: str = Field(default="RUNNING", max_length=16)
    started_by: str = Field(max_length=254)
    created_at: datetime = _when()
    finished_at: datetime | None = _maybe_when()


class ReconciliationItem(SQLModel, table=True):
    """One payment of a run: checked yet or not (so a run resumes), and what differs."""

    __tablename__ = "reconciliation_item"
    __table_args__ = (UniqueConstraint("run_id", "reference_id"),)
    id: int | None = Field(default=None, primary_key=True)
    run_id: int = Field(index=True)
    reference_id: str = Field(max_length=64)
    operation_type: str = Field(max_length=16)
    checked: bool = False
    finding: str = Field(default="", max_length=32)
    detail: str = Field(default="", max_length=500)


class ConsoleSession(SQLModel, table=True):
    """A signed-in browser (every tab of it shares the one cookie): only hashes of its secrets are
    kept, so a copy of the ledger signs no one in."""

    __tablename__ = "console_session"
    id: int | None = Field(default=None, primary_key=True)
    #: SHA-256 of the cookie's token; empty until the one-time ticket is exchanged for the cookie.
    token_hash: str | None = Field(default=None, max_length=64, unique=True)
    #: SHA-256 of the one-time ticket the sign-in hands to the cookie route; cleared once used.
    ticket_hash: str | None = Field(default=None, max_length=64, unique=True)
    ticket_expires_at: datetime | None = _maybe_when()
    email: str = Field(max_length=254, index=True)
    #: The role and password generation signed in under: a change of either ends the session.
    role: str = Field(max_length=16)
    generation: int
    client: str = Field(default="", max_length=300)
    created_at: datetime = _when()
    last_seen_at: datetime = _when()
    revoked_at: datetime | None = _maybe_when()
    revoked_reason: str = Field(default="", max_length=32)
