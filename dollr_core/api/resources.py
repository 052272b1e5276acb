"""The typed namespaces of `DollrClient` (`client.parties`, `client.invoices`, `client.status`…):
one method per Dollr v1 endpoint, each validating its arguments and parsing its answer."""

from __future__ import annotations

import builtins
import uuid
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import ValidationError

from dollr_core.api.errors import FieldError, RequestValidationError, UnexpectedResponseError
from dollr_core.api.models import (
    AmountAndFeePrediction,
    AmountAndFeesQuery,
    CardProviderInfo,
    CheckoutCreate,
    CheckoutSession,
    CheckoutSessionCreate,
    CheckoutSource,
    CollectionExecute,
    Counterparty,
    CounterpartyCreate,
    CounterpartyDetail,
    CounterpartyUpdate,
    Document,
    DocumentDetail,
    DocumentUpdate,
    DollrModel,
    Execution,
    FeeTier,
    GatewayFeeSchedule,
    InvoiceCreate,
    Item,
    ItemCreate,
    ItemUpdate,
    Link,
    MerchantInfo,
    MerchantTier,
    MmoProviderInfo,
    OrderCreate,
    Party,
    PartyCreate,
    PaymentAccount,
    PaymentAccountCreate,
    PaymentSourceQuery,
    PayoutExecute,
    PayoutSession,
    PayoutSessionCreate,
    PlatformFeeSchedule,
    RealtimeKey,
    RealtimeKeyCreate,
    Receipt,
    RefundExecute,
    RefundSession,
    RefundSessionCreate,
    RequestModel,
    SourceStatusResult,
    TransferExecute,
    TransferSession,
    TransferSessionCreate,
    check_reference_id,
    parse_list,
)
from dollr_core.api.transport import Retry, Sender
from dollr_core.basics.enums import (
    MerchantType,
    OperationType,
    OwnerType,
    PaymentMethod,
    Provider,
    RelationshipType,
    SourceStatus,
    SourceType,
)
from dollr_core.basics.money import check_currency
from dollr_core.basics.phone import is_e164_digits

TOKEN_PATH = "/v1/jwt/client/obtain/token"
USER_AGENT = "dollr-ops-console/0.1 (+httpx)"

M = TypeVar("M", bound=DollrModel)
En = TypeVar("En", bound=StrEnum)


# --- argument checks (raise RequestValidationError before anything is sent) ---------------------


def _invalid(field: str, message: str) -> RequestValidationError:
    return RequestValidationError([FieldError(field, message, "value_error")])


def _path_id(value: int | str, field: str) -> int:
    if isinstance(value, bool):
        raise _invalid(field, "Must be a positive whole number.")
    if isinstance(value, str) and value.strip().isdigit():
        value = int(value.strip())
    if not isinstance(value, int) or value <= 0:
        raise _invalid(field, "Must be a positive whole number.")
    return value


def _text(value: str, field: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, "Must not be empty.")
    return value.strip()


def _choice(enum_type: type[En], value: En | str, field: str) -> En:
    if enum_type is SourceType and value == "SUBSCRIPTION":
        raise _invalid(field, "SUBSCRIPTION is reserved and not supported by Dollr; use INVOICE or ORDER.")
    try:
        return enum_type(value)
    except ValueError:
        allowed = ", ".join(member.value for member in enum_type)
        raise _invalid(field, f"Choose one of {allowed}.") from None


def _segment(value: str) -> str:
    return quote(value, safe="")


def parse_response(model: type[M], payload: Any, method: str, path: str, **context: Any) -> M:
    try:
        return model.model_validate(payload if payload is not None else {}, context=context or None)
    except ValidationError as exc:
        raise _unreadable(model, exc, method, path) from None


def _parse_many(model: type[M], payload: Any, method: str, path: str, **context: Any) -> list[M]:
    try:
        return parse_list(model, payload, context=context or None)
    except (ValidationError, ValueError) as exc:
        raise _unreadable(model, exc, method, path) from None


