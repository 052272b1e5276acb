"""What a payment will cost before it moves: Dollr's own quote (PR1/PR2), per method, side by side.

The numbers are Dollr's predictions, the same ones the collect and payout flows show before
confirming, so they equal what the executed payment later reports for the same inputs. Quotes go
through `svc.lookups.prediction`, a short cache, so asking again costs no call to Dollr.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal, localcontext

from dollr_core.api.errors import InvalidRequestError, NotFoundError
from dollr_core.api.models import AmountAndFeePrediction, AmountAndFeesQuery, PaymentSourceQuery
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import (
    METHOD_CURRENCIES,
    FeeBearer,
    OperationType,
    PaymentMethod,
    SourceStatus,
    SourceType,
)
from dollr_core.basics.money import check_currency, parse_amount
from dollr_core.errors import InputRefused
from dollr_core.explain import explain
from dollr_core.ledger.tables import DocumentRecord
from dollr_core.services import Services

__all__ = [
    "METHOD_NAMES",
    "PREVIEW_OPERATIONS",
    "MethodPreview",
    "PreviewRequest",
    "cheapest",
    "method_name",
    "methods_for",
    "preview",
    "preview_document",
]

ZERO = Decimal(0)
#: The operations a person can preview here (transfers and refunds have no quote endpoint input).
PREVIEW_OPERATIONS = (OperationType.COLLECTION, OperationType.PAYOUT)

#: Methods as people call them.
METHOD_NAMES: dict[str, str] = {
    PaymentMethod.MTN_MOMO_LBR: "MTN MoMo (Liberia)",
    PaymentMethod.ORANGE_MONEY_LBR: "Orange Money (Liberia)",
    PaymentMethod.AIRTEL_RWA: "Airtel Money (Rwanda)",
    PaymentMethod.MTN_MOMO_RWA: "MTN MoMo (Rwanda)",
    PaymentMethod.ORANGE_MONEY_RWA: "Orange Money (Rwanda)",
    PaymentMethod.CREDIT_CARD: "Card",
    PaymentMethod.WALLET: "Dollr wallet",
}


def method_name(method: str | None) -> str:
    return METHOD_NAMES.get(method or "", method or "—")


#: Which methods can do what (contract §4): cards only collect, the Dollr wallet only sends.
_CAN_DO: dict[OperationType, tuple[PaymentMethod, ...]] = {
    OperationType.COLLECTION: tuple(m for m in PaymentMethod if m is not PaymentMethod.WALLET),
    OperationType.PAYOUT: tuple(m for m in PaymentMethod if m is not PaymentMethod.CREDIT_CARD),
}


@dataclass(frozen=True)
class PreviewRequest:
    """An amount in `currency`, paid by the payer in `target_currency`."""

    amount: Decimal
    currency: str
    target_currency: str
    fee_bearer: FeeBearer
    operation: OperationType

    @classmethod
    def checked(
        cls,
        amount: str | Decimal,
        currency: str,
        target_currency: str,
        fee_bearer: FeeBearer | str,
        operation: OperationType | str,
    ) -> PreviewRequest:
        """Validate what a person entered; raises ValueError with a plain sentence."""
        check_currency(target_currency)
        op = OperationType(operation)
        if op not in PREVIEW_OPERATIONS:
            raise InputRefused("Previews are available for collections and payouts.")
        return cls(parse_amount(amount, currency), currency, target_currency, FeeBearer(fee_bearer), op)


def methods_for(operation: OperationType, currency: str, target_currency: str) -> list[PaymentMethod]:
    """Methods that can carry this payment: the wallet being paid must hold the currency it gets.

    Collections are paid from the customer's wallet or card in the target currency; payouts land
    in the recipient's wallet in the payment's own currency.
    """
    settles_in = target_currency if operation is OperationType.COLLECTION else currency
    return [m for m in _CAN_DO.get(operation, ()) if settles_in in METHOD_CURRENCIES[m]]


@dataclass(frozen=True)
class MethodPreview:
    """One method's quote. When the method cannot carry the payment, only `unavailable` is set."""

    method: PaymentMethod
    payer_amount: Decimal | None = None
    payer_currency: str | None = None
    payee_amount: Decimal | None = None
    payee_currency: str | None = None
    platform_fee: Decimal = ZERO
    gateway_fee: Decimal = ZERO
    fx_fee: Decimal = ZERO
    fee_currency: str | None = None
    #: Units of the payer's currency per unit of the payee's (None when no conversion happens).
    fx_rate: Decimal | None = None
    #: True when Dollr gave no rate and it was worked out from the amounts (approximate).
    fx_rate_derived: bool = False
    unavailable: str | None = None

    @property
    def fees(self) -> Decimal:
        return self.platform_fee + self.gateway_fee + self.fx_fee

    @property
    def provider(self) -> str:
        return self.method.provider.value


