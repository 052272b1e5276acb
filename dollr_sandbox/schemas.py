"""Request and response shapes, written from the contract (``dollr-api.md``), not shared with the client.

Requests are validated strictly: ids have the JSON type §1.3 gives them (numeric strings or ints
both ways only in lenient mode, which validation reads from its context), amounts must be JSON
numbers (bodies are parsed with ``parse_float=Decimal``, so no binary rounding ever happens), and
unknown keys are ignored except the few that betray a misreading (``source_type`` where
``source_kind`` belongs and vice versa, the legacy payout-session fields).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
    StrictStr,
    StringConstraints,
    ValidationInfo,
    model_validator,
)
from pydantic_core import PydanticCustomError

from dollr_core.basics.enums import (
    CURRENCY_MINOR_UNITS,
    METHOD_COUNTRY,
    CheckoutMode,
    ExecutionStatus,
    FeeBearer,
    MerchantType,
    OperationType,
    OwnerType,
    PaymentMethod,
    Provider,
    RelationshipType,
    SourceStatus,
    SourceType,
)
from dollr_sandbox.errors import Loc, error, missing
from dollr_sandbox.pricing import MAX_AMOUNT, fits_minor_units

# --- field rules ----------------------------------------------------------------------------


def is_lenient(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get("lenient"))


def _int_id(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str) and is_lenient(info) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, str):
        raise PydanticCustomError("int_type", "Input should be a valid integer (a JSON number, not a string)")
    raise PydanticCustomError("int_type", "Input should be a valid integer")


def _loose_int_id(value: Any) -> Any:
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    raise PydanticCustomError("int_type", "Input should be a valid integer")


def _str_id(value: Any, info: ValidationInfo) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool) and is_lenient(info):
        return str(value)
    raise PydanticCustomError("string_type", "Input should be a valid string (this id is a JSON string here)")


def _json_number(value: Any) -> Any:
    if isinstance(value, bool | str):
        raise PydanticCustomError("decimal_type", "Input should be a JSON number")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return value


def _positive(value: Decimal) -> Decimal:
    if not value.is_finite():
        raise PydanticCustomError("finite_number", "Input should be a finite number")
    if value <= 0:
        raise PydanticCustomError("greater_than", "Input should be greater than 0: amount less than minimum")
    if value > MAX_AMOUNT:
        raise PydanticCustomError("less_than_equal", "Input should be less than or equal to 1000000000000")
    return value


def _currency(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{3}", value):
        raise PydanticCustomError("value_error", "currency must be an ISO 4217 code in upper case")
    if value not in CURRENCY_MINOR_UNITS:
        known = ", ".join(CURRENCY_MINOR_UNITS)
        raise PydanticCustomError(
            "value_error",
            "currency {currency} is not supported ({known})",
            {"currency": value, "known": known},
        )
    return value


def _phone(value: str) -> str:
    if not re.fullmatch(r"[0-9]{8,15}", value):
        raise PydanticCustomError("value_error", "invalid phone: E.164 digits without +, 8 to 15 digits")
    return value


def _country(value: str) -> str:
    if not re.fullmatch(r"[A-Z]{2}", value):
        raise PydanticCustomError("value_error", "country_code must be ISO 3166-1 alpha-2 in upper case")
    return value


def _email(value: str) -> str:
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
        raise PydanticCustomError("value_error", "invalid email address")
    return value


def _payment_method_id(value: str) -> str:
    if not re.fullmatch(r"pm_[A-Za-z0-9_]{1,100}", value):
        raise PydanticCustomError("value_error", "expected a Stripe payment method id like pm_card_visa")
    return value


def _uuid4(value: str) -> str:
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise PydanticCustomError("value_error", "invalid uuid") from None
    if parsed.version != 4 or parsed.variant != uuid.RFC_4122 or str(parsed) != value.lower():
        raise PydanticCustomError(
            "value_error", "invalid uuid: must be a UUID v4 like 550e8400-e29b-41d4-..."
        )
    return value.lower()


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _wrong_name(right: str) -> Callable[[Any], Any]:
    def reject(value: Any) -> Any:
        raise PydanticCustomError(
            "extra_forbidden", "this endpoint takes {right}, not this field", {"right": right}
        )

    return reject


def _legacy(value: Any, info: ValidationInfo) -> Any:
    if is_lenient(info):
        return None
    raise PydanticCustomError(
        "extra_forbidden",
        "legacy payout-session field: send payout_account_id, amount and currency only "
        "(wallet_id and expires_at are returned, not sent)",
    )


IntId = Annotated[int, BeforeValidator(_int_id)]
LooseIntId = Annotated[int, BeforeValidator(_loose_int_id)]
StrId = Annotated[str, BeforeValidator(_str_id)]
Amount = Annotated[Decimal, BeforeValidator(_json_number), AfterValidator(_positive)]
Currency = Annotated[StrictStr, AfterValidator(_currency)]
Phone = Annotated[StrictStr, AfterValidator(_phone)]
Country = Annotated[StrictStr, AfterValidator(_country)]
Email = Annotated[StrictStr, AfterValidator(_email)]
Uuid4 = Annotated[StrictStr, AfterValidator(_uuid4)]
PaymentMethodId = Annotated[StrictStr, AfterValidator(_payment_method_id)]
Name = Annotated[StrictStr, StringConstraints(strip_whitespace=True, min_length=1, max_length=255)]
Text = Annotated[StrictStr, StringConstraints(max_length=2000)]
Timestamp = Annotated[datetime, AfterValidator(_utc)]
Qty = Annotated[StrictInt, Field(ge=1, le=1_000_000)]


#: ``source_type`` sent to checkout create, which takes ``source_kind`` (§1.4).
MisnamedSourceType = Annotated[Any, BeforeValidator(_wrong_name("source_kind"))]
#: ``source_kind`` sent where ``source_type`` belongs.
MisnamedSourceKind = Annotated[Any, BeforeValidator(_wrong_name("source_type"))]
Legacy = Annotated[Any, BeforeValidator(_legacy)]


def amount_errors(amount: Decimal | None, currency: str, loc: Loc) -> list[dict[str, Any]]:
    """The minor-unit rule: USD/LRD take 2 decimals, RWF none."""
    if amount is None or fits_minor_units(amount, currency):
        return []
    units = CURRENCY_MINOR_UNITS[currency]
    allowed = f"at most {units} decimal places" if units else "no decimal places"
    return [error(loc, f"{currency} amounts have {allowed}", "value_error.amount")]


class Body(BaseModel):
    """A request body. ``cross_errors`` returns the rules spanning several fields."""

    model_config = ConfigDict(extra="ignore")

    def cross_errors(self) -> list[dict[str, Any]]:
        return []


# --- request bodies -------------------------------------------------------------------------


class TokenRequest(Body):
    client_id: StrictStr
    client_secret: StrictStr


class PartyCreate(Body):
    fullname: Name
    phone: Phone
    email: Email | None = None
    country_code: Country | None = None


class CounterpartyCreate(Body):
    relationship_type: RelationshipType
    party_id: IntId | None = None


class CounterpartyUpdate(Body):
    relationship_type: RelationshipType | None = None
    party_id: IntId | None = None


class SourceCreate(Body):
    counterparty_id: IntId
    currency: Currency
    note: Text
    fee_bearer: FeeBearer
    as_payment_link: StrictBool
    reference_id: Text | None = None


class InvoiceCreate(SourceCreate):
    due_date: Timestamp | None = None


class OrderCreate(SourceCreate):
    """Orders have no ``due_date`` in the create schema; one sent is ignored."""


class SourceUpdate(Body):
    reference_id: Text | None = None
    note: Text | None = None
    fee_bearer: FeeBearer | None = None
    due_date: Timestamp | None = None


class ItemAdd(Body):
    name: Name
    currency: Currency
    qty: Qty
    amount: Amount

    def cross_errors(self) -> list[dict[str, Any]]:
        return amount_errors(self.amount, self.currency, ("body", "amount"))


class ItemUpdate(Body):
    name: Name | None = None
    qty: Qty | None = None
    amount: Amount | None = None


class CheckoutItem(Body):
    name: Name
    currency: Currency
    amount: Amount


class CheckoutCreate(Body):
    mode: CheckoutMode
    source_kind: SourceType
    party_phone: Phone
    currency: Currency
    items: Annotated[list[CheckoutItem], Field(min_length=1, max_length=500)]
    party_name: Name | None = None
    party_email: Email | None = None
    party_relationship: RelationshipType | None = None
    counterparty_id: IntId | None = None
    reference_id: Text | None = None
    note: Text | None = None
    due_date: Timestamp | None = None
    expires_at: Timestamp | None = None
    success_url: Text | None = None
    cancel_url: Text | None = None
    source_type: MisnamedSourceType = None

    def cross_errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        for i, item in enumerate(self.items):
            if item.currency != self.currency:
                errors.append(
                    error(("body", "items", i, "currency"), f"item currency must be {self.currency}")
                )
            else:
                errors += amount_errors(item.amount, item.currency, ("body", "items", i, "amount"))
        return errors


class CheckoutSessionCreate(Body):
    source_id: IntId
    source_type: SourceType
    source_kind: MisnamedSourceKind = None


class PayoutSessionCreate(Body):
    payout_account_id: IntId
    amount: Amount
    currency: Currency
    wallet_id: Legacy = None
    expires_at: Legacy = None
    payment_account_id: Legacy = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_body(cls, data: Any, info: ValidationInfo) -> Any:
        # §9 #4: the older body named the account payment_account_id.
        legacy = isinstance(data, dict) and "payout_account_id" not in data and "payment_account_id" in data
        if legacy and is_lenient(info):
            data = {**data, "payout_account_id": data["payment_account_id"]}
        return data

    def cross_errors(self) -> list[dict[str, Any]]:
        return amount_errors(self.amount, self.currency, ("body", "amount"))


class TransferSessionCreate(Body):
    from_wallet_id: IntId
    to_counterparty_id: IntId
    amount: Amount
    currency: Currency
    expires_at: Timestamp

    def cross_errors(self) -> list[dict[str, Any]]:
        return amount_errors(self.amount, self.currency, ("body", "amount"))


class RefundSessionCreate(Body):
    original_payment_intent_id: IntId
    amount: Amount
    expires_at: Timestamp
    reason: Text | None = None


class PaymentAccountCreate(Body):
    account_name: Name
    #: PAWAPAY/STRIPE/PLATFORM, or for mobile money the method's own name (§9 #1).
    provider: StrictStr
    method: PaymentMethod
    party_id: IntId
    country_code: Country | None = None
    insensitive_account_number: Phone | None = None
    #: Cards only: the Stripe payment method (undocumented on PA1; §9 leaves the link open).
    payment_method_id: PaymentMethodId | None = None

    def cross_errors(self) -> list[dict[str, Any]]:
        errors: list[dict[str, Any]] = []
        providers = [p.value for p in Provider]
        if self.provider not in providers and self.provider not in [m.value for m in PaymentMethod]:
            return [error(("body", "provider"), "Input should be 'PAWAPAY', 'STRIPE' or 'PLATFORM'", "enum")]
        expected = self.method.provider.value
        if self.provider != expected and not (
            self.method.is_mobile_money and self.provider == self.method.value
        ):
            errors.append(
                error(
                    ("body", "provider"),
                    f"invalid combination: {self.method.value} goes with provider {expected}",
                    "value_error.combination",
                )
            )
        if self.method.is_mobile_money:
            if self.insensitive_account_number is None:
                errors.append(missing(("body", "insensitive_account_number")))
            country = METHOD_COUNTRY[self.method]
            if self.country_code is not None and self.country_code != country:
                errors.append(
                    error(
                        ("body", "country_code"),
                        f"{self.method.value} is in {country}, not {self.country_code}",
                    )
                )
        if self.method is not PaymentMethod.CREDIT_CARD and self.payment_method_id is not None:
            errors.append(
                error(("body", "payment_method_id"), "payment_method_id is for cards only", "extra_forbidden")
            )
        if self.method is PaymentMethod.CREDIT_CARD and self.insensitive_account_number is not None:
            errors.append(
                error(
                    ("body", "insensitive_account_number"),
                    "omit the account number for cards",
                    "extra_forbidden",
                )
            )
        return errors


class CollectionExecute(Body):
    session_id: StrId
    payment_account_id: StrId
    currency: Currency
    reference_id: Uuid4


class PasscodeToken(Body):
    code: StrictStr
    phone: StrictStr | None = None
    user_id: StrictStr | StrictInt | None = None

    @model_validator(mode="after")
    def _phone_or_user(self) -> Self:
        if self.phone is None and self.user_id is None:
            raise ValueError("passcode.token needs phone or user_id")
        return self


class PasscodeDevice(Body):
    name: Name
    type: Name
    platform: Name
    user_agent: Name
    client_ip: Name


class Passcode(Body):
    token: PasscodeToken
    device: PasscodeDevice


class PayoutExecute(Body):
    session_id: StrId
    #: An int per the conventions, a string in the examples: both are accepted (§1.3).
    payout_account_id: LooseIntId
    reference_id: Uuid4
    passcode: Passcode


class SessionExecute(Body):
    session_id: StrId
    reference_id: Uuid4


class RealtimeKeyCreate(Body):
    session_id: IntId
    source_type: SourceType
    reference_id: Uuid4
    source_kind: MisnamedSourceKind = None


# --- responses ------------------------------------------------------------------------------


class Out(BaseModel):
    """A response body; rendered by ``encoding.dumps`` so Decimals stay exact."""

    model_config = ConfigDict(extra="forbid")


class TokenOut(Out):
    access_token: str
    #: MINUTES.
    expires_in: int


class PartyOut(Out):
    id: int
    fullname: str
    phone: str
    email: str | None
    country_code: str | None
    created_at: datetime
    updated_at: datetime


class CounterpartyOut(Out):
    id: int
    relationship_type: RelationshipType
    party_id: int | None
    created_at: datetime
    updated_at: datetime


class CounterpartyDetailOut(CounterpartyOut):
    party: PartyOut | None


class ItemOut(Out):
    id: int
    name: str
    currency: str
    qty: int
    amount: Decimal


class InvoiceOut(Out):
    id: int
    invoice_number: str
    status: SourceStatus
    currency: str
    note: str | None
    fee_bearer: FeeBearer
    as_payment_link: bool
    counterparty_id: int
    reference_id: str | None
    due_date: datetime | None
    total_amount: Decimal
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


class InvoiceDetailOut(InvoiceOut):
    invoice_items: list[ItemOut]
    counterparty: CounterpartyOut | None


class OrderOut(Out):
    id: int
    order_number: str
    status: SourceStatus
    currency: str
    note: str | None
    fee_bearer: FeeBearer
    as_payment_link: bool
    counterparty_id: int
    reference_id: str | None
    total_amount: Decimal
    paid_at: datetime | None
    created_at: datetime
    updated_at: datetime


class OrderDetailOut(OrderOut):
    order_items: list[ItemOut]
    counterparty: CounterpartyOut | None


class ReceiptOut(Out):
    source_type: SourceType
    source_id: int
    reference_id: str
    currency: str
    total_amount: Decimal
    fee_bearer: FeeBearer
    payer_amount: Decimal
    payer_currency: str
    payee_amount: Decimal
    payee_currency: str
    fx_rate: Decimal
    fx_currency_from: str
    fx_currency_to: str
    platform_fee: Decimal
    gateway_fee: Decimal
    fx_fee: Decimal | None
    fee_currency: str
    provider: Provider
    payment_method: PaymentMethod
    provider_transaction_id: str | None
    paid_at: datetime | None


class InvoiceReceiptOut(ReceiptOut):
    invoice_number: str
    invoice_items: list[ItemOut]


class OrderReceiptOut(ReceiptOut):
    order_number: str
    order_items: list[ItemOut]


class CheckoutOut(Out):
    id: int
    mode: CheckoutMode
    source_type: SourceType
    source_id: int
    source_number: str
    source_status: SourceStatus
    party_id: int
    counterparty_id: int
    source_checkout_config_id: int
    currency: str
    total_amount: Decimal
    reference_id: str | None
    url: str
    hosted_path_or_token: str
    due_date: datetime | None
    expires_at: datetime | None
    success_url: str | None
    cancel_url: str | None


class CheckoutSessionOut(Out):
    id: int
    source_id: int
    source_type: SourceType
    status: str
    payment_account_id: int | None
    expires_at: datetime
    created_at: datetime
    updated_at: datetime


class PayoutSessionOut(Out):
    id: int
    payout_account_id: int
    amount: Decimal
    currency: str
    wallet_id: int
    status: str
    expires_at: datetime
    created_at: datetime


class TransferSessionOut(Out):
    id: int
    from_wallet_id: int
    to_counterparty_id: int
    amount: Decimal
    currency: str
    status: str
    expires_at: datetime
    created_at: datetime


class RefundSessionOut(Out):
    id: int
    original_payment_intent_id: int
    amount: Decimal
    currency: str
    reason: str | None
    status: str
    expires_at: datetime
    created_at: datetime


class PaymentAccountOut(Out):
    id: int
    is_active: bool
    account_name: str
    provider: str
    method: PaymentMethod
    party_id: int
    country_code: str | None
    insensitive_account_number: str | None
    payment_method_id: str | None
    operation_type: OperationType
    created_at: datetime
    updated_at: datetime


class ExecutionOut(Out):
    reference_id: str
    status: ExecutionStatus
    operation_type: OperationType
    payer_amount: Decimal
    payer_currency: str
    payee_amount: Decimal
    payee_currency: str
    provider_transaction_id: str | None
    gateway_message: str | None
    wallet_message: str | None
    requires_action: bool
    client_secret: str | None


class CollectionExecutionOut(ExecutionOut):
    #: Undocumented by Dollr; what a refund session's ``original_payment_intent_id`` takes.
    payment_intent_id: int


class SourceStatusOut(Out):
    source_id: int
    source_type: SourceType
    source_number: str
    status: SourceStatus
    currency: str
    total_amount: Decimal
    paid_at: datetime | None


class PredictionOut(Out):
    """Amounts are decimal strings here (§8), unlike executions and receipts."""

    payer_amount: str
    payer_currency: str
    payee_amount: str
    payee_currency: str
    platform_fee: str
    platform_currency: str
    gateway_fee: str | None
    gateway_currency: str | None
    fx_fee: str | None


class MmoInfoOut(Out):
    carrier: str
    country: str
    currencies: list[str]
    phone: str
    payment_method: PaymentMethod
    gateway_provider: Provider
    operation_type: OperationType


class CardInfoOut(Out):
    brand: str
    country: str
    currencies: list[str]
    payment_method: PaymentMethod
    gateway_provider: Provider
    operation_type: OperationType
    funding: str
    last4: str


class GatewayFeeOut(Out):
    payment_method: PaymentMethod
    provider: Provider
    operation_type: OperationType
    percent: Decimal
    fixed_amount: Decimal
    fixed_currency: str


class PlatformFeeOut(Out):
    fee_tier_name: str
    operation_type: OperationType
    percent: Decimal


class TierOut(Out):
    name: str
    is_default: bool
    created_at: datetime
    updated_at: datetime


class MerchantTierOut(TierOut):
    owner_type: OwnerType
    owner_id: int


class LinkOut(Out):
    url: str


class MerchantOut(Out):
    id: int
    name: str
    type: MerchantType
    email: str | None
    phone: str | None


class RealtimeKeyOut(Out):
    access_token: str
    #: SECONDS, unlike the access token's minutes.
    expires_in: int