def _unreadable(model: type[Any], exc: Exception, method: str, path: str) -> UnexpectedResponseError:
    fields = ""
    if isinstance(exc, ValidationError):
        names = sorted({".".join(str(p) for p in e["loc"]) or "(body)" for e in exc.errors()})
        fields = " (fields: " + ", ".join(names[:8]) + ")"
    return UnexpectedResponseError(
        f"Dollr's answer could not be read as {model.__name__}{fields}.",
        outcome_unknown=method != "GET",
        method=method,
        path=path,
    )


# --- namespaces ---------------------------------------------------------------------------------


class _Resource:
    def __init__(self, sender: Sender) -> None:
        self._sender = sender

    def __repr__(self) -> str:
        return f"<{type(self).__name__}>"

    def _get(self, path: str, params: Mapping[str, str | None] | None = None) -> Any:
        clean = {k: v for k, v in (params or {}).items() if v is not None}
        return self._sender.request("GET", path, params=clean or None, retry=Retry.SAFE)

    def _write(
        self,
        method: str,
        path: str,
        body: RequestModel | None = None,
        *,
        retry: Retry = Retry.CREATE,
        params: Mapping[str, str] | None = None,
    ) -> Any:
        return self._sender.request(method, path, body=body, params=params, retry=retry)


def _require(body: object, model: type[RequestModel] | tuple[type[RequestModel], ...], field: str) -> None:
    if not isinstance(body, model):
        names = " or ".join(m.__name__ for m in (model if isinstance(model, tuple) else (model,)))
        raise _invalid(field, f"Pass a {names} (got {type(body).__name__}).")


class Parties(_Resource):
    """P1–P3."""

    def create(self, body: PartyCreate) -> Party:
        _require(body, PartyCreate, "body")
        path = "/v1/parties/create"
        return parse_response(Party, self._write("POST", path, body), "POST", path)

    def list(self, fullname: str | None = None) -> builtins.list[Party]:
        path = "/v1/parties/list"
        return _parse_many(Party, self._get(path, {"fullname": fullname}), "GET", path)

    def retrieve(self, party_id: int) -> Party:
        path = f"/v1/parties/retrieve/{_path_id(party_id, 'party_id')}"
        return parse_response(Party, self._get(path), "GET", path)


class Counterparties(_Resource):
    """C1–C4."""

    def create(self, body: CounterpartyCreate) -> Counterparty:
        _require(body, CounterpartyCreate, "body")
        path = "/v1/counterparties/create"
        return parse_response(Counterparty, self._write("POST", path, body), "POST", path)

    def list(
        self, fullname: str | None = None, relationship_type: RelationshipType | str | None = None
    ) -> builtins.list[Counterparty]:
        kind = (
            _choice(RelationshipType, relationship_type, "relationship_type") if relationship_type else None
        )
        path = "/v1/counterparties/list"
        payload = self._get(path, {"fullname": fullname, "relationship_type": kind.value if kind else None})
        return _parse_many(Counterparty, payload, "GET", path)

    def retrieve(self, counterparty_id: int) -> CounterpartyDetail:
        path = f"/v1/counterparties/retrieve/{_path_id(counterparty_id, 'counterparty_id')}"
        return parse_response(CounterpartyDetail, self._get(path), "GET", path)

    def update(self, counterparty_id: int, body: CounterpartyUpdate) -> Counterparty:
        _require(body, CounterpartyUpdate, "body")
        path = f"/v1/counterparties/update/{_path_id(counterparty_id, 'counterparty_id')}"
        return parse_response(Counterparty, self._write("PUT", path, body), "PUT", path)


