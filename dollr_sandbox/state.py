"""The sandbox's memory and its clockwork: records, wallets, and how executions move over time.

All reads and writes happen inside :meth:`SandboxState.transaction`, which holds one lock, first
applies every execution transition that is due on the sandbox clock (:meth:`tick`), and on the way
out commits the records that changed. Transitions are lazy: nothing runs in the background, so
advancing the clock moves everything deterministically.
"""

from __future__ import annotations

import dataclasses
import heapq
import secrets
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, Generic, TypeVar

from dollr_core.basics.enums import (
    CURRENCY_MINOR_UNITS,
    ExecutionStatus,
    OperationType,
    PaymentMethod,
    Provider,
    SourceStatus,
    SourceType,
)
from dollr_sandbox.cards import card_for
from dollr_sandbox.clock import SandboxClock
from dollr_sandbox.config import SandboxConfig
from dollr_sandbox.encoding import format_datetime
from dollr_sandbox.faults import FaultBook
from dollr_sandbox.operators import OperatorTable
from dollr_sandbox.pricing import Pricing, Quote, round_to
from dollr_sandbox.ratelimit import RateLimiter
from dollr_sandbox.records import (
    Checkout,
    Counterparty,
    Execution,
    Meta,
    Party,
    PaymentAccount,
    Record,
    Session,
    Source,
    Token,
    Wallet,
)
from dollr_sandbox.request_stats import RequestStats
from dollr_sandbox.store import MemoryStore, Row, SqliteStore

K = TypeVar("K", int, str)
R = TypeVar("R", bound=Record)

_COMPLETED = ExecutionStatus.COMPLETED
_FAILED = ExecutionStatus.FAILED


class Table(Generic[K, R]):
    """Records of one kind by key, remembering which changed since the last commit."""

    def __init__(self, kind: str, model: type[R], key: Callable[[R], K]) -> None:
        self.kind = kind
        self.model = model
        self._key: Callable[[R], K] = key
        self.rows: dict[K, R] = {}
        self._dirty: set[K] = set()

    def get(self, key: K) -> R | None:
        return self.rows.get(key)

    def put(self, record: R) -> R:
        key = self._key(record)
        self.rows[key] = record
        self._dirty.add(key)
        return record

    def values(self) -> list[R]:
        return list(self.rows.values())

    def load(self, data: str) -> None:
        record = self.model.model_validate_json(data)
        self.rows[self._key(record)] = record

    def drain(self) -> list[Row]:
        rows = [(self.kind, str(key), self.rows[key].model_dump_json()) for key in self._dirty]
        self._dirty.clear()
        return rows

    def clear(self) -> None:
        self.rows.clear()
        self._dirty.clear()


# Test numbers (last four digits of the wallet number) and what they do.
DECLINED, NO_FUNDS, SLOW, NEVER_APPROVED = "0001", "0002", "0003", "0004"

_COLLECTION_FAILURES = {
    DECLINED: "Payer declined the payment request (sandbox test number ending 0001)",
    NO_FUNDS: "Payer has insufficient funds (sandbox test number ending 0002)",
    NEVER_APPROVED: "Payer did not approve the payment in time (sandbox test number ending 0004)",
}
_PAYOUT_FAILURES = {
    DECLINED: "Recipient's operator rejected the payout (sandbox test number ending 0001)",
    NO_FUNDS: "Recipient's wallet cannot receive funds: limit reached (sandbox test number ending 0002)",
    NEVER_APPROVED: "Operator did not confirm the payout in time (sandbox test number ending 0004)",
}
_NOT_AUTHENTICATED = "The customer did not complete 3-D Secure authentication in time (sandbox test card)."
_AUTHENTICATION_FAILED = "The customer failed 3-D Secure authentication (sandbox test card)."


