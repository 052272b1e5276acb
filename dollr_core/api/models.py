"""Typed requests and responses of the Dollr v1 API (contract `dollr-api.md`).

Two families with opposite attitudes:

* **Requests** (`RequestModel`) are strict. They are validated when built, before anything is
  sent: E.164 phones without `+`, supported upper-case currencies, positive amounts within the
  currency's minor units, UUID v4 execution references, known enum values, no extra fields.
  A bad value raises `pydantic.ValidationError` (see `errors.describe_validation_error`).
  `to_body()` gives the JSON body with the contract's id types (§1.3) and reveals secrets;
  nothing else does.
* **Responses** (`DollrModel`) are tolerant: unknown fields are kept (`model_extra`), ids may be
  numeric strings, unknown enum values stay raw strings, money is `Decimal` (JSON numbers and
  decimal strings alike), and a `{"data": ...}` envelope is unwrapped.
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any, ClassVar, Self, TypeVar

from email_validator import EmailNotValidError, validate_email
from pydantic import (
    AfterValidator,
    AliasChoices,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SecretStr,
    SerializationInfo,
    StringConstraints,
    ValidationInfo,
    field_serializer,
    field_validator,
    model_validator,
)

from dollr_core.basics import enums
from dollr_core.basics.enums import (
    METHOD_PROVIDER,
    CheckoutMode,
    ExecutionStatus,
    FeeBearer,
    MerchantType,
    OperationType,
    OwnerType,
    PaymentMethod,
    Provider,
    RelationshipType,
    SourceType,
)
from dollr_core.basics.money import check_amount, check_currency, to_decimal
from dollr_core.basics.phone import is_e164_digits

__all__ = [
    "AmountAndFeePrediction",
    "AmountAndFeesQuery",
    "CardProviderInfo",
    "CheckoutCreate",
    "CheckoutItem",
    "CheckoutSession",
    "CheckoutSessionCreate",
    "CheckoutSource",
    "CollectionExecute",
    "Counterparty",
    "CounterpartyCreate",
    "CounterpartyDetail",
    "CounterpartyUpdate",
    "Document",
    "DocumentDetail",
    "DocumentUpdate",
    "DollrModel",
    "Execution",
    "FeeSchedule",
    "FeeTier",
    "GatewayFeeSchedule",
    "InvoiceCreate",
    "Item",
    "ItemCreate",
    "ItemUpdate",
    "Link",
    "MerchantInfo",
    "MerchantTier",
    "MmoProviderInfo",
    "OrderCreate",
    "Party",
    "PartyCreate",
    "Passcode",
    "PasscodeDevice",
    "PasscodeToken",
    "PaymentAccount",
    "PaymentAccountCreate",
    "PaymentSourceQuery",
    "PayoutExecute",
    "PayoutSession",
    "PayoutSessionCreate",
    "PlatformFeeSchedule",
    "RealtimeKey",
    "RealtimeKeyCreate",
    "Receipt",
    "ReceiptItem",
    "RefundExecute",
    "RefundSession",
    "RefundSessionCreate",
    "RequestModel",
    "SourceStatus",
    "SourceStatusResult",
    "TokenRequest",
    "TokenResponse",
    "TransferExecute",
    "TransferSession",
    "TransferSessionCreate",
    "check_reference_id",
    "parse_list",
]

E = TypeVar("E")

# ================================================================================================
# Shared field types
# ================================================================================================


def _money_in(value: Any) -> Any:
    """JSON number or decimal string → exact Decimal (floats via `str`, so 257.5 stays 257.5)."""
    if value is None or isinstance(value, Decimal):
        return value
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return to_decimal(value)
    return value


def _id_in(value: Any) -> Any:
    """Ids arrive as int or numeric string; both become int. Booleans are not ids."""
    if isinstance(value, bool):
        raise ValueError("An id must be a whole number.")
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return value


#: Money in responses: Decimal from a JSON number or a decimal string.
Money = Annotated[Decimal, BeforeValidator(_money_in)]
#: An id in a response: int, accepting a numeric string.
Id = Annotated[int, BeforeValidator(_id_in)]
#: An enum value that stays a raw string when Dollr sends a value we do not know.
Open = Annotated[E | str, Field(union_mode="left_to_right")]


def _format_datetime(value: datetime) -> str:
    value = value.astimezone(UTC)
    text = value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    return text.replace("+00:00", "Z")


def _check_currency(value: str) -> str:
    return check_currency(value)


def _check_phone(value: str) -> str:
    if not is_e164_digits(value):
        raise ValueError(
            "Use the international number as digits only, with the country code and no +,"
            " e.g. 231771234567 (8 to 15 digits)."
        )
    return value


def _check_country(value: str) -> str:
    if len(value) != 2 or not value.isascii() or not value.isalpha() or not value.isupper():
        raise ValueError("Use a two-letter upper-case country code such as LR or RW.")
    return value


def check_reference_id(value: uuid.UUID | str) -> str:
    """A UUID v4 execution reference in canonical lower-case form, or ValueError."""
    if isinstance(value, uuid.UUID):
        parsed = value
    elif isinstance(value, str):
        try:
            parsed = uuid.UUID(value.strip())
        except ValueError:
            raise ValueError("The reference id must be a UUID v4, e.g. from uuid.uuid4().") from None
    else:
        raise ValueError("The reference id must be a UUID v4 string.")
    if parsed.version != 4 or parsed.variant != uuid.RFC_4122:
        raise ValueError("The reference id must be a UUID version 4 (random), e.g. from uuid.uuid4().")
    return str(parsed)


def _reference_in(value: Any) -> Any:
    if isinstance(value, uuid.UUID | str):
        return check_reference_id(value)
    return value


def _strict_id_in(value: Any) -> Any:
    """Request ids: int or numeric string → int; anything else is refused."""
    if isinstance(value, bool):
        raise ValueError("An id must be a positive whole number.")
    if isinstance(value, str):
        if not value.strip().isdigit():
            raise ValueError("An id must be a positive whole number.")
        return int(value.strip())
    return value


def _amount_in(value: Any) -> Any:
    if isinstance(value, Decimal | str | int | float) and not isinstance(value, bool):
        return to_decimal(value)
    return value


def _check_email(value: str) -> str:
    """RFC syntax by email-validator; the address is sent as typed (Dollr keeps its case)."""
    try:
        validate_email(value, check_deliverability=False)
    except EmailNotValidError:
        raise ValueError("Enter an email address such as amara@example.com.") from None
    return value


def _check_ip(value: str) -> str:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("Use an IPv4 or IPv6 address such as 203.0.113.10.") from None
    return value


NonEmpty = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]
Email = Annotated[str, StringConstraints(strip_whitespace=True), AfterValidator(_check_email)]
Currency = Annotated[str, AfterValidator(_check_currency)]
Phone = Annotated[str, AfterValidator(_check_phone)]
CountryCode = Annotated[str, AfterValidator(_check_country)]
ReferenceId = Annotated[str, BeforeValidator(_reference_in)]
#: A request id sent as a JSON integer.
IntId = Annotated[int, BeforeValidator(_strict_id_in), Field(gt=0)]
#: A request id sent as a JSON string (§1.3: execution session_id, payment_account_id).
StrId = Annotated[
    int, BeforeValidator(_strict_id_in), Field(gt=0), PlainSerializer(lambda v: str(v), return_type=str)
]
#: A request amount: exact Decimal, positive; the currency's minor units are checked per model.
Amount = Annotated[Decimal, BeforeValidator(_amount_in), Field(allow_inf_nan=False)]
#: A request timestamp: time-zone aware, sent as ISO 8601 UTC with `Z`.
Timestamp = Annotated[AwareDatetime, PlainSerializer(_format_datetime, return_type=str)]


# ================================================================================================
# Base classes
# ================================================================================================


class DollrModel(BaseModel):
    """A response from Dollr: tolerant, keeps unknown fields, unwraps a `data` envelope."""

    model_config = ConfigDict(extra="allow", validate_by_name=True, validate_by_alias=True)

    @model_validator(mode="before")
    @classmethod
    def _unwrap_data(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "data" in data and not cls._has_expected_key(data):
            inner = data["data"]
            if isinstance(inner, Mapping | list):
                return inner
        return data

    @classmethod
    def _has_expected_key(cls, data: Mapping[str, Any]) -> bool:
        for name, info in cls.model_fields.items():
            if name in data:
                return True
            alias = info.validation_alias
            if isinstance(alias, str) and alias in data:
                return True
            if isinstance(alias, AliasChoices) and any(
                isinstance(choice, str) and choice in data for choice in alias.choices
            ):
                return True
        return False

    @property
    def extras(self) -> dict[str, Any]:
        """The fields Dollr sent that this model does not declare."""
        return dict(self.model_extra or {})


M = TypeVar("M", bound=DollrModel)


def parse_list(model: type[M], payload: Any, *, context: dict[str, Any] | None = None) -> list[M]:
    """A JSON array of `model`, also accepting a `{"data": [...]}` envelope."""
    if isinstance(payload, Mapping) and isinstance(payload.get("data"), list):
        payload = payload["data"]
    if payload is None:
        return []
    if not isinstance(payload, list):
        raise ValueError(f"expected a JSON array of {model.__name__}, got {type(payload).__name__}")
    return [model.model_validate(item, context=context) for item in payload]


class RequestModel(BaseModel):
    """A request body or query: strict, frozen, no extra fields. Send `to_body()` / `to_params()`."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False, validate_default=True)

    def to_body(self) -> dict[str, Any]:
        """The JSON body: ids typed per §1.3, Decimals kept exact, secrets revealed, Nones omitted."""
        body: dict[str, Any] = self.model_dump(mode="python", exclude_none=True, context={"reveal": True})
        plain: dict[str, Any] = _plain(body)
        return plain

    def to_params(self) -> dict[str, str]:
        """The query string: every value as text (Decimals without exponent)."""
        params: dict[str, str] = {}
        for key, value in self.to_body().items():
            params[key] = _query_value(value)
        return params

    def secret_values(self) -> list[str]:
        """Every secret this request carries (so logs and errors can scrub them)."""
        found: list[str] = []
        _collect_secrets(self, found)
        return found