class Documents(_Resource):
    """I1–I12 (`client.invoices`) and O1–O12 (`client.orders`): one class for both kinds."""

    def __init__(self, sender: Sender, kind: SourceType) -> None:
        super().__init__(sender)
        self.kind = kind
        self._base = "/v1/invoices" if kind is SourceType.INVOICE else "/v1/orders"
        self._create_model: type[RequestModel] = InvoiceCreate if kind is SourceType.INVOICE else OrderCreate

    def __repr__(self) -> str:
        return f"<Documents {self.kind.value}>"

    def _doc(self, payload: Any, method: str, path: str) -> Document:
        return parse_response(Document, payload, method, path, source_type=self.kind)

    def _detail(self, payload: Any, method: str, path: str) -> DocumentDetail:
        return parse_response(DocumentDetail, payload, method, path, source_type=self.kind)

    def create(self, body: InvoiceCreate | OrderCreate) -> Document:
        _require(body, self._create_model, "body")
        path = f"{self._base}/create"
        return self._doc(self._write("POST", path, body), "POST", path)

    def update(self, doc_id: int, body: DocumentUpdate) -> Document:
        _require(body, DocumentUpdate, "body")
        path = f"{self._base}/update/{_path_id(doc_id, 'id')}"
        return self._doc(self._write("PUT", path, body), "PUT", path)

    def list(
        self, currency: str | None = None, status: SourceStatus | str | None = None
    ) -> builtins.list[Document]:
        if currency is not None:
            try:
                check_currency(currency)
            except ValueError as exc:
                raise _invalid("currency", str(exc)) from None
        state = _choice(SourceStatus, status, "status").value if status else None
        path = f"{self._base}/list"
        payload = self._get(path, {"currency": currency, "status": state})
        return _parse_many(Document, payload, "GET", path, source_type=self.kind)

    def retrieve(self, doc_id: int) -> DocumentDetail:
        path = f"{self._base}/retrieve/{_path_id(doc_id, 'id')}"
        return self._detail(self._get(path), "GET", path)

    def retrieve_by_number(self, number: str) -> DocumentDetail:
        path = f"{self._base}/retrieve/number/{_segment(_text(number, 'number'))}"
        return self._detail(self._get(path), "GET", path)

    def add_item(self, doc_id: int, body: ItemCreate) -> Item:
        _require(body, ItemCreate, "body")
        path = f"{self._base}/{_path_id(doc_id, 'id')}/items/add"
        return parse_response(Item, self._write("POST", path, body), "POST", path)

    def update_item(self, doc_id: int, item_id: int, body: ItemUpdate) -> Item:
        _require(body, ItemUpdate, "body")
        path = f"{self._base}/{_path_id(doc_id, 'id')}/items/{_path_id(item_id, 'item_id')}/update"
        return parse_response(Item, self._write("PUT", path, body), "PUT", path)

    def remove_item(self, doc_id: int, item_id: int) -> None:
        path = f"{self._base}/{_path_id(doc_id, 'id')}/items/{_path_id(item_id, 'item_id')}/remove"
        self._write("DELETE", path)

    def publish(self, doc_id: int) -> Document:
        path = f"{self._base}/publish/{_path_id(doc_id, 'id')}"
        return self._doc(self._write("PUT", path), "PUT", path)

    def cancel(self, doc_id: int) -> Document:
        """Cancel (IDLE/ACTIVE only). The response is undocumented: an empty one is followed by a retrieve."""
        doc_id = _path_id(doc_id, "id")
        path = f"{self._base}/cancel/{doc_id}"
        payload = self._write("DELETE", path)
        if not isinstance(payload, Mapping) or not payload or ("id" not in payload and "data" not in payload):
            return self.retrieve(doc_id)
        return self._doc(payload, "DELETE", path)

    def receipt(self, doc_id: int) -> Receipt:
        path = f"{self._base}/receipt/{_path_id(doc_id, 'id')}"
        return parse_response(Receipt, self._get(path), "GET", path)

    def receipt_by_number(self, number: str) -> Receipt:
        path = f"{self._base}/receipt/number/{_segment(_text(number, 'number'))}"
        return parse_response(Receipt, self._get(path), "GET", path)


class Checkouts(_Resource):
    """K1."""

    def create(self, body: CheckoutCreate) -> CheckoutSource:
        _require(body, CheckoutCreate, "body")
        path = "/v1/checkouts/create"
        return parse_response(CheckoutSource, self._write("POST", path, body), "POST", path)