class SandboxState:
    """Everything the sandbox knows, behind one lock."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        # A copy: run-time switches (verified, latency...) must not leak into the caller's object.
        self.config = dataclasses.replace(config) if config is not None else SandboxConfig()
        self.pricing = Pricing(self.config.pricing)
        self.operators = OperatorTable(self.config.operator_prefixes)
        self.clock = SandboxClock()
        self.faults = FaultBook()
        self.limiter = RateLimiter()
        self.stats = RequestStats()
        self.lock = threading.RLock()
        self._depth = 0
        self.store = SqliteStore(self.config.state_file) if self.config.state_file else MemoryStore()
        self.parties = Table("party", Party, lambda r: r.id)
        self.counterparties = Table("counterparty", Counterparty, lambda r: r.id)
        self.sources = Table("source", Source, lambda r: r.id)
        self.checkouts = Table("checkout", Checkout, lambda r: r.id)
        self.sessions = Table("session", Session, lambda r: r.id)
        self.accounts = Table("account", PaymentAccount, lambda r: r.id)
        self.executions = Table("execution", Execution, lambda r: r.reference_id)
        self.wallets = Table("wallet", Wallet, lambda r: r.id)
        self.tokens = Table("token", Token, lambda r: r.jti)
        self._tables: tuple[Table[Any, Any], ...] = (
            self.parties,
            self.counterparties,
            self.sources,
            self.checkouts,
            self.sessions,
            self.accounts,
            self.executions,
            self.wallets,
            self.tokens,
        )
        self.meta = Meta(signing_key=secrets.token_hex(32))
        self._meta_dirty = False
        #: Executions not yet final.
        self._open: set[str] = set()
        #: (when an open execution's next step falls due, its reference): a tick pops what is due
        #: instead of looking at every open execution on every request (that was a third of the
        #: sandbox's CPU with a few hundred payouts in flight).
        self._due: list[tuple[datetime, str]] = []
        #: payment_intent_id → collection reference.
        self._intents: dict[int, str] = {}
        self._load()

    # --- lifecycle of the state itself ------------------------------------------------------

    def _load(self) -> None:
        rows = self.store.load()
        if not rows:
            self._initialise()
            self.flush()
            return
        tables = {table.kind: table for table in self._tables}
        for kind, _key, data in rows:
            if kind == "meta":
                self.meta = Meta.model_validate_json(data)
            else:
                tables[kind].load(data)
        self.clock.reset(self.meta.clock_offset)
        self._reindex()

    def _initialise(self) -> None:
        start = self.config.start_time
        if start is not None:
            start = start if start.tzinfo is not None else start.replace(tzinfo=UTC)
            self.clock.reset(0.0)
            self.clock.reset((start - self.clock.now()).total_seconds())
        now = self.clock.now()
        self.meta = Meta(signing_key=secrets.token_hex(32))
        self._meta_dirty = True
        balances = self.config.initial_balances
        for currency in [*balances, *(c for c in CURRENCY_MINOR_UNITS if c not in balances)]:
            amount = round_to(Decimal(balances.get(currency, 0)), currency)
            wallet_id = self.next_id("wallet")
            self.wallets.put(
                Wallet(id=wallet_id, currency=currency, balance=amount, created_at=now, updated_at=now)
            )

    def _reindex(self) -> None:
        self._open = {ex.reference_id for ex in self.executions.values() if not ex.status.is_final}
        self._due = []
        for reference in self._open:
            self._watch(self.executions.rows[reference])
        self._intents = {
            ex.payment_intent_id: ex.reference_id
            for ex in self.executions.values()
            if ex.payment_intent_id is not None
        }

    def reset(self) -> None:
        """Back to the initial state: no records, initial balances, clock offset zero."""
        with self.lock:
            for table in self._tables:
                table.clear()
            self.clock.reset()
            self.faults.clear()
            self.limiter.clear()
            self._open.clear()
            self._due.clear()
            self._intents.clear()
            self._initialise()
            self.flush(replace=True)

    def close(self) -> None:
        with self.lock:
            self.store.close()

    @contextmanager
    def transaction(self) -> Iterator[SandboxState]:
        """Hold the lock, bring executions up to date, and commit whatever changed on the way out."""
        with self.lock:
            self._depth += 1
            try:
                if self._depth == 1:
                    self.tick()
                yield self
            finally:
                self._depth -= 1
                if self._depth == 0:
                    self.flush()

    def flush(self, replace: bool = False) -> None:
        """Commit the changed records; ``replace`` drops everything else in the same transaction."""
        rows: list[Row] = []
        for table in self._tables:
            rows.extend(table.drain())
        if self._meta_dirty:
            self.meta.clock_offset = self.clock.offset_seconds
            rows.append(("meta", "meta", self.meta.model_dump_json()))
            self._meta_dirty = False
        if rows or replace:
            self.store.write(rows, replace=replace)

    # --- small helpers ----------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def next_id(self, counter: str) -> int:
        value = self.meta.counters.get(counter, 0) + 1
        self.meta.counters[counter] = value
        self._meta_dirty = True
        return value

    def advance_clock(self, seconds: float) -> datetime:
        with self.transaction():
            self.clock.advance(seconds)
            self._meta_dirty = True
            self.tick()
            return self.clock.now()

    def wallet_for(self, currency: str) -> Wallet | None:
        for wallet in self.wallets.rows.values():
            if wallet.currency == currency:
                return wallet
        return None

    def source(self, source_id: int) -> Source | None:
        return self.sources.get(source_id)

    def source_by_number(self, number: str) -> Source | None:
        for source in self.sources.rows.values():
            if source.number == number:
                return source
        return None

    def collection_by_intent(self, intent_id: int) -> Execution | None:
        reference = self._intents.get(intent_id)
        return self.executions.get(reference) if reference else None

    # --- executions -------------------------------------------------------------------------

    def new_execution(
        self,
        *,
        reference_id: str,
        operation: OperationType,
        fingerprint: str,
        session_id: int | None,
        quote: Quote,
        **links: Any,
    ) -> Execution:
        """A PENDING execution priced by ``quote``; the caller plans and stores it."""
        now = self.now()
        return Execution(
            reference_id=reference_id,
            operation_type=operation,
            status=ExecutionStatus.PENDING,
            fingerprint=fingerprint,
            session_id=session_id,
            created_at=now,
            updated_at=now,
            method=quote.method,
            provider=quote.method.provider,
            fee_bearer=quote.fee_bearer,
            tier=quote.tier,
            base_amount=quote.base_amount,
            base_currency=quote.base_currency,
            payer_amount=quote.payer_amount,
            payer_currency=quote.payer_currency,
            payee_amount=quote.payee_amount,
            payee_currency=quote.payee_currency,
            platform_fee=quote.platform_fee,
            gateway_fee=quote.gateway_fee,
            fx_fee=quote.fx_fee,
            fx_rate=quote.fx_rate,
            **links,
        )

    def start(self, ex: Execution) -> Execution:
        """Plan the course of a new PENDING execution from its test number, then store it."""
        config = self.config
        now = ex.created_at
        pending = timedelta(seconds=config.pending_seconds)
        dwell = timedelta(seconds=config.processing_seconds)
        final_status, message = _COMPLETED, None
        ex.processing_at = now + pending
        if ex.method is PaymentMethod.CREDIT_CARD and ex.operation_type is OperationType.COLLECTION:
            card = card_for(ex.payment_method_id)
            if card.authentication:
                # Stripe answers at once that the customer must authenticate; the payment then waits
                # for the customer (``authenticate``) and fails if they never do.
                intent = f"pi_{secrets.token_hex(12)}"
                ex.status = ExecutionStatus.PROCESSING
                ex.processing_at = now
                ex.provider_transaction_id = intent
                ex.requires_action = True
                ex.client_secret = f"{intent}_secret_{secrets.token_hex(12)}"
                dwell = timedelta(seconds=config.card_authentication_seconds)
                final_status, message = _FAILED, _NOT_AUTHENTICATED
            elif card.decline is not None:
                final_status, message = _FAILED, card.gateway_message
        elif ex.method.is_mobile_money and ex.operation_type in (
            OperationType.COLLECTION,
            OperationType.PAYOUT,
        ):
            last4 = (ex.account_number or "")[-4:]
            failures = (
                _COLLECTION_FAILURES if ex.operation_type is OperationType.COLLECTION else _PAYOUT_FAILURES
            )
            if last4 == SLOW:
                dwell = timedelta(seconds=config.slow_seconds)
            elif last4 == NEVER_APPROVED:
                dwell = timedelta(seconds=config.timeout_seconds)
                final_status, message = _FAILED, failures[last4]
            elif last4 in failures:
                final_status, message = _FAILED, failures[last4]
        ex.final_at = ex.processing_at + dwell
        ex.final_status = final_status
        ex.final_message = message
        self.executions.put(ex)
        self._open.add(ex.reference_id)
        self._watch(ex)
        if ex.payment_intent_id is not None:
            self._intents[ex.payment_intent_id] = ex.reference_id
        return ex

    def authenticate(self, reference_id: str, *, succeed: bool) -> Execution | None:
        """The customer completes (or fails) 3-D Secure; None when nothing waits for it.

        Call inside a transaction. A completed authentication lets the charge go on: it reaches its
        outcome ``processing_seconds`` later (declined for the cards that decline after 3DS).
        """
        ex = self.executions.get(reference_id)
        if ex is None or not ex.requires_action or ex.status.is_final:
            return None
        now = self.now()
        if not succeed:
            self._finish(ex, _FAILED, _AUTHENTICATION_FAILED, now)
            return ex
        card = card_for(ex.payment_method_id)
        ex.requires_action = False
        ex.updated_at = now
        ex.final_at = now + timedelta(seconds=self.config.processing_seconds)
        ex.final_status = _FAILED if card.decline else _COMPLETED
        ex.final_message = card.gateway_message
        self.executions.put(ex)
        self._watch(ex)
        return ex

    def fail_at_once(
        self, ex: Execution, *, gateway_message: str | None = None, wallet_message: str | None = None
    ) -> Execution:
        """Store an execution that went PENDING → FAILED before reaching the gateway."""
        ex.status = _FAILED
        ex.gateway_message = gateway_message
        ex.wallet_message = wallet_message
        self.executions.put(ex)
        if ex.payment_intent_id is not None:
            self._intents[ex.payment_intent_id] = ex.reference_id
        return ex

    def hold(self, ex: Execution, wallet: Wallet) -> bool:
        """Reserve the payer amount on ``wallet``; False (and a wallet message) when it is short."""
        needed = ex.payer_amount
        if wallet.available < needed:
            currency = wallet.currency
            ex.wallet_message = (
                f"Insufficient wallet balance: {currency} {round_to(wallet.available, currency)} available, "
                f"{currency} {needed} needed"
            )
            return False
        wallet.held += needed
        wallet.updated_at = ex.created_at
        self.wallets.put(wallet)
        ex.wallet_id = wallet.id
        ex.held = needed
        return True

    def tick(self) -> None:
        """Apply every transition that is due on the sandbox clock, oldest execution first."""
        now = self.clock.now()
        due: dict[str, Execution] = {}
        while self._due and self._due[0][0] <= now:
            _, reference = heapq.heappop(self._due)
            if reference in self._open:
                due[reference] = self.executions.rows[reference]
        for ex in sorted(due.values(), key=lambda ex: ex.created_at):
            self._advance(ex, now)
            if ex.reference_id in self._open:
                self._watch(ex)

    def _watch(self, ex: Execution) -> None:
        """Queue the open execution's next step (a stale entry is harmless: `_advance` checks)."""
        pending = ex.status is ExecutionStatus.PENDING and ex.processing_at is not None
        when = ex.processing_at if pending else ex.final_at
        if when is not None:
            heapq.heappush(self._due, (when, ex.reference_id))

    def _advance(self, ex: Execution, now: datetime) -> None:
        if ex.status is ExecutionStatus.PENDING and ex.processing_at is not None and now >= ex.processing_at:
            ex.status = ExecutionStatus.PROCESSING
            ex.provider_transaction_id = ex.provider_transaction_id or _transaction_id(ex.provider)
            ex.updated_at = ex.processing_at
            self.executions.put(ex)
        if ex.final_at is not None and ex.final_status is not None and now >= ex.final_at:
            self._finish(ex, ex.final_status, ex.final_message, ex.final_at)

    def _finish(self, ex: Execution, status: ExecutionStatus, message: str | None, at: datetime) -> None:
        ex.status = status
        ex.updated_at = at
        ex.requires_action = False
        if status is _FAILED:
            ex.gateway_message = message
        else:
            ex.completed_at = at
        self._open.discard(ex.reference_id)
        if ex.operation_type is OperationType.COLLECTION:
            self._settle_collection(ex, at)
        elif ex.wallet_id is not None and ex.held:
            wallet = self.wallets.rows[ex.wallet_id]
            wallet.held -= ex.held
            if status is _COMPLETED:
                wallet.balance -= ex.held
            wallet.updated_at = at
            self.wallets.put(wallet)
            ex.held = Decimal(0)
        self.executions.put(ex)

    def _settle_collection(self, ex: Execution, at: datetime) -> None:
        source = self.sources.get(ex.source_id) if ex.source_id is not None else None
        if ex.status is _COMPLETED:
            wallet = self.wallet_for(ex.payee_currency)
            if wallet is not None:
                wallet.balance += ex.payee_amount
                wallet.updated_at = at
                self.wallets.put(wallet)
                ex.wallet_id = wallet.id
            # A second collection completing on a PAID source is a double charge: the money moves
            # (as it would live) and the source keeps the first payment as its receipt.
            if source is not None and source.status is SourceStatus.PROCESSING:
                source.status = SourceStatus.PAID
                source.paid_at = at
                source.paid_by = ex.reference_id
                source.updated_at = at
                self.sources.put(source)
        elif (
            source is not None
            and source.status is SourceStatus.PROCESSING
            and not self._collections_in_flight(source.id)
        ):
            # Implied by the contract: a failed collection leaves the source payable again, once no
            # other collection on it is still in flight.
            source.status = SourceStatus.ACTIVE
            source.updated_at = at
            self.sources.put(source)

    def _collections_in_flight(self, source_id: int) -> bool:
        return any(
            self.executions.rows[ref].operation_type is OperationType.COLLECTION
            and self.executions.rows[ref].source_id == source_id
            for ref in self._open
        )

    def refunded_total(self, collection_reference: str) -> Decimal:
        """Refunds completed or in flight against one collection."""
        return sum(
            (
                ex.base_amount
                for ex in self.executions.rows.values()
                if ex.refund_of == collection_reference and ex.status is not _FAILED
            ),
            Decimal(0),
        )

    # --- inspection -------------------------------------------------------------------------

    def execution_rows(self) -> list[dict[str, Any]]:
        with self.transaction():
            rows = sorted(self.executions.values(), key=lambda ex: ex.created_at)
            return [execution_row(ex) for ex in rows]

    def wallet_rows(self) -> list[dict[str, Any]]:
        with self.transaction():
            return [
                {
                    "id": w.id,
                    "currency": w.currency,
                    "status": w.status.value,
                    "balance": w.balance,
                    "held": w.held,
                    "available": w.available,
                    "updated_at": format_datetime(w.updated_at),
                }
                for w in self.wallets.values()
            ]

    def balances(self) -> dict[str, Decimal]:
        """Available balance (settled minus held) per currency."""
        with self.transaction():
            return {w.currency: w.available for w in self.wallets.values()}


