"""Every example body of contract §10: responses parse, requests validate and serialise exactly."""

from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest
from pydantic import BaseModel

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import InvalidRequestError
from dollr_core.api.models import (
    AmountAndFeePrediction,
    CheckoutCreate,
    CheckoutSession,
    CheckoutSessionCreate,
    CheckoutSource,
    CollectionExecute,
    CounterpartyCreate,
    Document,
    DocumentDetail,
    Execution,
    InvoiceCreate,
    ItemCreate,
    MmoProviderInfo,
    Party,
    PartyCreate,
    PaymentAccountCreate,
    PayoutExecute,
    PayoutSession,
    PayoutSessionCreate,
    RealtimeKey,
    RealtimeKeyCreate,
    RefundSessionCreate,
    RequestModel,
    SourceStatusResult,
    TokenRequest,
    TokenResponse,
)
from dollr_core.api.transport import decode_json, encode_json
from dollr_core.basics.enums import (
    CheckoutMode,
    ExecutionStatus,
    OperationType,
    PaymentMethod,
    Provider,
    SourceStatus,
    SourceType,
)

from .fakes import FakeDollr, respond


def j(text: str) -> Any:
    """Parse like the client does: non-integers as exact Decimals."""
    return json.loads(text, parse_float=Decimal)


def typed(value: Any) -> Any:
    """A structure where 250.00, 250.0, 250 and "250" all differ (type and digits)."""
    if isinstance(value, dict):
        return {k: typed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [typed(v) for v in value]
    if isinstance(value, Decimal):
        return ("num", str(value))
    if isinstance(value, bool):
        return ("bool", value)
    if isinstance(value, int):
        return ("int", value)
    return (type(value).__name__, value)


# --- requests ------------------------------------------------------------------------------------

REQUESTS: list[tuple[type[RequestModel], str]] = [
    (TokenRequest, '{"client_id": "cid_123", "client_secret": "•••"}'),
    (
        PartyCreate,
        '{"fullname": "Amara Kamara", "phone": "231771234567", "email": "amara@example.com",'
        ' "country_code": "LR"}',
    ),
    (CounterpartyCreate, '{"relationship_type": "CUSTOMER", "party_id": 42}'),
    (
        InvoiceCreate,
        '{"counterparty_id": 15, "currency": "USD", "note": "Consulting services", "fee_bearer": "PAYER",'
        ' "as_payment_link": true, "due_date": "2025-12-31T23:59:59Z"}',
    ),
    (ItemCreate, '{"name": "Strategy Session", "currency": "USD", "qty": 1, "amount": 250.00}'),
    (
        CheckoutCreate,
        '{"mode": "HOSTED", "source_kind": "ORDER", "party_name": "Amara Kamara",'
        ' "party_phone": "231771234567", "currency": "USD",'
        ' "items": [{"name": "T-Shirt", "currency": "USD", "amount": 25}],'
        ' "success_url": "<your success page>", "cancel_url": "<your cancel page>"}',
    ),
    (CheckoutSessionCreate, '{"source_id": 101, "source_type": "INVOICE"}'),
    (
        PaymentAccountCreate,
        '{"account_name": "Amara MTN Wallet", "provider": "PAWAPAY", "method": "MTN_MOMO_LBR",'
        ' "party_id": 42, "country_code": "LR", "insensitive_account_number": "231771234567"}',
    ),
    (
        PaymentAccountCreate,
        '{"account_name": "Customer Card", "provider": "STRIPE", "method": "CREDIT_CARD", "party_id": 42}',
    ),
    (
        CollectionExecute,
        '{"session_id": "55", "payment_account_id": "18", "currency": "USD",'
        ' "reference_id": "550e8400-e29b-41d4-a716-446655440000"}',
    ),
    (PayoutSessionCreate, '{"payout_account_id": 18, "amount": 100.0, "currency": "USD"}'),
    (
        PayoutExecute,
        '{"session_id": "88", "payout_account_id": 18,'
        ' "reference_id": "660e8400-e29b-41d4-a716-446655440111",'
        ' "passcode": {"token": {"phone": "231771234567", "code": "<passcode>"},'
        ' "device": {"name": "Payout Server", "type": "SERVER", "platform": "NODE",'
        ' "user_agent": "my-app/1.0", "client_ip": "203.0.113.10"}}}',
    ),
    (
        RefundSessionCreate,
        '{"original_payment_intent_id": 314, "amount": 50.0, "expires_at": "2025-06-15T18:00:00Z",'
        ' "reason": "Partial return"}',
    ),
    (
        RealtimeKeyCreate,
        '{"session_id": 55, "source_type": "INVOICE",'
        ' "reference_id": "550e8400-e29b-41d4-a716-446655440000"}',
    ),
]


@pytest.mark.parametrize(
    ("model", "text"), REQUESTS, ids=[f"{m.__name__}-{i}" for i, (m, _) in enumerate(REQUESTS)]
)
def test_example_request_validates_and_serialises_identically(model: type[RequestModel], text: str) -> None:
    example = j(text)
    built = model.model_validate(example)
    sent = decode_json(encode_json(built.to_body()))
    assert typed(sent) == typed(example)


def test_id_json_types_follow_section_1_3() -> None:
    ref = "550e8400-e29b-41d4-a716-446655440000"
    collection = CollectionExecute(session_id=55, payment_account_id=18, currency="USD", reference_id=ref)
    assert typed(collection.to_body())["session_id"] == ("str", "55")
    assert typed(collection.to_body())["payment_account_id"] == ("str", "18")
    payout = PayoutExecute.model_validate(j(REQUESTS[11][1]) | {"payout_account_id": "18"})
    assert typed(payout.to_body())["payout_account_id"] == ("int", 18)
    assert typed(payout.to_body())["session_id"] == ("str", "88")
    key = RealtimeKeyCreate(session_id="55", source_type=SourceType.INVOICE, reference_id=ref)
    assert typed(key.to_body())["session_id"] == ("int", 55)
    session = PayoutSessionCreate(payout_account_id="18", amount=Decimal("100"), currency="USD")
    assert typed(session.to_body())["payout_account_id"] == ("int", 18)


def test_amounts_serialise_with_exactly_their_digits() -> None:
    item = ItemCreate(name="x", currency="USD", qty=2, amount=Decimal("1234.50"))
    assert encode_json(item.to_body()) == b'{"name":"x","currency":"USD","qty":2,"amount":1234.50}'
    assert b'"amount":0.3' in encode_json(ItemCreate(name="x", currency="USD", qty=1, amount="0.3").to_body())
    rwf = PayoutSessionCreate(payout_account_id=1, amount=Decimal("1500"), currency="RWF")
    assert b'"amount":1500' in encode_json(rwf.to_body())
    # a float is taken through str(): 0.1 stays 0.1 (0.1 + 0.2 is refused below, not rounded)
    assert b'"amount":0.1}' in encode_json(ItemCreate(name="x", currency="USD", qty=1, amount=0.1).to_body())


# --- responses -----------------------------------------------------------------------------------

PARTY = (
    '{"id": 42, "fullname": "Amara Kamara", "phone": "231771234567", "email": "amara@example.com",'
    ' "country_code": "LR", "created_at": "2025-06-01T10:00:00Z", "updated_at": "2025-06-01T10:00:00Z"}'
)
INVOICE = (
    '{"id": 101, "invoice_number": "INV-2025-00042", "status": "ACTIVE", "currency": "USD",'
    ' "note": "Consulting services", "fee_bearer": "PAYER", "as_payment_link": true, "counterparty_id": 15,'
    ' "total_amount": 250.0, "due_date": "2025-12-31T23:59:59Z", "created_at": "2025-06-01T10:10:00Z",'
    ' "updated_at": "2025-06-01T10:12:00Z"}'
)
CHECKOUT = (
    '{"id": 9, "mode": "HOSTED", "source_type": "ORDER", "source_id": 201, "source_number": "ORD-2025-00099",'
    ' "source_status": "ACTIVE", "party_id": 42, "counterparty_id": 15, "source_checkout_config_id": 3,'
    ' "currency": "USD", "total_amount": 25.0, "url": "<hosted page>", "hosted_path_or_token": "<token>",'
    ' "success_url": "<your success page>", "cancel_url": "<your cancel page>"}'
)
SESSION = (
    '{"id": 55, "source_id": 101, "source_type": "INVOICE", "status": "ACTIVE", "payment_account_id": null,'
    ' "expires_at": "2025-06-01T10:45:00Z", "created_at": "2025-06-01T10:30:00Z",'
    ' "updated_at": "2025-06-01T10:30:00Z"}'
)
EXECUTION = (
    '{"reference_id": "550e8400-e29b-41d4-a716-446655440000", "status": "PENDING",'
    ' "operation_type": "COLLECTION", "payer_amount": 257.5, "payer_currency": "USD", "payee_amount": 250.0,'
    ' "payee_currency": "USD", "provider_transaction_id": null, "gateway_message": null,'
    ' "wallet_message": null, "requires_action": false, "client_secret": null}'
)
PAYOUT_SESSION = (
    '{"id": 88, "payout_account_id": 18, "amount": 100.0, "currency": "USD", "wallet_id": 3,'
    ' "expires_at": "2025-06-15T18:00:00Z"}'
)
SOURCE_STATUS = (
    '{"source_id": 101, "source_type": "INVOICE", "source_number": "INV-2025-00042", "status": "PAID",'
    ' "currency": "USD", "total_amount": 250.0, "paid_at": "2025-06-01T10:41:07Z"}'
)
PREDICTION = (
    '{"payer_amount": "19850.00", "payer_currency": "LRD", "payee_amount": "100.00", "payee_currency": "USD",'
    ' "platform_fee": "1.50", "platform_currency": "USD", "gateway_fee": "1.00", "gateway_currency": "USD",'
    ' "fx_fee": "0.75"}'
)
MMO = (
    '{"carrier": "MTN", "country": "LR", "currencies": ["USD", "LRD"], "phone": "231771234567",'
    ' "payment_method": "MTN_MOMO_LBR", "gateway_provider": "PAWAPAY", "operation_type": "COLLECTION"}'
)


def test_token_response() -> None:
    token = TokenResponse.model_validate(j('{"access_token": "eyJhbGciOi...", "expires_in": 60}'))
    assert token.access_token.get_secret_value() == "eyJhbGciOi..."
    assert token.lifetime.total_seconds() == 3600  # minutes


def test_realtime_key_expiry_is_seconds() -> None:
    key = RealtimeKey.model_validate(j('{"access_token": "eyJhbGciOi...", "expires_in": 300}'))
    assert key.lifetime.total_seconds() == 300


def test_party_response() -> None:
    party = Party.model_validate(j(PARTY))
    assert party.id == 42 and party.phone == "231771234567" and party.country_code == "LR"
    assert isinstance(party.created_at, datetime)


def test_invoice_response() -> None:
    doc = Document.model_validate(j(INVOICE))
    assert doc.number == "INV-2025-00042"
    assert doc.source_type is SourceType.INVOICE
    assert doc.status is SourceStatus.ACTIVE
    assert doc.total_amount == Decimal("250.0")
    assert doc.counterparty_id == 15


def test_checkout_response_and_url_fallback() -> None:
    source = CheckoutSource.model_validate(j(CHECKOUT))
    assert source.url == "<hosted page>"
    assert source.source_type is SourceType.ORDER and source.source_id == 201
    assert source.mode is CheckoutMode.HOSTED
    assert source.source_status is SourceStatus.ACTIVE
    older = j(CHECKOUT)
    del older["url"]
    assert CheckoutSource.model_validate(older).url == "<token>"


def test_checkout_session_response() -> None:
    session = CheckoutSession.model_validate(j(SESSION))
    assert session.id == 55 and session.payment_account_id is None and session.status == "ACTIVE"


def test_execution_response_keeps_exact_money() -> None:
    execution = Execution.model_validate(j(EXECUTION))
    assert execution.status is ExecutionStatus.PENDING
    assert execution.operation_type is OperationType.COLLECTION
    assert execution.payer_amount == Decimal("257.5") and str(execution.payer_amount) == "257.5"
    assert execution.requires_action is False and execution.client_secret is None
    assert not execution.is_final


def test_execution_from_python_floats_has_no_float_artefacts() -> None:
    execution = Execution.model_validate(
        {"reference_id": "r", "payer_amount": 257.5, "payee_amount": 0.1 + 0.2}
    )
    assert str(execution.payer_amount) == "257.5"
    # a float that is already wrong stays visibly wrong rather than silently rounded
    assert execution.payee_amount == Decimal("0.30000000000000004")


def test_payout_session_response() -> None:
    session = PayoutSession.model_validate(j(PAYOUT_SESSION))
    assert session.wallet_id == 3 and session.amount == Decimal("100.0")
    assert session.expires_at is not None


def test_source_status_response() -> None:
    status = SourceStatusResult.model_validate(j(SOURCE_STATUS))
    assert status.status is SourceStatus.PAID and status.source_number == "INV-2025-00042"
    assert status.paid_at is not None


def test_prediction_decimal_strings() -> None:
    prediction = AmountAndFeePrediction.model_validate(j(PREDICTION))
    assert prediction.payer_amount == Decimal("19850.00") and str(prediction.payer_amount) == "19850.00"
    assert prediction.fx_fee == Decimal("0.75") and prediction.gateway_currency == "USD"


def test_mmo_provider_info() -> None:
    info = MmoProviderInfo.model_validate(j(MMO))
    assert info.payment_method is PaymentMethod.MTN_MOMO_LBR
    assert info.gateway_provider is Provider.PAWAPAY
    assert info.currencies == ["USD", "LRD"]


def test_mmo_provider_info_alternative_names() -> None:
    info = MmoProviderInfo.model_validate({"method": "ORANGE_MONEY_LBR", "provider": "PAWAPAY"})
    assert info.payment_method is PaymentMethod.ORANGE_MONEY_LBR and info.gateway_provider is Provider.PAWAPAY


# --- envelopes, string ids, unknown values, end to end --------------------------------------------


@pytest.mark.parametrize(
    ("model", "text"),
    [
        (Party, PARTY),
        (Document, INVOICE),
        (CheckoutSource, CHECKOUT),
        (CheckoutSession, SESSION),
        (Execution, EXECUTION),
        (PayoutSession, PAYOUT_SESSION),
        (SourceStatusResult, SOURCE_STATUS),
        (AmountAndFeePrediction, PREDICTION),
        (MmoProviderInfo, MMO),
    ],
)
def test_data_envelope_is_unwrapped(model: type[BaseModel], text: str) -> None:
    bare = model.model_validate(j(text))
    wrapped = model.model_validate({"data": j(text)})
    assert wrapped == bare


def test_ids_as_numeric_strings() -> None:
    data = j(INVOICE) | {"id": "101", "counterparty_id": "15"}
    doc = Document.model_validate(data)
    assert doc.id == 101 and doc.counterparty_id == 15
    session = CheckoutSession.model_validate(j(SESSION) | {"id": "55", "source_id": "101"})
    assert session.id == 55 and session.source_id == 101


def test_unknown_fields_and_enum_values_are_kept() -> None:
    execution = Execution.model_validate(
        j(EXECUTION) | {"status": "ON_HOLD", "payment_intent_id": "314", "brand_new": {"x": 1}}
    )
    assert execution.status == "ON_HOLD" and not execution.is_final
    assert execution.payment_intent_id == 314
    assert execution.extras == {"brand_new": {"x": 1}}


def test_order_detail_items_as_items_or_order_items() -> None:
    order = {
        "id": 201,
        "order_number": "ORD-2025-00099",
        "status": "ACTIVE",
        "currency": "USD",
        "counterparty": {"id": 15, "relationship_type": "CUSTOMER", "party_id": 42, "party": j(PARTY)},
    }
    line = {"id": "7", "name": "T-Shirt", "currency": "USD", "qty": 2, "amount": 12.5}
    for key in ("items", "order_items"):
        detail = DocumentDetail.model_validate(order | {key: [line]})
        assert detail.source_type is SourceType.ORDER and detail.number == "ORD-2025-00099"
        assert detail.items[0].id == 7 and detail.items[0].line_total == Decimal("25.0")
        assert detail.counterparty is not None and detail.counterparty.party is not None
    invoice = DocumentDetail.model_validate(j(INVOICE) | {"invoice_items": [line]})
    assert len(invoice.items) == 1


def test_responses_through_the_client(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("GET", "/v1/parties/list", respond(200, {"data": [j(PARTY)]}))
    fake.on("GET", "/v1/invoices/retrieve/101", respond(200, {"data": j(INVOICE) | {"id": "101"}}))
    fake.on("GET", "/v1/status/source", respond(200, j(SOURCE_STATUS)))
    fake.on(
        "GET",
        "/v1/orders/retrieve/number/ORD-2025-00099",
        respond(
            200,
            {
                "id": 201,
                "order_number": "ORD-2025-00099",
                "status": "IDLE",
                "currency": "USD",
                "items": [{"id": 1, "name": "Cap", "currency": "USD", "qty": 1, "amount": 10}],
            },
        ),
    )
    parties = client.parties.list()
    assert [p.id for p in parties] == [42]
    invoice = client.invoices.retrieve(101)
    assert invoice.id == 101 and invoice.number == "INV-2025-00042" and invoice.items == []
    status = client.status.source(SourceType.INVOICE, 101)
    assert status.total_amount == Decimal("250.0")
    order = client.orders.retrieve_by_number("ORD-2025-00099")
    assert order.source_type is SourceType.ORDER and order.items[0].amount == Decimal("10")


def test_example_422_body(client: DollrClient, fake: FakeDollr) -> None:
    body = '{"detail": [{"loc": ["body", "reference_id"], "msg": "invalid uuid", "type": "value_error"}]}'
    fake.on("POST", "/v1/realtime-keys/collection", respond(422, j(body)))
    with pytest.raises(InvalidRequestError) as caught:
        client.realtime_keys.collection(RealtimeKeyCreate.model_validate(j(REQUESTS[-1][1])))
    assert [(e.field, e.message, e.type) for e in caught.value.errors] == [
        ("reference_id", "invalid uuid", "value_error")
    ]