class Sessions(_Resource):
    """S1–S4. Create one right before executing; never cache it."""

    def checkout(self, body: CheckoutSessionCreate) -> CheckoutSession:
        _require(body, CheckoutSessionCreate, "body")
        path = "/v1/sessions/checkout"
        return parse_response(CheckoutSession, self._write("POST", path, body), "POST", path)

    def payout(self, body: PayoutSessionCreate) -> PayoutSession:
        _require(body, PayoutSessionCreate, "body")
        path = "/v1/sessions/payout"
        return parse_response(PayoutSession, self._write("POST", path, body), "POST", path)

    def transfer(self, body: TransferSessionCreate) -> TransferSession:
        _require(body, TransferSessionCreate, "body")
        path = "/v1/sessions/transfer"
        return parse_response(TransferSession, self._write("POST", path, body), "POST", path)

    def refund(self, body: RefundSessionCreate) -> RefundSession:
        _require(body, RefundSessionCreate, "body")
        path = "/v1/sessions/refund"
        return parse_response(RefundSession, self._write("POST", path, body), "POST", path)


class PaymentAccounts(_Resource):
    """PA1."""

    def create(self, body: PaymentAccountCreate, operation_type: OperationType | str) -> PaymentAccount:
        _require(body, PaymentAccountCreate, "body")
        op = _choice(OperationType, operation_type, "operation_type")
        path = "/v1/payment-accounts/create"
        payload = self._write("POST", path, body, params={"operation_type": op.value})
        return parse_response(PaymentAccount, payload, "POST", path)


class Executions(_Resource):
    """E1–E4. Never retried: persist `reference_id` first; on `outcome_unknown`, check status."""

    def _execute(self, kind: str, body: RequestModel) -> Execution:
        path = f"/v1/executions/{kind}"
        return parse_response(Execution, self._write("POST", path, body, retry=Retry.NEVER), "POST", path)

    def collection(self, body: CollectionExecute) -> Execution:
        _require(body, CollectionExecute, "body")
        return self._execute("collection", body)

    def payout(self, body: PayoutExecute) -> Execution:
        _require(body, PayoutExecute, "body")
        return self._execute("payout", body)

    def transfer(self, body: TransferExecute) -> Execution:
        _require(body, TransferExecute, "body")
        return self._execute("transfer", body)

    def refund(self, body: RefundExecute) -> Execution:
        _require(body, RefundExecute, "body")
        return self._execute("refund", body)


class Status(_Resource):
    """ST1–ST5 (reads; retried on network errors, 429 and 5xx)."""

    def execution(self, operation_type: OperationType | str, reference_id: uuid.UUID | str) -> Execution:
        op = _choice(OperationType, operation_type, "operation_type")
        try:
            ref = check_reference_id(reference_id)
        except ValueError as exc:
            raise _invalid("reference_id", str(exc)) from None
        path = f"/v1/status/{op.value.lower()}/{ref}"
        return parse_response(Execution, self._get(path), "GET", path)

    def source(self, source_type: SourceType | str, source_id: int) -> SourceStatusResult:
        kind = _choice(SourceType, source_type, "source_type")
        path = "/v1/status/source"
        params = {"source_type": kind.value, "source_id": str(_path_id(source_id, "source_id"))}
        return parse_response(SourceStatusResult, self._get(path, params), "GET", path)


