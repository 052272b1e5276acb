"""PR1–PR4 predictions, F1–F4 fees, L1–L2 links, M1 merchant info and R1 realtime keys."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from starlette.responses import Response

from dollr_core.basics.enums import (
    CURRENCY_MINOR_UNITS,
    FeeBearer,
    MerchantType,
    OperationType,
    OwnerType,
    PaymentMethod,
    Provider,
    SourceStatus,
    SourceType,
)
from dollr_sandbox import tokens
from dollr_sandbox.cards import card_for
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import Loc, NotFound, invalid, wrong_state
from dollr_sandbox.pricing import MAX_AMOUNT, PricingError, Quote, fits_minor_units, format_amount
from dollr_sandbox.records import SessionStatus
from dollr_sandbox.routes.documents import find_by_number, hosted_url
from dollr_sandbox.routes.sessions import gate
from dollr_sandbox.schemas import (
    CardInfoOut,
    GatewayFeeOut,
    LinkOut,
    MerchantOut,
    MerchantTierOut,
    MmoInfoOut,
    PlatformFeeOut,
    PredictionOut,
    RealtimeKeyCreate,
    RealtimeKeyOut,
    TierOut,
)
from dollr_sandbox.state import SandboxState

router = APIRouter()

#: Fee tiers have no history in the sandbox; one fixed date keeps responses stable.
_TIER_DATE = datetime(2025, 1, 1, tzinfo=UTC)


def _currency(value: str, loc: Loc) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise invalid(loc, "currency must be an ISO 4217 code in upper case")
    if value not in CURRENCY_MINOR_UNITS:
        raise invalid(loc, f"currency {value} is not supported ({', '.join(CURRENCY_MINOR_UNITS)})")
    return value


def _provider_matches(method: PaymentMethod, provider: Provider) -> None:
    if method.provider is not provider:
        raise invalid(
            ("query", "provider"),
            f"invalid combination: {method.value} goes with provider {method.provider.value}",
            "value_error.combination",
        )


def _prediction(quote: Quote) -> PredictionOut:
    base = quote.base_currency
    return PredictionOut(
        payer_amount=format_amount(quote.payer_amount, quote.payer_currency),
        payer_currency=quote.payer_currency,
        payee_amount=format_amount(quote.payee_amount, quote.payee_currency),
        payee_currency=quote.payee_currency,
        platform_fee=format_amount(quote.platform_fee, base),
        platform_currency=base,
        gateway_fee=format_amount(quote.gateway_fee, base),
        gateway_currency=base,
        fx_fee=format_amount(quote.fx_fee, base) if quote.fx_fee is not None else None,
    )


def _tier_for(state: SandboxState, owner_type: OwnerType | None, owner_id: int | None) -> str:
    merchant = state.config.merchant_id
    if owner_id is None or (owner_id == merchant and owner_type is not OwnerType.USER):
        return state.config.fee_tier
    return state.pricing.default_tier


def _priced(
    state: SandboxState,
    *,
    amount: Decimal,
    base_currency: str,
    target_currency: str,
    method: PaymentMethod,
    operation: OperationType,
    fee_bearer: FeeBearer,
    tier: str,
    amount_loc: Loc,
) -> PredictionOut:
    settles_in = target_currency if operation is OperationType.COLLECTION else base_currency
    settle_loc: Loc = (
        "query",
        "target_currency" if operation is OperationType.COLLECTION else "base_currency",
    )
    try:
        state.pricing.check_currency(method, settles_in, "currency")
        quote = state.pricing.quote(
            amount, base_currency, target_currency, method, operation, fee_bearer, tier
        )
    except PricingError as exc:
        locs: dict[str, Loc] = {
            "currency": settle_loc,
            "payment_method": ("query", "payment_method"),
            "amount": amount_loc,
        }
        raise invalid(locs.get(exc.field, ("query",)), exc.message) from None
    return _prediction(quote)


@router.get("/predictions/amount-and-fees", response_model=PredictionOut, tags=["predictions"])
async def predict(
    state: StateDep,
    base_amount: Decimal,
    base_currency: str,
    target_currency: str,
    payment_method: PaymentMethod,
    operation_type: OperationType,
    provider: Provider,
    fee_bearer: FeeBearer,
    owner_type: OwnerType | None = None,
    owner_id: int | None = None,
) -> Response:
    base = _currency(base_currency, ("query", "base_currency"))
    target = _currency(target_currency, ("query", "target_currency"))
    loc: Loc = ("query", "base_amount")
    if not base_amount.is_finite() or base_amount <= 0:
        raise invalid(loc, "Input should be greater than 0: amount less than minimum", "greater_than")
    if base_amount > MAX_AMOUNT:
        raise invalid(loc, "Input should be less than or equal to 1000000000000", "less_than_equal")
    if not fits_minor_units(base_amount, base):
        raise invalid(loc, f"{base} amounts have at most {CURRENCY_MINOR_UNITS[base]} decimal places")
    _provider_matches(payment_method, provider)
    with state.transaction():
        out = _priced(
            state,
            amount=base_amount,
            base_currency=base,
            target_currency=target,
            method=payment_method,
            operation=operation_type,
            fee_bearer=fee_bearer,
            tier=_tier_for(state, owner_type, owner_id),
            amount_loc=loc,
        )
        return reply(state, out)


@router.get("/predictions/payment-source/amount-and-fees", response_model=PredictionOut, tags=["predictions"])
async def predict_source(
    state: StateDep,
    source_type: SourceType,
    source_id: int,
    target_currency: str,
    payment_method: PaymentMethod,
    provider: Provider,
) -> Response:
    target = _currency(target_currency, ("query", "target_currency"))
    _provider_matches(payment_method, provider)
    with state.transaction():
        source = state.source(source_id)
        if source is None or source.kind is not source_type:
            raise NotFound(f"{source_type.value} {source_id} not found")
        if source.status in (SourceStatus.IDLE, SourceStatus.CANCELED):
            raise wrong_state(
                ("query", "source_id"), f"{source.number} is {source.status.value}: not payable"
            )
        out = _priced(
            state,
            amount=source.total_amount,
            base_currency=source.currency,
            target_currency=target,
            method=payment_method,
            operation=OperationType.COLLECTION,
            fee_bearer=source.fee_bearer,
            tier=state.config.fee_tier,
            amount_loc=("query", "source_id"),
        )
        return reply(state, out)


@router.get("/predictions/mmo-provider-info", response_model=MmoInfoOut, tags=["predictions"])
async def mmo_provider_info(state: StateDep, phone: str, operation_type: OperationType) -> Response:
    if not re.fullmatch(r"[0-9]{8,15}", phone):
        raise invalid(("query", "phone"), "invalid phone: E.164 digits without +, 8 to 15 digits")
    operator = state.operators.detect(phone)
    if operator is None:
        raise invalid(("query", "phone"), "no mobile-money operator known for this number")
    out = MmoInfoOut(
        carrier=operator.carrier,
        country=operator.country,
        currencies=list(operator.currencies),
        phone=phone,
        payment_method=operator.payment_method,
        gateway_provider=operator.gateway_provider,
        operation_type=operation_type,
    )
    return reply(state, out)


@router.get("/predictions/card-provider-info", response_model=CardInfoOut, tags=["predictions"])
async def card_provider_info(
    state: StateDep, payment_method_id: str, operation_type: OperationType, provider: Provider
) -> Response:
    if provider is not Provider.STRIPE:
        raise invalid(("query", "provider"), "cards go with provider STRIPE", "value_error.combination")
    if not re.fullmatch(r"pm_[A-Za-z0-9_]+", payment_method_id):
        raise invalid(("query", "payment_method_id"), "expected a Stripe payment method id like pm_card_visa")
    card = card_for(payment_method_id)
    out = CardInfoOut(
        brand=card.brand,
        country="US",
        currencies=["USD"],
        payment_method=PaymentMethod.CREDIT_CARD,
        gateway_provider=Provider.STRIPE,
        operation_type=operation_type,
        funding="credit",
        last4=card.last4,
    )
    return reply(state, out)


@router.get("/fees/gateway", response_model=GatewayFeeOut, tags=["fees"])
async def gateway_fees(
    state: StateDep, payment_method: PaymentMethod, operation_type: OperationType
) -> Response:
    try:
        fee = state.pricing.gateway_fee(payment_method, operation_type)
    except PricingError as exc:
        raise invalid(("query", "payment_method"), exc.message) from None
    out = GatewayFeeOut(
        payment_method=payment_method,
        provider=payment_method.provider,
        operation_type=operation_type,
        percent=fee.percent,
        fixed_amount=fee.fixed,
        fixed_currency=fee.fixed_currency,
    )
    return reply(state, out)


@router.get("/fees/platform", response_model=PlatformFeeOut, tags=["fees"])
async def platform_fees(state: StateDep, operation_type: OperationType, fee_tier_name: str) -> Response:
    try:
        tier = state.pricing.tier(fee_tier_name)
    except PricingError:
        raise NotFound(f"Fee tier {fee_tier_name} not found") from None
    out = PlatformFeeOut(
        fee_tier_name=tier.name,
        operation_type=operation_type,
        percent=tier.percent.get(operation_type, Decimal(0)),
    )
    return reply(state, out)


@router.get("/fees/merchant-tier", response_model=MerchantTierOut, tags=["fees"])
async def merchant_tier(state: StateDep, owner_type: OwnerType, owner_id: int) -> Response:
    name = _tier_for(state, owner_type, owner_id)
    out = MerchantTierOut(
        name=name,
        is_default=name == state.pricing.default_tier,
        owner_type=owner_type,
        owner_id=owner_id,
        created_at=_TIER_DATE,
        updated_at=_TIER_DATE,
    )
    return reply(state, out)


@router.get("/fees/tiers", response_model=list[TierOut], tags=["fees"])
async def fee_tiers(state: StateDep) -> Response:
    out = [
        TierOut(
            name=tier.name,
            is_default=tier.name == state.pricing.default_tier,
            created_at=_TIER_DATE,
            updated_at=_TIER_DATE,
        )
        for tier in state.pricing.config.tiers
    ]
    return reply(state, out)


@router.get("/links/pay", response_model=LinkOut, tags=["links"])
async def pay_link(
    request: Request, state: StateDep, source_type: SourceType, source_number: str
) -> Response:
    gate(state, "Payment links")
    with state.transaction():
        source = find_by_number(state, source_type, source_number)
        if source.status in (SourceStatus.IDLE, SourceStatus.CANCELED):
            raise wrong_state(
                ("query", "source_number"), f"{source.number} is {source.status.value}: no pay link"
            )
        if not source.as_payment_link:
            raise wrong_state(
                ("query", "source_number"), f"{source.number} was created with as_payment_link false"
            )
        return reply(state, LinkOut(url=hosted_url(request, source.pay_token)))


@router.get("/links/receipt", response_model=LinkOut, tags=["links"])
async def receipt_link(
    request: Request, state: StateDep, source_type: SourceType, source_number: str
) -> Response:
    with state.transaction():
        source = find_by_number(state, source_type, source_number)
        if source.status is not SourceStatus.PAID:
            raise wrong_state(
                ("query", "source_number"),
                f"{source.number} is {source.status.value}: receipts exist only once PAID",
            )
        base = str(request.base_url).rstrip("/")
        return reply(state, LinkOut(url=f"{base}/_sandbox/receipts/{source.pay_token}"))


@router.get("/merchants/merchant-info", response_model=MerchantOut, tags=["merchants"])
async def merchant_info(
    state: StateDep, merchant_id: Annotated[int, Query()], merchant_type: Annotated[MerchantType, Query()]
) -> Response:
    config = state.config
    if merchant_id != config.merchant_id or merchant_type is not config.merchant_type:
        raise NotFound(f"{merchant_type.value} merchant {merchant_id} not found")
    out = MerchantOut(
        id=config.merchant_id,
        name=config.merchant_name,
        type=config.merchant_type,
        email=config.merchant_email,
        phone=config.merchant_phone,
    )
    return reply(state, out)


@router.post("/realtime-keys/collection", response_model=RealtimeKeyOut, tags=["realtime"])
async def realtime_key(
    state: StateDep, body: Annotated[RealtimeKeyCreate, Depends(json_body(RealtimeKeyCreate))]
) -> Response:
    loc: Loc = ("body", "session_id")
    with state.transaction():
        session = state.sessions.get(body.session_id)
        if session is None or session.operation is not OperationType.COLLECTION:
            raise invalid(loc, "checkout session not found")
        if session.source_type is not body.source_type:
            raise invalid(("body", "source_type"), f"session {session.id} is for an {session.source_type}")
        if state.now() >= session.expires_at and session.status is SessionStatus.ACTIVE:
            raise invalid(loc, "session expired")
        existing = state.executions.get(body.reference_id)
        if existing is not None and existing.session_id != session.id:
            raise invalid(("body", "reference_id"), "reference_id belongs to another session")
        token = tokens.issue_realtime_key(state, session.id, body.reference_id)
        return reply(state, RealtimeKeyOut(access_token=token, expires_in=state.config.realtime_key_seconds))
