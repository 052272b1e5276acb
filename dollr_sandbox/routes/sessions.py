"""Sessions (S1–S4) and payment accounts (PA1): what an execution is about to use, checked as Dollr does."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from starlette.responses import Response

from dollr_core.basics.enums import (
    ExecutionStatus,
    FeeBearer,
    OperationType,
    PaymentMethod,
    SourceStatus,
)
from dollr_sandbox import views
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import Forbidden, Loc, invalid, wrong_state
from dollr_sandbox.pricing import PricingError, Quote, round_to
from dollr_sandbox.records import PaymentAccount, Session, Source
from dollr_sandbox.schemas import (
    CheckoutSessionCreate,
    CheckoutSessionOut,
    PaymentAccountCreate,
    PaymentAccountOut,
    PayoutSessionCreate,
    PayoutSessionOut,
    RefundSessionCreate,
    RefundSessionOut,
    TransferSessionCreate,
    TransferSessionOut,
    amount_errors,
)
from dollr_sandbox.state import SandboxState

router = APIRouter()

SESSION_NAMES = {
    OperationType.COLLECTION: "checkout",
    OperationType.PAYOUT: "payout",
    OperationType.TRANSFER: "transfer",
    OperationType.REFUND: "refund",
}
_NOT_PAYABLE = {
    SourceStatus.IDLE: "unpublished: publish it first",
    SourceStatus.PROCESSING: "PROCESSING: a collection is already in flight",
    SourceStatus.PAID: "already PAID",
    SourceStatus.CANCELED: "CANCELED: create a new source",
}


def gate(state: SandboxState, feature: str) -> None:
    """403 for a merchant still in onboarding (§6.3)."""
    if not state.config.verified:
        raise Forbidden(f"{feature} need a fully verified merchant (KYC/KYB pending)")


def quote_for(
    state: SandboxState,
    locs: dict[str, Loc],
    *,
    amount: Decimal,
    base_currency: str,
    target_currency: str,
    method: PaymentMethod,
    operation: OperationType,
    fee_bearer: FeeBearer,
) -> Quote:
    """Price through the one engine; its complaints land on the field that caused them."""
    try:
        return state.pricing.quote(
            amount, base_currency, target_currency, method, operation, fee_bearer, state.config.fee_tier
        )
    except PricingError as exc:
        raise invalid(locs.get(exc.field, ("body",)), exc.message) from None


def check_method_currency(state: SandboxState, method: PaymentMethod, currency: str, loc: Loc) -> None:
    try:
        state.pricing.check_currency(method, currency, "currency")
    except PricingError as exc:
        raise invalid(loc, exc.message) from None


def _future(state: SandboxState, expires_at: datetime, loc: Loc) -> None:
    if expires_at <= state.now():
        raise invalid(loc, "expires_at must be in the future")


def payable(state: SandboxState, source: Source, loc: Loc) -> None:
    """422 unless a collection may start on ``source``.

    ACTIVE sources are payable. So is a PROCESSING one, unless the switch refuses it: the docs warn
    that a second collection with a new reference while the first is in flight risks a double
    charge live (§7.3), so the sandbox charges it too rather than hide a client's double send.
    """
    if source.status is SourceStatus.ACTIVE:
        return
    if source.status is SourceStatus.PROCESSING and not state.config.refuse_collection_while_processing:
        return
    raise wrong_state(loc, f"{source.number} is {_NOT_PAYABLE[source.status]}")


def _new_session(state: SandboxState, operation: OperationType, **fields: Any) -> Session:
    now = state.now()
    fields.setdefault("expires_at", now + timedelta(seconds=state.config.session_ttl_seconds))
    session = Session(
        id=state.next_id("session"), operation=operation, created_at=now, updated_at=now, **fields
    )
    return state.sessions.put(session)


# --- sessions -------------------------------------------------------------------------------


@router.post("/sessions/checkout", response_model=CheckoutSessionOut, tags=["sessions"])
async def checkout_session(
    state: StateDep, body: Annotated[CheckoutSessionCreate, Depends(json_body(CheckoutSessionCreate))]
) -> Response:
    with state.transaction():
        source = state.source(body.source_id)
        if source is None:
            raise invalid(("body", "source_id"), f"source {body.source_id} not found")
        if source.kind is not body.source_type:
            raise invalid(
                ("body", "source_type"),
                f"source {body.source_id} is an {source.kind.value}, not {body.source_type.value}",
            )
        payable(state, source, ("body", "source_id"))
        session = _new_session(state, OperationType.COLLECTION, source_id=source.id, source_type=source.kind)
        out = CheckoutSessionOut(
            id=session.id,
            source_id=source.id,
            source_type=source.kind,
            status=session.status.value,
            payment_account_id=None,
            expires_at=session.expires_at,
            created_at=session.created_at,
            updated_at=session.updated_at,
        )
        return reply(state, out)


def account_for(
    state: SandboxState, account_id: int, operation: OperationType, loc: Loc, what: str = "payment account"
) -> PaymentAccount:
    account = state.accounts.get(account_id)
    if account is None:
        raise invalid(loc, f"{what} {account_id} not found")
    if account.operation_type is not operation:
        raise invalid(
            loc,
            f"{what} {account_id} was created with operation_type={account.operation_type.value}; "
            f"this needs one created with operation_type={operation.value}",
        )
    if not account.is_active:
        raise invalid(loc, f"{what} {account_id} is inactive")
    return account


@router.post("/sessions/payout", response_model=PayoutSessionOut, tags=["sessions"])
async def payout_session(
    state: StateDep, body: Annotated[PayoutSessionCreate, Depends(json_body(PayoutSessionCreate))]
) -> Response:
    gate(state, "Payouts")
    with state.transaction():
        loc: Loc = ("body", "payout_account_id")
        account = account_for(state, body.payout_account_id, OperationType.PAYOUT, loc, "payout account")
        check_method_currency(state, account.method, body.currency, ("body", "currency"))
        wallet = state.wallet_for(body.currency)
        if wallet is None:
            raise invalid(("body", "currency"), f"the merchant has no {body.currency} wallet")
        session = _new_session(
            state,
            OperationType.PAYOUT,
            payout_account_id=account.id,
            amount=body.amount,
            currency=body.currency,
            wallet_id=wallet.id,
        )
        out = PayoutSessionOut(
            id=session.id,
            payout_account_id=account.id,
            amount=round_to(body.amount, body.currency),
            currency=body.currency,
            wallet_id=wallet.id,
            status=session.status.value,
            expires_at=session.expires_at,
            created_at=session.created_at,
        )
        return reply(state, out)


@router.post("/sessions/transfer", response_model=TransferSessionOut, tags=["sessions"])
async def transfer_session(
    state: StateDep, body: Annotated[TransferSessionCreate, Depends(json_body(TransferSessionCreate))]
) -> Response:
    gate(state, "Transfers")
    with state.transaction():
        wallet = state.wallets.get(body.from_wallet_id)
        if wallet is None:
            raise invalid(("body", "from_wallet_id"), f"wallet {body.from_wallet_id} not found")
        if wallet.currency != body.currency:
            raise invalid(
                ("body", "currency"), f"wallet {wallet.id} holds {wallet.currency}, not {body.currency}"
            )
        if state.counterparties.get(body.to_counterparty_id) is None:
            raise invalid(("body", "to_counterparty_id"), f"counterparty {body.to_counterparty_id} not found")
        _future(state, body.expires_at, ("body", "expires_at"))
        session = _new_session(
            state,
            OperationType.TRANSFER,
            wallet_id=wallet.id,
            to_counterparty_id=body.to_counterparty_id,
            amount=body.amount,
            currency=body.currency,
            expires_at=body.expires_at,
        )
        out = TransferSessionOut(
            id=session.id,
            from_wallet_id=wallet.id,
            to_counterparty_id=body.to_counterparty_id,
            amount=round_to(body.amount, body.currency),
            currency=body.currency,
            status=session.status.value,
            expires_at=session.expires_at,
            created_at=session.created_at,
        )
        return reply(state, out)


@router.post("/sessions/refund", response_model=RefundSessionOut, tags=["sessions"])
async def refund_session(
    state: StateDep, body: Annotated[RefundSessionCreate, Depends(json_body(RefundSessionCreate))]
) -> Response:
    gate(state, "Refunds")
    with state.transaction():
        original = state.collection_by_intent(body.original_payment_intent_id)
        if original is None or original.status is not ExecutionStatus.COMPLETED:
            raise invalid(
                ("body", "original_payment_intent_id"),
                f"no completed collection has payment intent {body.original_payment_intent_id}",
            )
        currency = original.payee_currency
        problems = amount_errors(body.amount, currency, ("body", "amount"))
        if problems:
            raise invalid(("body", "amount"), problems[0]["msg"], problems[0]["type"])
        remaining = original.base_amount - state.refunded_total(original.reference_id)
        if body.amount > remaining:
            raise invalid(
                ("body", "amount"), f"more than the refundable {currency} {round_to(remaining, currency)}"
            )
        _future(state, body.expires_at, ("body", "expires_at"))
        wallet = state.wallet_for(currency)
        session = _new_session(
            state,
            OperationType.REFUND,
            original_payment_intent_id=body.original_payment_intent_id,
            amount=body.amount,
            currency=currency,
            reason=body.reason,
            wallet_id=wallet.id if wallet else None,
            expires_at=body.expires_at,
        )
        out = RefundSessionOut(
            id=session.id,
            original_payment_intent_id=body.original_payment_intent_id,
            amount=round_to(body.amount, currency),
            currency=currency,
            reason=body.reason,
            status=session.status.value,
            expires_at=session.expires_at,
            created_at=session.created_at,
        )
        return reply(state, out)


# --- payment accounts -----------------------------------------------------------------------


@router.post("/payment-accounts/create", response_model=PaymentAccountOut, tags=["payment accounts"])
async def create_payment_account(
    state: StateDep,
    operation_type: OperationType,
    body: Annotated[PaymentAccountCreate, Depends(json_body(PaymentAccountCreate))],
) -> Response:
    with state.transaction():
        if state.parties.get(body.party_id) is None:
            raise invalid(("body", "party_id"), f"party {body.party_id} not found")
        try:
            state.pricing.gateway_fee(body.method, operation_type)
        except PricingError as exc:
            raise invalid(("body", "method"), exc.message) from None
        _operator_matches(state, body)
        now = state.now()
        account = PaymentAccount(
            id=state.next_id("payment_account"),
            operation_type=operation_type,
            created_at=now,
            updated_at=now,
            **body.model_dump(),
        )
        return reply(state, views.payment_account(state.accounts.put(account)))


def _operator_matches(state: SandboxState, body: PaymentAccountCreate) -> None:
    """A wallet number belongs to the operator its prefix says (the error catalog's "wrong operator")."""
    number = body.insensitive_account_number
    if not (state.config.check_operator and body.method.is_mobile_money and number):
        return
    operator = state.operators.detect(number)
    if operator is not None and operator.payment_method is not body.method:
        raise invalid(
            ("body", "method"),
            f"invalid combination: {number[:5]}… is served by {operator.carrier} "
            f"({operator.payment_method.value}), not {body.method.value}; "
            "ask mmo-provider-info which method serves it",
            "value_error.combination",
        )


def account_of_payer(state: SandboxState, account: PaymentAccount, source: Source, loc: Loc) -> None:
    """The account paying a document belongs to the party the document bills."""
    counterparty = state.counterparties.get(source.counterparty_id)
    payer = counterparty.party_id if counterparty is not None else None
    if state.config.check_account_party and payer is not None and account.party_id != payer:
        raise invalid(
            loc,
            f"payment account {account.id} belongs to party {account.party_id}, "
            f"not to party {payer} whom {source.number} bills",
        )


# --- executions -----------------------------------------------------------------------------