class Predictions(_Resource):
    """PR1–PR4 (quotes; rates can move)."""

    def amount_and_fees(self, query: AmountAndFeesQuery) -> AmountAndFeePrediction:
        _require(query, AmountAndFeesQuery, "query")
        path = "/v1/predictions/amount-and-fees"
        return parse_response(AmountAndFeePrediction, self._get(path, query.to_params()), "GET", path)

    def payment_source(self, query: PaymentSourceQuery) -> AmountAndFeePrediction:
        _require(query, PaymentSourceQuery, "query")
        path = "/v1/predictions/payment-source/amount-and-fees"
        return parse_response(AmountAndFeePrediction, self._get(path, query.to_params()), "GET", path)

    def mmo_provider_info(self, phone: str, operation_type: OperationType | str) -> MmoProviderInfo:
        if not is_e164_digits(phone):
            raise _invalid(
                "phone", "Use the international number as digits only, with the country code and no +."
            )
        op = _choice(OperationType, operation_type, "operation_type")
        path = "/v1/predictions/mmo-provider-info"
        return parse_response(
            MmoProviderInfo, self._get(path, {"phone": phone, "operation_type": op.value}), "GET", path
        )

    def card_provider_info(
        self, payment_method_id: str, operation_type: OperationType | str
    ) -> CardProviderInfo:
        pm = _text(payment_method_id, "payment_method_id")
        op = _choice(OperationType, operation_type, "operation_type")
        path = "/v1/predictions/card-provider-info"
        params = {"payment_method_id": pm, "operation_type": op.value, "provider": Provider.STRIPE.value}
        return parse_response(CardProviderInfo, self._get(path, params), "GET", path)


class Fees(_Resource):
    """F1–F4. Schedules have no documented shape: read them through `extras` / `entries`."""

    def gateway(
        self, payment_method: PaymentMethod | str, operation_type: OperationType | str
    ) -> GatewayFeeSchedule:
        params = {
            "payment_method": _choice(PaymentMethod, payment_method, "payment_method").value,
            "operation_type": _choice(OperationType, operation_type, "operation_type").value,
        }
        path = "/v1/fees/gateway"
        return parse_response(GatewayFeeSchedule, self._get(path, params), "GET", path)

    def platform(self, operation_type: OperationType | str, fee_tier_name: str) -> PlatformFeeSchedule:
        params = {
            "operation_type": _choice(OperationType, operation_type, "operation_type").value,
            "fee_tier_name": _text(fee_tier_name, "fee_tier_name"),
        }
        path = "/v1/fees/platform"
        return parse_response(PlatformFeeSchedule, self._get(path, params), "GET", path)

    def merchant_tier(self, owner_type: OwnerType | str, owner_id: int) -> MerchantTier:
        params = {
            "owner_type": _choice(OwnerType, owner_type, "owner_type").value,
            "owner_id": str(_path_id(owner_id, "owner_id")),
        }
        path = "/v1/fees/merchant-tier"
        return parse_response(MerchantTier, self._get(path, params), "GET", path)

    def tiers(self) -> builtins.list[FeeTier]:
        path = "/v1/fees/tiers"
        return _parse_many(FeeTier, self._get(path), "GET", path)


class Links(_Resource):
    """L1–L2: by document NUMBER, not id."""

    def _link(self, kind: str, source_type: SourceType | str, source_number: str) -> Link:
        params = {
            "source_type": _choice(SourceType, source_type, "source_type").value,
            "source_number": _text(source_number, "source_number"),
        }
        path = f"/v1/links/{kind}"
        return parse_response(Link, self._get(path, params), "GET", path)

    def pay(self, source_type: SourceType | str, source_number: str) -> Link:
        return self._link("pay", source_type, source_number)

    def receipt(self, source_type: SourceType | str, source_number: str) -> Link:
        return self._link("receipt", source_type, source_number)


class Merchants(_Resource):
    """M1."""

    def info(self, merchant_id: int, merchant_type: MerchantType | str) -> MerchantInfo:
        params = {
            "merchant_id": str(_path_id(merchant_id, "merchant_id")),
            "merchant_type": _choice(MerchantType, merchant_type, "merchant_type").value,
        }
        path = "/v1/merchants/merchant-info"
        return parse_response(MerchantInfo, self._get(path, params), "GET", path)


class RealtimeKeys(_Resource):
    """R1 (never retried)."""

    def collection(self, body: RealtimeKeyCreate) -> RealtimeKey:
        _require(body, RealtimeKeyCreate, "body")
        path = "/v1/realtime-keys/collection"
        return parse_response(RealtimeKey, self._write("POST", path, body, retry=Retry.NEVER), "POST", path)


# --- the client ---------------------------------------------------------------------------------
