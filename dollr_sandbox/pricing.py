"""The one fee and FX engine: predictions, executions, wallets and receipts all quote through it.

Dollr publishes no formula (contract §8), so this is the sandbox's own, documented model:

* every fee is computed on the **base amount** (the source total, the payout or transfer amount) and
  is expressed in the base currency, rounded to its minor units with ROUND_HALF_UP;
* ``gateway_fee`` = percent of base + a fixed part (converted from its own currency), per
  (method, operation); a pair missing from the table is an operation the method cannot do;
* ``platform_fee`` = percent of base, per fee tier and operation;
* ``fx_fee`` = percent of base, charged only when the payer's currency differs from the base;
* ``PAYER`` bears: payer = convert(base + fees), payee = base. ``PAYEE`` bears: payer = convert(base),
  payee = base − fees. Converted amounts are rounded to the target currency's minor units.

FX rates are given per US dollar; cross rates are derived (1 LRD = 1400/190 RWF).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from dollr_core.basics.enums import (
    CURRENCY_MINOR_UNITS,
    METHOD_CURRENCIES,
    FeeBearer,
    OperationType,
    PaymentMethod,
)

MOBILE_MONEY = tuple(m for m in PaymentMethod if m.is_mobile_money)
#: Amounts above this are refused: nobody tests with more, and it keeps Decimal far from its precision.
MAX_AMOUNT = Decimal("1000000000000")
_HUNDRED = Decimal(100)


@dataclass(frozen=True)
class GatewayFee:
    """What the gateway takes for one (method, operation): a percent of base plus a fixed part."""

    percent: Decimal
    fixed: Decimal = Decimal(0)
    fixed_currency: str = "USD"


@dataclass(frozen=True)
class FeeTier:
    """A platform pricing tier: Dollr's own percent per operation."""

    name: str
    percent: Mapping[OperationType, Decimal]
    is_default: bool = False


def _default_gateway() -> dict[tuple[PaymentMethod, OperationType], GatewayFee]:
    table: dict[tuple[PaymentMethod, OperationType], GatewayFee] = {}
    for method in MOBILE_MONEY:
        table[method, OperationType.COLLECTION] = GatewayFee(Decimal("1.0"))
        table[method, OperationType.PAYOUT] = GatewayFee(Decimal("1.5"))
        table[method, OperationType.REFUND] = GatewayFee(Decimal("0"))
    table[PaymentMethod.CREDIT_CARD, OperationType.COLLECTION] = GatewayFee(Decimal("2.9"), Decimal("0.30"))
    table[PaymentMethod.CREDIT_CARD, OperationType.REFUND] = GatewayFee(Decimal("0"))
    table[PaymentMethod.WALLET, OperationType.PAYOUT] = GatewayFee(Decimal("0"))
    table[PaymentMethod.WALLET, OperationType.TRANSFER] = GatewayFee(Decimal("0"))
    table[PaymentMethod.WALLET, OperationType.REFUND] = GatewayFee(Decimal("0"))
    return table


def _default_tiers() -> tuple[FeeTier, ...]:
    return (
        FeeTier(
            "default",
            {
                OperationType.COLLECTION: Decimal("1.5"),
                OperationType.PAYOUT: Decimal("0.5"),
                OperationType.TRANSFER: Decimal("0.5"),
                OperationType.REFUND: Decimal("0"),
            },
            is_default=True,
        ),
        FeeTier(
            "growth",
            {
                OperationType.COLLECTION: Decimal("1.0"),
                OperationType.PAYOUT: Decimal("0.25"),
                OperationType.TRANSFER: Decimal("0.25"),
                OperationType.REFUND: Decimal("0"),
            },
        ),
    )


@dataclass(frozen=True)
class PricingConfig:
    """Every number the engine uses. The defaults reproduce the fees of the contract's PR1 example."""

    #: Units of each currency per 1 USD.
    usd_rates: Mapping[str, Decimal] = field(
        default_factory=lambda: {"USD": Decimal("1"), "LRD": Decimal("190"), "RWF": Decimal("1400")}
    )
    fx_fee_percent: Decimal = Decimal("0.75")
    gateway: Mapping[tuple[PaymentMethod, OperationType], GatewayFee] = field(
        default_factory=_default_gateway
    )
    tiers: tuple[FeeTier, ...] = field(default_factory=_default_tiers)


