"""The Dollr v1 vocabulary: enum values and currency facts, exactly as the contract lists them.

These are the only definitions the sandbox shares with the client: plain values that cannot be
misread. Everything else (request and response shapes) each side writes from the contract itself.
"""

from __future__ import annotations

from enum import StrEnum


class OperationType(StrEnum):
    COLLECTION = "COLLECTION"
    PAYOUT = "PAYOUT"
    TRANSFER = "TRANSFER"
    REFUND = "REFUND"


class FeeBearer(StrEnum):
    PAYER = "PAYER"
    PAYEE = "PAYEE"


class OwnerType(StrEnum):
    USER = "USER"
    MICRO_ORGANIZATION = "MICRO_ORGANIZATION"
    ORGANIZATION = "ORGANIZATION"


class MerchantType(StrEnum):
    MICRO_ORGANIZATION = "MICRO_ORGANIZATION"
    ORGANIZATION = "ORGANIZATION"


class SourceType(StrEnum):
    """`SUBSCRIPTION` appears in some Dollr schemas but is reserved: never sent, always refused."""

    INVOICE = "INVOICE"
    ORDER = "ORDER"


class SourceStatus(StrEnum):
    IDLE = "IDLE"
    ACTIVE = "ACTIVE"
    PROCESSING = "PROCESSING"
    PAID = "PAID"
    CANCELED = "CANCELED"


class ExecutionStatus(StrEnum):
    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    FAILED = "FAILED"

    @property
    def is_final(self) -> bool:
        return self in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)


class WalletStatus(StrEnum):
    ACTIVE = "ACTIVE"
    RESTRICTED = "RESTRICTED"
    FROZEN = "FROZEN"
    CLOSED = "CLOSED"


class RelationshipType(StrEnum):
    CUSTOMER = "CUSTOMER"
    SUPPLIER = "SUPPLIER"
    EMPLOYEE = "EMPLOYEE"
    BENEFICIARY = "BENEFICIARY"
    FRIEND = "FRIEND"
    FAMILY = "FAMILY"
    DONOR = "DONOR"
    DONEE = "DONEE"
    CONTACT = "CONTACT"
    SERVICE_PROVIDER = "SERVICE_PROVIDER"
    PARTNER = "PARTNER"
    SELF = "SELF"


class CheckoutMode(StrEnum):
    HOSTED = "HOSTED"


class Provider(StrEnum):
    PAWAPAY = "PAWAPAY"
    STRIPE = "STRIPE"
    PLATFORM = "PLATFORM"


class PaymentMethod(StrEnum):
    MTN_MOMO_LBR = "MTN_MOMO_LBR"
    ORANGE_MONEY_LBR = "ORANGE_MONEY_LBR"
    AIRTEL_RWA = "AIRTEL_RWA"
    MTN_MOMO_RWA = "MTN_MOMO_RWA"
    ORANGE_MONEY_RWA = "ORANGE_MONEY_RWA"
    CREDIT_CARD = "CREDIT_CARD"
    WALLET = "WALLET"

    @property
    def provider(self) -> Provider:
        return METHOD_PROVIDER[self]

    @property
    def is_mobile_money(self) -> bool:
        return METHOD_PROVIDER[self] is Provider.PAWAPAY


METHOD_PROVIDER: dict[PaymentMethod, Provider] = {
    PaymentMethod.MTN_MOMO_LBR: Provider.PAWAPAY,
    PaymentMethod.ORANGE_MONEY_LBR: Provider.PAWAPAY,
    PaymentMethod.AIRTEL_RWA: Provider.PAWAPAY,
    PaymentMethod.MTN_MOMO_RWA: Provider.PAWAPAY,
    PaymentMethod.ORANGE_MONEY_RWA: Provider.PAWAPAY,
    PaymentMethod.CREDIT_CARD: Provider.STRIPE,
    PaymentMethod.WALLET: Provider.PLATFORM,
}

#: Country of each mobile-money method (contract §4).
METHOD_COUNTRY: dict[PaymentMethod, str] = {
    PaymentMethod.MTN_MOMO_LBR: "LR",
    PaymentMethod.ORANGE_MONEY_LBR: "LR",
    PaymentMethod.AIRTEL_RWA: "RW",
    PaymentMethod.MTN_MOMO_RWA: "RW",
    PaymentMethod.ORANGE_MONEY_RWA: "RW",
}

#: Currencies each method settles in (contract §4); cards and wallets are per card / per wallet.
METHOD_CURRENCIES: dict[PaymentMethod, tuple[str, ...]] = {
    PaymentMethod.MTN_MOMO_LBR: ("USD", "LRD"),
    PaymentMethod.ORANGE_MONEY_LBR: ("USD", "LRD"),
    PaymentMethod.AIRTEL_RWA: ("RWF",),
    PaymentMethod.MTN_MOMO_RWA: ("RWF",),
    PaymentMethod.ORANGE_MONEY_RWA: ("RWF",),
    PaymentMethod.CREDIT_CARD: ("USD",),
    PaymentMethod.WALLET: ("USD", "LRD", "RWF"),
}

#: ISO 4217 minor units of the currencies Dollr moves. RWF has no minor unit.
CURRENCY_MINOR_UNITS: dict[str, int] = {"USD": 2, "LRD": 2, "RWF": 0}