def _rate(prediction: AmountAndFeePrediction, fees: Decimal) -> tuple[Decimal | None, bool]:
    """Dollr's `fx_rate` if it sent one; otherwise payer amount ÷ (payee amount + fees).

    That holds for both fee bearers: PAYER pays convert(base + fees) with payee = base, PAYEE pays
    convert(base) with payee = base − fees. The payer amount is rounded, so the rate is approximate.
    """
    if prediction.payer_currency == prediction.payee_currency:
        return None, False
    if prediction.fx_rate is not None:
        return prediction.fx_rate, False
    base = prediction.payee_amount + fees
    if base <= 0:
        return None, False
    with localcontext() as ctx:
        ctx.prec = 8
        return +(prediction.payer_amount / base), True


def _from_prediction(method: PaymentMethod, prediction: AmountAndFeePrediction) -> MethodPreview:
    platform = prediction.platform_fee or ZERO
    gateway = prediction.gateway_fee or ZERO
    fx = prediction.fx_fee or ZERO
    rate, derived = _rate(prediction, platform + gateway + fx)
    return MethodPreview(
        method=method,
        payer_amount=prediction.payer_amount,
        payer_currency=prediction.payer_currency,
        payee_amount=prediction.payee_amount,
        payee_currency=prediction.payee_currency,
        platform_fee=platform,
        gateway_fee=gateway,
        fx_fee=fx,
        fee_currency=prediction.platform_currency or prediction.gateway_currency or prediction.payee_currency,
        fx_rate=rate,
        fx_rate_derived=derived,
    )


def _quote(
    svc: Services, method: PaymentMethod, query: AmountAndFeesQuery | PaymentSourceQuery
) -> MethodPreview:
    try:
        return _from_prediction(method, svc.lookups.prediction(query))
    except (InvalidRequestError, NotFoundError) as exc:  # this method cannot; the others may
        return MethodPreview(method=method, unavailable=explain(exc).headline)


def preview(
    svc: Services, actor: Actor, request: PreviewRequest, methods: Sequence[PaymentMethod] | None = None
) -> list[MethodPreview]:
    """Dollr's quote for each method (default: every method available for this corridor)."""
    require(actor, Permission.PREDICT_FEES)
    chosen = (
        list(methods)
        if methods
        else methods_for(request.operation, request.currency, request.target_currency)
    )
    return [
        _quote(
            svc,
            method,
            AmountAndFeesQuery(
                base_amount=request.amount,
                base_currency=request.currency,
                target_currency=request.target_currency,
                payment_method=method,
                operation_type=request.operation,
                provider=method.provider,
                fee_bearer=request.fee_bearer,
            ),
        )
        for method in chosen
    ]


def preview_document(
    svc: Services,
    actor: Actor,
    record: DocumentRecord,
    target_currency: str,
    methods: Sequence[PaymentMethod] | None = None,
) -> list[MethodPreview]:
    """The quote for paying a published invoice or order: its total, its fee bearer (PR2)."""
    require(actor, Permission.PREDICT_FEES)
    check_currency(target_currency)
    if record.status != SourceStatus.ACTIVE:
        raise InputRefused("Only published invoices and orders that are not paid yet can be previewed.")
    chosen = (
        list(methods) if methods else methods_for(OperationType.COLLECTION, record.currency, target_currency)
    )
    return [
        _quote(
            svc,
            method,
            PaymentSourceQuery(
                source_type=SourceType(record.source_type),
                source_id=record.dollr_id,
                target_currency=target_currency,
                payment_method=method,
                provider=method.provider,
            ),
        )
        for method in chosen
    ]


def cheapest(previews: Sequence[MethodPreview]) -> MethodPreview | None:
    """The available method with the lowest total fees (all fees are in the same currency)."""
    available = [p for p in previews if p.unavailable is None]
    return min(available, key=lambda p: p.fees) if available else None