def execution_row(ex: Execution) -> dict[str, Any]:
    """One line of ``GET /_sandbox/executions``: money as Decimal, times as ISO strings."""
    return {
        "reference_id": ex.reference_id,
        "operation_type": ex.operation_type.value,
        "status": ex.status.value,
        "currency": ex.payer_currency,
        "payer_amount": ex.payer_amount,
        "payer_currency": ex.payer_currency,
        "payee_amount": ex.payee_amount,
        "payee_currency": ex.payee_currency,
        "base_amount": ex.base_amount,
        "base_currency": ex.base_currency,
        "platform_fee": ex.platform_fee,
        "gateway_fee": ex.gateway_fee,
        "fx_fee": ex.fx_fee,
        "fx_rate": ex.fx_rate,
        "fee_bearer": ex.fee_bearer.value,
        "payment_method": ex.method.value,
        "provider": ex.provider.value,
        "session_id": ex.session_id,
        "account_number": ex.account_number,
        "payment_account_id": ex.payment_account_id,
        "payout_account_id": ex.payout_account_id,
        "payment_intent_id": ex.payment_intent_id,
        "source_type": ex.source_type.value if ex.source_type else None,
        "source_id": ex.source_id,
        "wallet_id": ex.wallet_id,
        "refund_of": ex.refund_of,
        "provider_transaction_id": ex.provider_transaction_id,
        "gateway_message": ex.gateway_message,
        "wallet_message": ex.wallet_message,
        "requires_action": ex.requires_action,
        "created_at": format_datetime(ex.created_at),
        "updated_at": format_datetime(ex.updated_at),
    }


def _transaction_id(provider: Provider) -> str:
    if provider is Provider.STRIPE:
        return f"pi_{secrets.token_hex(12)}"
    if provider is Provider.PLATFORM:
        return f"wtx_{secrets.token_hex(8)}"
    return str(uuid.uuid4())


def source_number(kind: SourceType, year: int, serial: int) -> str:
    prefix = "INV" if kind is SourceType.INVOICE else "ORD"
    return f"{prefix}-{year}-{serial:05d}"