def _collect_secrets(model: BaseModel, found: list[str]) -> None:
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            _collect_secrets(value, found)


def _plain(value: Any) -> Any:
    """Enums → their value; everything else unchanged (Decimal stays Decimal for exact JSON)."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value


def _query_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _amount_validator(currency_field: str | None) -> Any:
    def check(value: Decimal | None, info: ValidationInfo) -> Decimal | None:
        if value is None:
            return None
        if currency_field is None:
            return check_amount(value, None)
        # When the currency itself was refused, check what holds for every currency.
        return check_amount(value, info.data.get(currency_field))

    return check


# ================================================================================================
# Authentication (A1) and realtime keys (R1)
# ================================================================================================


class TokenRequest(RequestModel):
    """A1 body. Built by the client from Settings; never logged."""

    client_id: NonEmpty
    client_secret: SecretStr

    @field_serializer("client_secret")
    def _reveal(self, value: SecretStr, info: SerializationInfo) -> str:
        return value.get_secret_value() if (info.context or {}).get("reveal") else str(value)


class TokenResponse(DollrModel):
    """A1 response. `expires_in` is in MINUTES (the realtime key's is in seconds)."""

    access_token: SecretStr
    expires_in: int = Field(description="minutes")

    @property
    def lifetime(self) -> timedelta:
        return timedelta(minutes=self.expires_in)


class RealtimeKeyCreate(RequestModel):
    """R1 body: `session_id` is a JSON integer here (unlike the executions)."""

    session_id: IntId
    source_type: SourceType
    reference_id: ReferenceId


class RealtimeKey(DollrModel):
    """R1 response: a Supabase Realtime JWT; `expires_in` is in SECONDS."""

    access_token: SecretStr
    expires_in: int = Field(description="seconds")

    @property
    def lifetime(self) -> timedelta:
        return timedelta(seconds=self.expires_in)


# ================================================================================================
# Parties (P1–P3) and counterparties (C1–C4)
# ================================================================================================


class PartyCreate(RequestModel):
    fullname: NonEmpty
    phone: Phone
    email: Email | None = None
    country_code: CountryCode | None = None


class Party(DollrModel):
    id: Id
    fullname: str
    phone: str
    email: str | None = None
    country_code: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CounterpartyCreate(RequestModel):
    relationship_type: RelationshipType
    party_id: IntId | None = None


class CounterpartyUpdate(RequestModel):
    relationship_type: RelationshipType | None = None
    party_id: IntId | None = None


class Counterparty(DollrModel):
    id: Id
    relationship_type: Open[RelationshipType] | None = None
    party_id: Id | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class CounterpartyDetail(Counterparty):
    """C3: the counterparty with its party embedded."""

    party: Party | None = None


# ================================================================================================
# Invoices (I1–I12), orders (O1–O12) and their items
# ================================================================================================


class ItemCreate(RequestModel):
    """I6/O6 body. `amount` is the UNIT price; use the document's currency."""

    name: NonEmpty
    currency: Currency
    qty: int = Field(ge=1, strict=True)
    amount: Amount

    _check_amount = field_validator("amount")(_amount_validator("currency"))


class ItemUpdate(RequestModel):
    """I7/O7 body (all optional). Without a currency, amounts are checked for ≤ 2 decimals only."""

    name: NonEmpty | None = None
    qty: int | None = Field(default=None, ge=1, strict=True)
    amount: Amount | None = None

    _check_amount = field_validator("amount")(_amount_validator(None))


class Item(DollrModel):
    id: Id
    name: str
    currency: str | None = None
    qty: int = 1
    amount: Money

    @property
    def line_total(self) -> Decimal:
        return self.amount * self.qty


class InvoiceCreate(RequestModel):
    """I1 body. `reference_id` is your own document reference (any text, not a UUID)."""

    source_type: ClassVar[SourceType] = SourceType.INVOICE

    counterparty_id: IntId
    currency: Currency
    note: str
    fee_bearer: FeeBearer
    as_payment_link: bool = Field(strict=True)
    reference_id: str | None = None
    due_date: Timestamp | None = None


class OrderCreate(RequestModel):
    """O1 body: as an invoice, without `due_date`."""

    source_type: ClassVar[SourceType] = SourceType.ORDER

    counterparty_id: IntId
    currency: Currency
    note: str
    fee_bearer: FeeBearer
    as_payment_link: bool = Field(strict=True)
    reference_id: str | None = None


class DocumentUpdate(RequestModel):
    """I2/O2 body (all optional; only while IDLE). `None` means "leave unchanged"."""

    reference_id: str | None = None
    note: str | None = None
    fee_bearer: FeeBearer | None = None
    due_date: Timestamp | None = None


_NUMBER_KEYS = {"invoice_number": SourceType.INVOICE, "order_number": SourceType.ORDER}


class Document(DollrModel):
    """An invoice or an order. `number` comes from `invoice_number` / `order_number`."""

    id: Id
    number: str = Field(validation_alias=AliasChoices("invoice_number", "order_number", "number"))
    source_type: Open[SourceType]
    status: Open[enums.SourceStatus]
    currency: str
    note: str | None = None
    fee_bearer: Open[FeeBearer] | None = None
    as_payment_link: bool | None = None
    counterparty_id: Id | None = None
    reference_id: str | None = None
    due_date: datetime | None = None
    total_amount: Money | None = None
    paid_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _kind(cls, data: Any, info: ValidationInfo) -> Any:
        if isinstance(data, Mapping) and "data" in data and not cls._has_expected_key(data):
            data = data["data"]
        if isinstance(data, Mapping) and not data.get("source_type"):
            kind = next((k for key, k in _NUMBER_KEYS.items() if key in data), None)
            if kind is None and info.context:
                kind = info.context.get("source_type")
            if kind is not None:
                data = {**data, "source_type": kind}
        return data

    @property
    def is_invoice(self) -> bool:
        return self.source_type == SourceType.INVOICE


class DocumentDetail(Document):
    """I4/I5/O4/O5: the document with its line items and embedded counterparty."""

    items: list[Item] = Field(
        default_factory=list, validation_alias=AliasChoices("invoice_items", "order_items", "items")
    )
    counterparty: CounterpartyDetail | None = None


class ReceiptItem(DollrModel):
    """A receipt line: every field optional (receipt shapes are undocumented)."""

    id: Id | None = None
    name: str | None = None
    currency: str | None = None
    qty: int | None = None
    amount: Money | None = None


class Receipt(DollrModel):
    """I11/I12/O11/O12. Names beyond the documented contents follow §3.3's recommendation."""

    id: Id | None = None
    source_type: Open[SourceType] | None = None
    source_id: Id | None = None
    number: str | None = Field(
        default=None,
        validation_alias=AliasChoices("source_number", "invoice_number", "order_number", "number"),
    )
    status: Open[enums.SourceStatus] | None = None
    currency: str | None = None
    total_amount: Money | None = None
    payer_amount: Money | None = None
    payer_currency: str | None = None
    payee_amount: Money | None = None
    payee_currency: str | None = None
    fx_rate: Money | None = None
    fx_currency_from: str | None = None
    fx_currency_to: str | None = None
    platform_fee: Money | None = None
    gateway_fee: Money | None = None
    fx_fee: Money | None = None
    fee_currency: str | None = None
    fee_bearer: Open[FeeBearer] | None = None
    provider: Open[Provider] | None = None
    payment_method: Open[PaymentMethod] | None = None
    provider_transaction_id: str | None = None
    reference_id: str | None = None
    items: list[ReceiptItem] = Field(
        default_factory=list, validation_alias=AliasChoices("invoice_items", "order_items", "items")
    )
    paid_at: datetime | None = None

    @property
    def total_fees(self) -> Decimal | None:
        fees = [f for f in (self.platform_fee, self.gateway_fee, self.fx_fee) if f is not None]
        return sum(fees, Decimal(0)) if fees else None


# ================================================================================================
# Checkouts (K1)
# ================================================================================================


class CheckoutItem(RequestModel):
    """A hosted-checkout line: name, currency, amount (≥ 0.01). No `qty`."""

    name: NonEmpty
    currency: Currency
    amount: Amount

    _check_amount = field_validator("amount")(_amount_validator("currency"))


class CheckoutCreate(RequestModel):
    """K1 body. Note the field is `source_kind` here (and only here)."""

    mode: CheckoutMode = CheckoutMode.HOSTED
    source_kind: SourceType
    party_name: NonEmpty
    party_phone: Phone
    currency: Currency
    items: list[CheckoutItem] = Field(min_length=1)
    party_email: Email | None = None
    party_relationship: RelationshipType | None = None
    counterparty_id: IntId | None = None
    reference_id: str | None = None
    note: str | None = None
    due_date: Timestamp | None = None
    expires_at: Timestamp | None = None
    success_url: str | None = None
    cancel_url: str | None = None

    @model_validator(mode="after")
    def _same_currency(self) -> Self:
        for index, item in enumerate(self.items):
            if item.currency != self.currency:
                raise ValueError(
                    f"Item {index + 1} is in {item.currency} but the checkout is in {self.currency};"
                    " use one currency."
                )
        return self


class CheckoutSource(DollrModel):
    """K1 response. `url` is the hosted page (falls back to `hosted_path_or_token`)."""

    id: Id
    mode: Open[CheckoutMode] | None = None
    source_type: Open[SourceType] = Field(validation_alias=AliasChoices("source_type", "source_kind"))
    source_id: Id
    source_number: str | None = None
    source_status: Open[enums.SourceStatus] | None = None
    party_id: Id | None = None
    counterparty_id: Id | None = None
    source_checkout_config_id: Id | None = None
    currency: str | None = None
    total_amount: Money | None = None
    reference_id: str | None = None
    url: str | None = None
    hosted_path_or_token: str | None = None
    due_date: datetime | None = None
    expires_at: datetime | None = None
    success_url: str | None = None
    cancel_url: str | None = None

    @model_validator(mode="after")
    def _url_fallback(self) -> Self:
        if not self.url and self.hosted_path_or_token:
            self.url = self.hosted_path_or_token
        return self


# ================================================================================================
# Sessions (S1–S4)
# ================================================================================================


class CheckoutSessionCreate(RequestModel):
    source_id: IntId
    source_type: SourceType


class CheckoutSession(DollrModel):
    id: Id
    source_id: Id | None = None
    source_type: Open[SourceType] | None = None
    status: str | None = None
    payment_account_id: Id | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class PayoutSessionCreate(RequestModel):
    """S2 body (current form). `wallet_id` and `expires_at` come back in the response."""

    payout_account_id: IntId
    currency: Currency
    amount: Amount

    _check_amount = field_validator("amount")(_amount_validator("currency"))


class PayoutSession(DollrModel):
    id: Id
    payout_account_id: Id | None = None
    amount: Money | None = None
    currency: str | None = None
    wallet_id: Id | None = None
    status: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class TransferSessionCreate(RequestModel):
    from_wallet_id: IntId
    to_counterparty_id: IntId
    currency: Currency
    amount: Amount
    expires_at: Timestamp

    _check_amount = field_validator("amount")(_amount_validator("currency"))


class TransferSession(DollrModel):
    """S3 response: only `id` is documented."""

    id: Id
    from_wallet_id: Id | None = None
    to_counterparty_id: Id | None = None
    amount: Money | None = None
    currency: str | None = None
    status: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class RefundSessionCreate(RequestModel):
    """S4 body. No currency: the amount is checked for positivity and ≤ 2 decimals only."""

    original_payment_intent_id: IntId
    amount: Amount
    expires_at: Timestamp
    reason: str | None = None

    _check_amount = field_validator("amount")(_amount_validator(None))


class RefundSession(DollrModel):
    """S4 response: only `id` is documented."""

    id: Id
    original_payment_intent_id: Id | None = None
    amount: Money | None = None
    currency: str | None = None
    reason: str | None = None
    status: str | None = None
    expires_at: datetime | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# ================================================================================================
# Payment accounts (PA1)
# ================================================================================================


def _provider_in(value: Any) -> Any:
    """§9 #1: MoMo accounts sometimes carry the method name as provider; map it to the provider."""
    if isinstance(value, str) and value in PaymentMethod.__members__:
        return METHOD_PROVIDER[PaymentMethod(value)]
    return value


class PaymentAccountCreate(RequestModel):
    """PA1 body. Cards: `CREDIT_CARD` + `STRIPE` and no account number. MoMo: the wallet phone."""

    account_name: NonEmpty
    provider: Provider
    method: PaymentMethod
    party_id: IntId
    country_code: CountryCode | None = None
    insensitive_account_number: Phone | None = None

    @model_validator(mode="after")
    def _combination(self) -> Self:
        expected = METHOD_PROVIDER[self.method]
        if self.provider != expected:
            raise ValueError(
                f"{self.method.value} accounts use the provider {expected.value}, not {self.provider.value}."
            )
        if self.method is PaymentMethod.CREDIT_CARD and self.insensitive_account_number is not None:
            raise ValueError("Leave the account number out for card accounts.")
        if self.method.is_mobile_money and self.insensitive_account_number is None:
            raise ValueError("Mobile-money accounts need the wallet phone number.")
        return self


class PaymentAccount(DollrModel):
    """PA1 response: only `id` and `is_active` are documented; the rest is echoed when present."""

    id: Id
    is_active: bool | None = None
    account_name: str | None = None
    provider: Annotated[Open[Provider] | None, BeforeValidator(_provider_in)] = None
    method: Open[PaymentMethod] | None = None
    party_id: Id | None = None
    country_code: str | None = None
    insensitive_account_number: str | None = None
    operation_type: Open[OperationType] | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


# ================================================================================================
# Executions (E1–E4), status (ST1–ST5)
# ================================================================================================


class CollectionExecute(RequestModel):
    """E1 body. `session_id` and `payment_account_id` are JSON strings; `currency` is the payer's."""

    session_id: StrId
    payment_account_id: StrId
    currency: Currency
    reference_id: ReferenceId


class PasscodeToken(RequestModel):
    """The merchant passcode and the phone (or user id) it is registered with. `code` is secret."""

    code: SecretStr
    phone: Phone | None = None
    user_id: Annotated[str, StringConstraints(min_length=1)] | Annotated[int, Field(strict=True)] | None = (
        None
    )

    @field_validator("code")
    @classmethod
    def _code(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("Enter the merchant passcode.")
        return value

    @model_validator(mode="after")
    def _one_identity(self) -> Self:
        if (self.phone is None) == (self.user_id is None):
            raise ValueError("Give either the passcode phone or the user id, not both and not neither.")
        return self

    @field_serializer("code")
    def _reveal(self, value: SecretStr, info: SerializationInfo) -> str:
        return value.get_secret_value() if (info.context or {}).get("reveal") else str(value)


class PasscodeDevice(RequestModel):
    """The device the payout is sent from (all fields required, for Dollr's audit)."""

    name: NonEmpty
    type: NonEmpty
    platform: NonEmpty
    user_agent: NonEmpty
    client_ip: Annotated[str, AfterValidator(_check_ip)]


class Passcode(RequestModel):
    token: PasscodeToken
    device: PasscodeDevice


class PayoutExecute(RequestModel):
    """E2 body. `session_id` is a string, `payout_account_id` an int (§1.3)."""

    session_id: StrId
    payout_account_id: IntId
    reference_id: ReferenceId
    passcode: Passcode


class TransferExecute(RequestModel):
    session_id: StrId
    reference_id: ReferenceId


class RefundExecute(RequestModel):
    session_id: StrId
    reference_id: ReferenceId


class Execution(DollrModel):
    """ExecutionResponse (E1–E4, ST1–ST4). Only `reference_id` is guaranteed; extras are kept.

    `client_secret` is Stripe's 3DS secret: hand `client_secret.get_secret_value()` to Stripe.js
    only. `payment_intent_id` is read when Dollr sends it (needed for refunds, undocumented).
    """

    reference_id: str
    status: Open[ExecutionStatus] | None = None
    operation_type: Open[OperationType] | None = None
    payer_amount: Money | None = None
    payer_currency: str | None = None
    payee_amount: Money | None = None
    payee_currency: str | None = None
    provider_transaction_id: str | None = None
    gateway_message: str | None = None
    wallet_message: str | None = None
    requires_action: bool = False
    client_secret: SecretStr | None = None
    payment_intent_id: Annotated[Id | str, Field(union_mode="left_to_right")] | None = None

    @property
    def is_final(self) -> bool:
        return self.status in (ExecutionStatus.COMPLETED, ExecutionStatus.FAILED)


class SourceStatusResult(DollrModel):
    """ST5: the invoice's or order's state. Fulfil only on `status == PAID`."""

    source_id: Id
    source_type: Open[SourceType] | None = None
    source_number: str | None = None
    status: Open[enums.SourceStatus]
    currency: str | None = None
    total_amount: Money | None = None
    paid_at: datetime | None = None


#: The name the client API uses for ST5's result (the enum of the same name is in `enums`).
SourceStatus = SourceStatusResult


# ================================================================================================
# Predictions (PR1–PR4)
# ================================================================================================


class AmountAndFeesQuery(RequestModel):
    """PR1 query. `target_currency` is the PAYER's currency (§8)."""

    base_currency: Currency
    base_amount: Amount
    target_currency: Currency
    payment_method: PaymentMethod
    operation_type: OperationType
    provider: Provider
    fee_bearer: FeeBearer
    owner_type: OwnerType | None = None
    owner_id: IntId | None = None

    _check_amount = field_validator("base_amount")(_amount_validator("base_currency"))

    @model_validator(mode="after")
    def _owner(self) -> Self:
        if (self.owner_type is None) != (self.owner_id is None):
            raise ValueError("Give both the owner type and the owner id, or neither.")
        return self


class PaymentSourceQuery(RequestModel):
    """PR2 query: base amount and fee bearer come from the published source."""

    source_type: SourceType
    source_id: IntId
    target_currency: Currency
    payment_method: PaymentMethod
    provider: Provider


class AmountAndFeePrediction(DollrModel):
    """PR1/PR2 response. Dollr sends decimal strings; all amounts are Decimal here."""

    payer_amount: Money
    payer_currency: str
    payee_amount: Money
    payee_currency: str
    platform_fee: Money | None = None
    platform_currency: str | None = None
    gateway_fee: Money | None = None
    gateway_currency: str | None = None
    fx_fee: Money | None = None
    fx_rate: Money | None = None


class MmoProviderInfo(DollrModel):
    """PR3 response. Use `payment_method` as the account `method`, `gateway_provider` as `provider`."""

    carrier: str | None = None
    country: str | None = None
    currencies: list[str] = Field(default_factory=list)
    phone: str | None = None
    payment_method: Open[PaymentMethod] | None = Field(
        default=None, validation_alias=AliasChoices("payment_method", "method")
    )
    gateway_provider: Open[Provider] | None = Field(
        default=None, validation_alias=AliasChoices("gateway_provider", "provider")
    )
    operation_type: Open[OperationType] | None = None


class CardProviderInfo(DollrModel):
    """PR4 response; routing metadata beyond these fields is kept in `extras`."""

    brand: str | None = None
    country: str | None = None
    currencies: list[str] = Field(default_factory=list)
    payment_method: Open[PaymentMethod] | None = Field(
        default=None, validation_alias=AliasChoices("payment_method", "method")
    )
    gateway_provider: Open[Provider] | None = Field(
        default=None, validation_alias=AliasChoices("gateway_provider", "provider")
    )


# ================================================================================================
# Fees (F1–F4), links (L1–L2), merchants (M1)
# ================================================================================================


class FeeSchedule(DollrModel):
    """F1/F2: shape undocumented. Object fields are kept as extras; a bare array lands in `entries`."""

    entries: list[Any] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _array(cls, data: Any) -> Any:
        if isinstance(data, list):
            return {"entries": data}
        return data


class GatewayFeeSchedule(FeeSchedule):
    """F1 response (per payment method and operation)."""


class PlatformFeeSchedule(FeeSchedule):
    """F2 response (per operation and fee tier)."""


def _tier_in(data: Any) -> Any:
    if isinstance(data, Mapping) and "name" not in data:
        for key in ("tier", "fee_tier"):
            nested = data.get(key)
            if isinstance(nested, Mapping) and "name" in nested:
                return {**data, "name": nested["name"]}
        for key in ("fee_tier_name", "tier_name"):
            if isinstance(data.get(key), str):
                return {**data, "name": data[key]}
    return data


class FeeTier(DollrModel):
    """F4 entry."""

    name: str
    is_default: bool | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None


class MerchantTier(DollrModel):
    """F3: the tier assigned to an owner; pass `name` as `fee_tier_name` to F2."""

    name: str
    is_default: bool | None = None
    owner_type: Open[OwnerType] | None = None
    owner_id: Id | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _name(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "data" in data and "name" not in data:
            data = data["data"]
        return _tier_in(data)


class Link(DollrModel):
    """L1/L2: `{"url": ...}`."""

    url: str


class MerchantInfo(DollrModel):
    """M1 response."""

    id: Id
    name: str
    type: Open[MerchantType] | None = None
    email: str | None = None
    phone: str | None = None
