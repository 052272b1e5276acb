"""Every client method: HTTP method, path, query, body JSON types, and the typed result."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dollr_core.api.client import DollrClient
from dollr_core.api.models import (
    AmountAndFeePrediction,
    AmountAndFeesQuery,
    CardProviderInfo,
    CheckoutCreate,
    CheckoutItem,
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
    Execution,
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
    Passcode,
    PasscodeDevice,
    PasscodeToken,
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
    SourceStatusResult,
    TransferExecute,
    TransferSession,
    TransferSessionCreate,
)
from dollr_core.basics.enums import (
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

from .fakes import FakeDollr, respond

REF = "550e8400-e29b-41d4-a716-446655440000"
WHEN = datetime(2025, 6, 15, 18, 0, tzinfo=UTC)
PARTY = {"id": 42, "fullname": "Amara Kamara", "phone": "231771234567"}
COUNTERPARTY = {"id": 15, "relationship_type": "CUSTOMER", "party_id": 42}
INVOICE = {"id": 101, "invoice_number": "INV-2025-00042", "status": "IDLE", "currency": "USD"}
ORDER = {"id": 201, "order_number": "ORD-2025-00099", "status": "IDLE", "currency": "USD"}
ITEM = {"id": 7, "name": "Strategy Session", "currency": "USD", "qty": 1, "amount": 250}
EXECUTION = {"reference_id": REF, "status": "PROCESSING", "payment_intent_id": 314}
RECEIPT = {
    "payer_amount": 257.5,
    "payee_amount": 250.0,
    "payer_currency": "USD",
    "payee_currency": "USD",
    "fx_rate": 1,
    "platform_fee": 5,
    "gateway_fee": 2.5,
    "provider": "PAWAPAY",
    "payment_method": "MTN_MOMO_LBR",
    "provider_transaction_id": "pp-1",
    "invoice_items": [ITEM],
    "paid_at": "2025-06-01T10:41:07Z",
}


def device() -> PasscodeDevice:
    return PasscodeDevice(
        name="Ops", type="SERVER", platform="PYTHON", user_agent="ops/1", client_ip="10.0.0.1"
    )


# (name, method, path, response, call, expected query, expected body, result type)
CASES: list[tuple[str, str, str, Any, Callable[[DollrClient], Any], dict[str, str], Any, type]] = [
    (
        "parties.create",
        "POST",
        "/v1/parties/create",
        PARTY,
        lambda c: c.parties.create(PartyCreate(fullname="Amara Kamara", phone="231771234567")),
        {},
        {"fullname": "Amara Kamara", "phone": "231771234567"},
        Party,
    ),
    (
        "parties.list",
        "GET",
        "/v1/parties/list",
        [PARTY],
        lambda c: c.parties.list(fullname="Amara"),
        {"fullname": "Amara"},
        None,
        list,
    ),
    (
        "parties.retrieve",
        "GET",
        "/v1/parties/retrieve/42",
        PARTY,
        lambda c: c.parties.retrieve(42),
        {},
        None,
        Party,
    ),
    (
        "counterparties.create",
        "POST",
        "/v1/counterparties/create",
        COUNTERPARTY,
        lambda c: c.counterparties.create(
            CounterpartyCreate(relationship_type=RelationshipType.CUSTOMER, party_id=42)
        ),
        {},
        {"relationship_type": "CUSTOMER", "party_id": 42},
        Counterparty,
    ),
    (
        "counterparties.list",
        "GET",
        "/v1/counterparties/list",
        [COUNTERPARTY],
        lambda c: c.counterparties.list(relationship_type=RelationshipType.SUPPLIER),
        {"relationship_type": "SUPPLIER"},
        None,
        list,
    ),
    (
        "counterparties.retrieve",
        "GET",
        "/v1/counterparties/retrieve/15",
        COUNTERPARTY | {"party": PARTY},
        lambda c: c.counterparties.retrieve(15),
        {},
        None,
        CounterpartyDetail,
    ),
    (
        "counterparties.update",
        "PUT",
        "/v1/counterparties/update/15",
        COUNTERPARTY,
        lambda c: c.counterparties.update(15, CounterpartyUpdate(party_id=43)),
        {},
        {"party_id": 43},
        Counterparty,
    ),
    (
        "invoices.create",
        "POST",
        "/v1/invoices/create",
        INVOICE,
        lambda c: c.invoices.create(
            InvoiceCreate(
                counterparty_id=15,
                currency="USD",
                note="n",
                fee_bearer=FeeBearer.PAYER,
                as_payment_link=True,
                reference_id="PO-7",
                due_date=datetime(2025, 12, 31, 23, 59, 59, tzinfo=UTC),
            )
        ),
        {},
        {
            "counterparty_id": 15,
            "currency": "USD",
            "note": "n",
            "fee_bearer": "PAYER",
            "as_payment_link": True,
            "reference_id": "PO-7",
            "due_date": "2025-12-31T23:59:59Z",
        },
        Document,
    ),
    (
        "orders.create",
        "POST",
        "/v1/orders/create",
        ORDER,
        lambda c: c.orders.create(
            OrderCreate(
                counterparty_id=15,
                currency="LRD",
                note="n",
                fee_bearer=FeeBearer.PAYEE,
                as_payment_link=False,
            )
        ),
        {},
        {
            "counterparty_id": 15,
            "currency": "LRD",
            "note": "n",
            "fee_bearer": "PAYEE",
            "as_payment_link": False,
        },
        Document,
    ),
    (
        "invoices.update",
        "PUT",
        "/v1/invoices/update/101",
        INVOICE,
        lambda c: c.invoices.update(101, DocumentUpdate(note="changed")),
        {},
        {"note": "changed"},
        Document,
    ),
    (
        "invoices.list",
        "GET",
        "/v1/invoices/list",
        [INVOICE],
        lambda c: c.invoices.list(currency="USD", status=SourceStatus.ACTIVE),
        {"currency": "USD", "status": "ACTIVE"},
        None,
        list,
    ),
    ("orders.list", "GET", "/v1/orders/list", {"data": [ORDER]}, lambda c: c.orders.list(), {}, None, list),
    (
        "invoices.retrieve",
        "GET",
        "/v1/invoices/retrieve/101",
        INVOICE | {"invoice_items": [ITEM]},
        lambda c: c.invoices.retrieve(101),
        {},
        None,
        DocumentDetail,
    ),
    (
        "orders.retrieve_by_number",
        "GET",
        "/v1/orders/retrieve/number/ORD-2025-00099",
        ORDER | {"order_items": [ITEM]},
        lambda c: c.orders.retrieve_by_number("ORD-2025-00099"),
        {},
        None,
        DocumentDetail,
    ),
    (
        "invoices.add_item",
        "POST",
        "/v1/invoices/101/items/add",
        ITEM,
        lambda c: c.invoices.add_item(
            101, ItemCreate(name="Strategy Session", currency="USD", qty=1, amount=Decimal("250.00"))
        ),
        {},
        {"name": "Strategy Session", "currency": "USD", "qty": 1, "amount": Decimal("250.00")},
        Item,
    ),
    (
        "orders.update_item",
        "PUT",
        "/v1/orders/201/items/7/update",
        ITEM,
        lambda c: c.orders.update_item(201, 7, ItemUpdate(qty=3)),
        {},
        {"qty": 3},
        Item,
    ),
    (
        "invoices.remove_item",
        "DELETE",
        "/v1/invoices/101/items/7/remove",
        {},
        lambda c: c.invoices.remove_item(101, 7),
        {},
        None,
        type(None),
    ),
    (
        "invoices.publish",
        "PUT",
        "/v1/invoices/publish/101",
        INVOICE | {"status": "ACTIVE"},
        lambda c: c.invoices.publish(101),
        {},
        None,
        Document,
    ),
    (
        "orders.cancel",
        "DELETE",
        "/v1/orders/cancel/201",
        ORDER | {"status": "CANCELED"},
        lambda c: c.orders.cancel(201),
        {},
        None,
        Document,
    ),
    (
        "invoices.receipt",
        "GET",
        "/v1/invoices/receipt/101",
        RECEIPT,
        lambda c: c.invoices.receipt(101),
        {},
        None,
        Receipt,
    ),
    (
        "orders.receipt_by_number",
        "GET",
        "/v1/orders/receipt/number/ORD-2025-00099",
        {"data": RECEIPT},
        lambda c: c.orders.receipt_by_number("ORD-2025-00099"),
        {},
        None,
        Receipt,
    ),
    (
        "checkouts.create",
        "POST",
        "/v1/checkouts/create",
        {"id": 9, "source_type": "ORDER", "source_id": 201, "hosted_path_or_token": "https://pay/x"},
        lambda c: c.checkouts.create(
            CheckoutCreate(
                source_kind=SourceType.ORDER,
                party_name="Amara",
                party_phone="231771234567",
                currency="USD",
                items=[CheckoutItem(name="T-Shirt", currency="USD", amount=Decimal(25))],
            )
        ),
        {},
        {
            "mode": "HOSTED",
            "source_kind": "ORDER",
            "party_name": "Amara",
            "party_phone": "231771234567",
            "currency": "USD",
            "items": [{"name": "T-Shirt", "currency": "USD", "amount": 25}],
        },
        CheckoutSource,
    ),
    (
        "sessions.checkout",
        "POST",
        "/v1/sessions/checkout",
        {"id": 55, "status": "ACTIVE"},
        lambda c: c.sessions.checkout(CheckoutSessionCreate(source_id=101, source_type=SourceType.INVOICE)),
        {},
        {"source_id": 101, "source_type": "INVOICE"},
        CheckoutSession,
    ),
    (
        "sessions.payout",
        "POST",
        "/v1/sessions/payout",
        {"id": 88, "wallet_id": 3},
        lambda c: c.sessions.payout(
            PayoutSessionCreate(payout_account_id=18, amount=Decimal("100.0"), currency="USD")
        ),
        {},
        {"payout_account_id": 18, "currency": "USD", "amount": Decimal("100.0")},
        PayoutSession,
    ),
    (
        "sessions.transfer",
        "POST",
        "/v1/sessions/transfer",
        {"id": 4},
        lambda c: c.sessions.transfer(
            TransferSessionCreate(
                from_wallet_id=3, to_counterparty_id=15, currency="RWF", amount=Decimal(5000), expires_at=WHEN
            )
        ),
        {},
        {
            "from_wallet_id": 3,
            "to_counterparty_id": 15,
            "currency": "RWF",
            "amount": 5000,
            "expires_at": "2025-06-15T18:00:00Z",
        },
        TransferSession,
    ),
    (
        "sessions.refund",
        "POST",
        "/v1/sessions/refund",
        {"id": 5},
        lambda c: c.sessions.refund(
            RefundSessionCreate(original_payment_intent_id=314, amount=Decimal("50.0"), expires_at=WHEN)
        ),
        {},
        {"original_payment_intent_id": 314, "amount": Decimal("50.0"), "expires_at": "2025-06-15T18:00:00Z"},
        RefundSession,
    ),
    (
        "payment_accounts.create",
        "POST",
        "/v1/payment-accounts/create",
        {"id": 18, "is_active": True},
        lambda c: c.payment_accounts.create(
            PaymentAccountCreate(
                account_name="Card", provider=Provider.STRIPE, method=PaymentMethod.CREDIT_CARD, party_id=42
            ),
            OperationType.COLLECTION,
        ),
        {"operation_type": "COLLECTION"},
        {"account_name": "Card", "provider": "STRIPE", "method": "CREDIT_CARD", "party_id": 42},
        PaymentAccount,
    ),
    (
        "executions.collection",
        "POST",
        "/v1/executions/collection",
        EXECUTION,
        lambda c: c.executions.collection(
            CollectionExecute(session_id=55, payment_account_id=18, currency="LRD", reference_id=REF)
        ),
        {},
        {"session_id": "55", "payment_account_id": "18", "currency": "LRD", "reference_id": REF},
        Execution,
    ),
    (
        "executions.payout",
        "POST",
        "/v1/executions/payout",
        EXECUTION,
        lambda c: c.executions.payout(
            PayoutExecute(
                session_id=88,
                payout_account_id=18,
                reference_id=REF,
                passcode=Passcode(
                    token=PasscodeToken(code=SecretStr("123456"), user_id="u-9"), device=device()
                ),
            )
        ),
        {},
        {
            "session_id": "88",
            "payout_account_id": 18,
            "reference_id": REF,
            "passcode": {
                "token": {"code": "123456", "user_id": "u-9"},
                "device": {
                    "name": "Ops",
                    "type": "SERVER",
                    "platform": "PYTHON",
                    "user_agent": "ops/1",
                    "client_ip": "10.0.0.1",
                },
            },
        },
        Execution,
    ),
    (
        "executions.transfer",
        "POST",
        "/v1/executions/transfer",
        EXECUTION,
        lambda c: c.executions.transfer(TransferExecute(session_id=4, reference_id=REF)),
        {},
        {"session_id": "4", "reference_id": REF},
        Execution,
    ),
    (
        "executions.refund",
        "POST",
        "/v1/executions/refund",
        EXECUTION,
        lambda c: c.executions.refund(RefundExecute(session_id="5", reference_id=REF)),
        {},
        {"session_id": "5", "reference_id": REF},
        Execution,
    ),
    (
        "status.execution",
        "GET",
        f"/v1/status/refund/{REF}",
        EXECUTION,
        lambda c: c.status.execution(OperationType.REFUND, REF),
        {},
        None,
        Execution,
    ),
    (
        "status.source",
        "GET",
        "/v1/status/source",
        {"source_id": 101, "source_type": "INVOICE", "status": "PAID"},
        lambda c: c.status.source(SourceType.INVOICE, 101),
        {"source_type": "INVOICE", "source_id": "101"},
        None,
        SourceStatusResult,
    ),
    (
        "predictions.amount_and_fees",
        "GET",
        "/v1/predictions/amount-and-fees",
        {
            "payer_amount": "19850.00",
            "payer_currency": "LRD",
            "payee_amount": "100.00",
            "payee_currency": "USD",
        },
        lambda c: c.predictions.amount_and_fees(
            AmountAndFeesQuery(
                base_amount=Decimal("100.00"),
                base_currency="USD",
                target_currency="LRD",
                payment_method=PaymentMethod.MTN_MOMO_LBR,
                operation_type=OperationType.COLLECTION,
                provider=Provider.PAWAPAY,
                fee_bearer=FeeBearer.PAYER,
            )
        ),
        {
            "base_amount": "100.00",
            "base_currency": "USD",
            "target_currency": "LRD",
            "payment_method": "MTN_MOMO_LBR",
            "operation_type": "COLLECTION",
            "provider": "PAWAPAY",
            "fee_bearer": "PAYER",
        },
        None,
        AmountAndFeePrediction,
    ),
    (
        "predictions.payment_source",
        "GET",
        "/v1/predictions/payment-source/amount-and-fees",
        {"payer_amount": "100.00", "payer_currency": "USD", "payee_amount": "97.00", "payee_currency": "USD"},
        lambda c: c.predictions.payment_source(
            PaymentSourceQuery(
                source_type=SourceType.ORDER,
                source_id=201,
                target_currency="USD",
                payment_method=PaymentMethod.CREDIT_CARD,
                provider=Provider.STRIPE,
            )
        ),
        {
            "source_type": "ORDER",
            "source_id": "201",
            "target_currency": "USD",
            "payment_method": "CREDIT_CARD",
            "provider": "STRIPE",
        },
        None,
        AmountAndFeePrediction,
    ),
    (
        "predictions.mmo_provider_info",
        "GET",
        "/v1/predictions/mmo-provider-info",
        {"payment_method": "AIRTEL_RWA", "gateway_provider": "PAWAPAY"},
        lambda c: c.predictions.mmo_provider_info("250731234567", OperationType.PAYOUT),
        {"phone": "250731234567", "operation_type": "PAYOUT"},
        None,
        MmoProviderInfo,
    ),
    (
        "predictions.card_provider_info",
        "GET",
        "/v1/predictions/card-provider-info",
        {"brand": "visa", "payment_method": "CREDIT_CARD", "gateway_provider": "STRIPE", "routing": {"x": 1}},
        lambda c: c.predictions.card_provider_info("pm_123", OperationType.COLLECTION),
        {"payment_method_id": "pm_123", "operation_type": "COLLECTION", "provider": "STRIPE"},
        None,
        CardProviderInfo,
    ),
    (
        "fees.gateway",
        "GET",
        "/v1/fees/gateway",
        [{"min": 0, "rate": "0.02"}],
        lambda c: c.fees.gateway(PaymentMethod.MTN_MOMO_LBR, OperationType.COLLECTION),
        {"payment_method": "MTN_MOMO_LBR", "operation_type": "COLLECTION"},
        None,
        GatewayFeeSchedule,
    ),
    (
        "fees.platform",
        "GET",
        "/v1/fees/platform",
        {"percentage": 1.5, "fixed": 0},
        lambda c: c.fees.platform(OperationType.PAYOUT, "default"),
        {"operation_type": "PAYOUT", "fee_tier_name": "default"},
        None,
        PlatformFeeSchedule,
    ),
    (
        "fees.merchant_tier",
        "GET",
        "/v1/fees/merchant-tier",
        {"tier": {"name": "default"}, "owner_id": 42},
        lambda c: c.fees.merchant_tier(OwnerType.ORGANIZATION, 42),
        {"owner_type": "ORGANIZATION", "owner_id": "42"},
        None,
        MerchantTier,
    ),
    (
        "fees.tiers",
        "GET",
        "/v1/fees/tiers",
        [{"name": "default", "is_default": True}],
        lambda c: c.fees.tiers(),
        {},
        None,
        list,
    ),
    (
        "links.pay",
        "GET",
        "/v1/links/pay",
        {"url": "https://pay.example/x"},
        lambda c: c.links.pay(SourceType.INVOICE, "INV-2025-00042"),
        {"source_type": "INVOICE", "source_number": "INV-2025-00042"},
        None,
        Link,
    ),
    (
        "links.receipt",
        "GET",
        "/v1/links/receipt",
        {"url": "https://pay.example/r"},
        lambda c: c.links.receipt("ORDER", "ORD-2025-00099"),
        {"source_type": "ORDER", "source_number": "ORD-2025-00099"},
        None,
        Link,
    ),
    (
        "merchants.info",
        "GET",
        "/v1/merchants/merchant-info",
        {"id": 42, "name": "Acme", "type": "ORGANIZATION"},
        lambda c: c.merchants.info(42, MerchantType.ORGANIZATION),
        {"merchant_id": "42", "merchant_type": "ORGANIZATION"},
        None,
        MerchantInfo,
    ),
    (
        "realtime_keys.collection",
        "POST",
        "/v1/realtime-keys/collection",
        {"access_token": "eyJx", "expires_in": 300},
        lambda c: c.realtime_keys.collection(
            RealtimeKeyCreate(session_id=55, source_type=SourceType.INVOICE, reference_id=REF)
        ),
        {},
        {"session_id": 55, "source_type": "INVOICE", "reference_id": REF},
        RealtimeKey,
    ),
]


def typed(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, Decimal):
        return ("num", str(value))
    return (type(value).__name__, value)


@pytest.mark.parametrize(
    ("name", "method", "path", "response", "call", "query", "body", "result_type"),
    CASES,
    ids=[c[0] for c in CASES],
)
def test_endpoint(
    client: DollrClient,
    fake: FakeDollr,
    name: str,
    method: str,
    path: str,
    response: Any,
    call: Callable[[DollrClient], Any],
    query: dict[str, str],
    body: Any,
    result_type: type,
) -> None:
    fake.on(method, path, respond(200, response))
    result = call(client)
    assert isinstance(result, result_type)
    [seen] = fake.calls()
    assert (seen.method, seen.path) == (method, path)
    assert seen.params == query
    assert seen.authorization is not None and seen.authorization.startswith("Bearer ")
    if body is None:
        assert seen.raw_body == b""
    else:
        assert typed(seen.body) == typed(body)


def test_results_are_typed(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("GET", "/v1/invoices/receipt/101", respond(200, RECEIPT))
    receipt = client.invoices.receipt(101)
    assert receipt.payer_amount == Decimal("257.5") and receipt.total_fees == Decimal("7.5")
    assert receipt.items[0].amount == Decimal("250") and receipt.payment_method is PaymentMethod.MTN_MOMO_LBR
    fake.on("GET", "/v1/fees/merchant-tier", respond(200, {"tier": {"name": "gold"}}))
    assert client.fees.merchant_tier(OwnerType.USER, 1).name == "gold"
    fake.on("GET", "/v1/fees/gateway", respond(200, [{"rate": Decimal("0.02")}]))
    assert client.fees.gateway(PaymentMethod.WALLET, OperationType.TRANSFER).entries == [
        {"rate": Decimal("0.02")}
    ]
    fake.on("GET", "/v1/fees/platform", respond(200, {"percentage": 1.5}))
    assert client.fees.platform(OperationType.PAYOUT, "gold").extras == {"percentage": Decimal("1.5")}
    fake.on("POST", "/v1/executions/collection", respond(200, EXECUTION | {"status": "COMPLETED"}))
    execution = client.executions.collection(
        CollectionExecute(session_id=55, payment_account_id=18, currency="USD", reference_id=REF)
    )
    assert (
        execution.status is ExecutionStatus.COMPLETED
        and execution.is_final
        and execution.payment_intent_id == 314
    )
    fake.on(
        "POST",
        "/v1/checkouts/create",
        respond(
            200, {"id": 9, "source_type": "ORDER", "source_id": 1, "hosted_path_or_token": "https://pay/x"}
        ),
    )
    source = client.checkouts.create(
        CheckoutCreate(
            source_kind=SourceType.ORDER,
            party_name="A",
            party_phone="231771234567",
            currency="USD",
            items=[CheckoutItem(name="x", currency="USD", amount=Decimal(1))],
        )
    )
    assert source.url == "https://pay/x"
    fake.on("POST", "/v1/payment-accounts/create", respond(200, {"id": 18, "provider": "ORANGE_MONEY_LBR"}))
    account = client.payment_accounts.create(
        PaymentAccountCreate(
            account_name="w",
            provider=Provider.PAWAPAY,
            method=PaymentMethod.ORANGE_MONEY_LBR,
            party_id=42,
            insensitive_account_number="231771234567",
        ),
        OperationType.PAYOUT,
    )
    assert account.provider is Provider.PAWAPAY  # §9 #1: a method name read as its provider


def test_cancel_with_empty_response_reads_the_document(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("DELETE", "/v1/invoices/cancel/101", respond(200, {}))
    fake.on("GET", "/v1/invoices/retrieve/101", respond(200, INVOICE | {"status": "CANCELED"}))
    document = client.invoices.cancel(101)
    assert document.status is SourceStatus.CANCELED
    assert [c.method for c in fake.calls()] == ["DELETE", "GET"]


def test_document_numbers_are_path_escaped(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("GET", "/v1/invoices/retrieve/number/INV 1/2", respond(200, INVOICE))
    client.invoices.retrieve_by_number("INV 1/2")
    assert fake.calls()[0].path == "/v1/invoices/retrieve/number/INV 1/2"
    assert b"INV%201%2F2" in httpx.URL(f"https://x/v1/invoices/retrieve/number/{'INV%201%2F2'}").raw_path


def test_one_pooled_http_client_with_explicit_timeouts(client: DollrClient) -> None:
    http = client._http
    assert http.timeout.connect == 1.0 and http.timeout.read == 2.0
    assert str(http.base_url) == "https://dollr.test"
    with client as same:
        assert same is client
    assert http.is_closed


def test_all_namespaces_exist(client: DollrClient) -> None:
    for name in (
        "parties",
        "counterparties",
        "invoices",
        "orders",
        "checkouts",
        "sessions",
        "payment_accounts",
        "executions",
        "status",
        "predictions",
        "fees",
        "links",
        "merchants",
        "realtime_keys",
        "stats",
    ):
        assert getattr(client, name) is not None
    assert client.invoices.kind is SourceType.INVOICE and client.orders.kind is SourceType.ORDER
    assert type(client.invoices) is type(client.orders)