class PricingError(ValueError):
    """A quote that cannot be made; ``field`` names the input at fault (e.g. ``payment_method``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True)
class Quote:
    """One priced operation. Fees are in ``base_currency``; amounts are already rounded."""

    operation: OperationType
    method: PaymentMethod
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
    fx_fee: Decimal | None
    fx_rate: Decimal

    @property
    def fees(self) -> Decimal:
        return self.platform_fee + self.gateway_fee + (self.fx_fee or Decimal(0))


def quantum(currency: str) -> Decimal:
    return Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency])


def round_to(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def fits_minor_units(amount: Decimal, currency: str) -> bool:
    """True when ``amount`` has no more decimals than ``currency`` allows (``100.0`` RWF fits)."""
    return amount == amount.quantize(quantum(currency), rounding=ROUND_HALF_UP)


def format_amount(amount: Decimal, currency: str) -> str:
    """The decimal string the predictions return: ``"19617.50"``, ``"1400"``."""
    return f"{round_to(amount, currency):f}"


class Pricing:
    """Quotes fees and FX from a :class:`PricingConfig`."""

    def __init__(self, config: PricingConfig | None = None) -> None:
        self.config = config or PricingConfig()
        self._tiers = {tier.name: tier for tier in self.config.tiers}
        defaults = [tier for tier in self.config.tiers if tier.is_default]
        self.default_tier = defaults[0].name if defaults else self.config.tiers[0].name

    @property
    def currencies(self) -> tuple[str, ...]:
        return tuple(c for c in self.config.usd_rates if c in CURRENCY_MINOR_UNITS)

    def rate(self, source: str, target: str) -> Decimal:
        """Units of ``target`` per unit of ``source``."""
        if source == target:
            return Decimal(1)
        rates = self.config.usd_rates
        return rates[target] / rates[source]

    def convert(self, amount: Decimal, source: str, target: str) -> Decimal:
        """``amount`` in ``target``, rounded to its minor units.

        Multiplies before dividing, so a conversion that ends exactly on half a minor unit
        (7 RWF = 0.005 USD) rounds up as ROUND_HALF_UP says instead of falling just short of it.
        """
        if source == target:
            return round_to(amount, target)
        rates = self.config.usd_rates
        return round_to(amount * rates[target] / rates[source], target)

    def gateway_fee(self, method: PaymentMethod, operation: OperationType) -> GatewayFee:
        try:
            return self.config.gateway[method, operation]
        except KeyError:
            raise PricingError(
                "payment_method", f"{method.value} is not available for {operation.value} in the sandbox"
            ) from None

    def tier(self, name: str) -> FeeTier:
        try:
            return self._tiers[name]
        except KeyError:
            raise PricingError("fee_tier_name", f"unknown fee tier {name!r}") from None

    def check_currency(self, method: PaymentMethod, currency: str, field: str) -> None:
        """Refuse a currency the method does not settle in (contract §4)."""
        allowed = METHOD_CURRENCIES[method]
        if currency not in allowed:
            raise PricingError(field, f"{method.value} settles in {', '.join(allowed)}, not {currency}")

    def quote(
        self,
        amount: Decimal,
        base_currency: str,
        target_currency: str,
        method: PaymentMethod,
        operation: OperationType,
        fee_bearer: FeeBearer,
        tier: str | None = None,
    ) -> Quote:
        """Price ``amount`` (in ``base_currency``) paid in ``target_currency``."""
        gateway = self.gateway_fee(method, operation)
        fee_tier = self.tier(tier or self.default_tier)
        base = round_to(amount, base_currency)
        gateway_fee = round_to(base * gateway.percent / _HUNDRED, base_currency)
        if gateway.fixed:
            gateway_fee += self.convert(gateway.fixed, gateway.fixed_currency, base_currency)
        platform_pct = fee_tier.percent.get(operation, Decimal(0))
        platform_fee = round_to(base * platform_pct / _HUNDRED, base_currency)
        fx_fee: Decimal | None = None
        if target_currency != base_currency:
            fx_fee = round_to(base * self.config.fx_fee_percent / _HUNDRED, base_currency)
        fees = gateway_fee + platform_fee + (fx_fee or Decimal(0))
        if fee_bearer is FeeBearer.PAYER:
            payer = self.convert(base + fees, base_currency, target_currency)
            payee = base
        else:
            payer = self.convert(base, base_currency, target_currency)
            payee = base - fees
        if payee <= 0 or payer <= 0:
            raise PricingError("amount", f"{base_currency} {base} does not cover the fees ({fees})")
        return Quote(
            operation=operation,
            method=method,
            fee_bearer=fee_bearer,
            tier=fee_tier.name,
            base_amount=base,
            base_currency=base_currency,
            payer_amount=payer,
            payer_currency=target_currency,
            payee_amount=payee,
            payee_currency=base_currency,
            platform_fee=platform_fee,
            gateway_fee=gateway_fee,
            fx_fee=fx_fee,
            fx_rate=self.rate(base_currency, target_currency),
        )

    def describe(self) -> dict[str, Any]:
        """The whole price list, for ``GET /_sandbox/pricing`` and the README."""
        return {
            "model": "fees on the base amount in the base currency, ROUND_HALF_UP to its minor units; "
            "PAYER: payer = convert(base + fees), payee = base; PAYEE: payer = convert(base), "
            "payee = base - fees",
            "usd_rates": dict(self.config.usd_rates),
            "fx_fee_percent": self.config.fx_fee_percent,
            "gateway": [
                {
                    "payment_method": method.value,
                    "operation_type": operation.value,
                    "percent": fee.percent,
                    "fixed": fee.fixed,
                    "fixed_currency": fee.fixed_currency,
                }
                for (method, operation), fee in self.config.gateway.items()
            ],
            "tiers": [
                {
                    "name": tier.name,
                    "is_default": tier.name == self.default_tier,
                    "percent": {op.value: pct for op, pct in tier.percent.items()},
                }
                for tier in self.config.tiers
            ],
        }
