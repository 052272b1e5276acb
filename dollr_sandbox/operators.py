"""Which mobile-money operator a phone number belongs to (PR3), from a configurable prefix table.

The defaults follow the real numbering plans the contract names (§3.10).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from dollr_core.basics.enums import METHOD_COUNTRY, METHOD_CURRENCIES, PaymentMethod, Provider

DEFAULT_PREFIXES: Mapping[str, PaymentMethod] = {
    "23188": PaymentMethod.MTN_MOMO_LBR,
    "23155": PaymentMethod.MTN_MOMO_LBR,
    "23177": PaymentMethod.ORANGE_MONEY_LBR,
    "25078": PaymentMethod.MTN_MOMO_RWA,
    "25079": PaymentMethod.MTN_MOMO_RWA,
    "25072": PaymentMethod.AIRTEL_RWA,
    "25073": PaymentMethod.AIRTEL_RWA,
}

CARRIERS: Mapping[PaymentMethod, str] = {
    PaymentMethod.MTN_MOMO_LBR: "MTN",
    PaymentMethod.MTN_MOMO_RWA: "MTN",
    PaymentMethod.ORANGE_MONEY_LBR: "Orange",
    PaymentMethod.ORANGE_MONEY_RWA: "Orange",
    PaymentMethod.AIRTEL_RWA: "Airtel",
}


@dataclass(frozen=True)
class Operator:
    carrier: str
    country: str
    currencies: tuple[str, ...]
    payment_method: PaymentMethod
    gateway_provider: Provider


class OperatorTable:
    """Longest-prefix lookup over ``prefixes`` (digits → mobile-money method)."""

    def __init__(self, prefixes: Mapping[str, PaymentMethod] | None = None) -> None:
        # Longest first, so a specific prefix can override a broader one.
        self._prefixes = sorted((prefixes or DEFAULT_PREFIXES).items(), key=lambda kv: -len(kv[0]))

    def detect(self, phone: str) -> Operator | None:
        for prefix, method in self._prefixes:
            if phone.startswith(prefix):
                return Operator(
                    carrier=CARRIERS.get(method, method.value),
                    country=METHOD_COUNTRY[method],
                    currencies=METHOD_CURRENCIES[method],
                    payment_method=method,
                    gateway_provider=method.provider,
                )
        return None
