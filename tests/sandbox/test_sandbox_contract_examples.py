# ruff: noqa: E501  (the example bodies are copied from the contract line for line)
"""Every example request body of contract §10, sent exactly as written, is accepted.

The bodies are copied verbatim from ``dollr-api.md`` §10. The ids they mention (party 42,
counterparty 15, invoice 101, session 55, account 18, payout session 88, payment intent 314) are
made to exist by starting the sandbox's id counters just below them, and its clock on the
examples' date, 2025-06-01.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from dollr_sandbox import Sandbox, SandboxConfig

from .support import Api

START = datetime(2025, 6, 1, 10, 0, tzinfo=UTC)

TOKEN_REQUEST = '{"client_id": "cid_123", "client_secret": "•••"}'
TOKEN_RESPONSE = '{"access_token": "eyJhbGciOi...", "expires_in": 60}'

PARTY = '{"fullname": "Amara Kamara", "phone": "231771234567", "email": "amara@example.com", "country_code": "LR"}'
PARTY_RESPONSE = """{"id": 42, "fullname": "Amara Kamara", "phone": "231771234567", "email": "amara@example.com",
 "country_code": "LR", "created_at": "2025-06-01T10:00:00Z", "updated_at": "2025-06-01T10:00:00Z"}"""
COUNTERPARTY = '{"relationship_type": "CUSTOMER", "party_id": 42}'
INVOICE = """{"counterparty_id": 15, "currency": "USD", "note": "Consulting services", "fee_bearer": "PAYER",
 "as_payment_link": true, "due_date": "2025-12-31T23:59:59Z"}"""
ITEM = '{"name": "Strategy Session", "currency": "USD", "qty": 1, "amount": 250.00}'
PUBLISHED = """{"id": 101, "invoice_number": "INV-2025-00042", "status": "ACTIVE", "currency": "USD",
 "note": "Consulting services",
 "fee_bearer": "PAYER", "as_payment_link": true, "counterparty_id": 15, "total_amount": 250.0,
 "due_date": "2025-12-31T23:59:59Z", "created_at": "2025-06-01T10:10:00Z", "updated_at": "2025-06-01T10:12:00Z"}"""

HOSTED = """{"mode": "HOSTED", "source_kind": "ORDER", "party_name": "Amara Kamara", "party_phone": "231771234567",
 "currency": "USD", "items": [{"name": "T-Shirt", "currency": "USD", "amount": 25}],
 "success_url": "<your success page>", "cancel_url": "<your cancel page>"}"""
HOSTED_RESPONSE = """{"id": 9, "mode": "HOSTED", "source_type": "ORDER", "source_id": 201, "source_number": "ORD-2025-00099",
 "source_status": "ACTIVE", "party_id": 42, "counterparty_id": 15, "source_checkout_config_id": 3,
 "currency": "USD", "total_amount": 25.0, "url": "<hosted page>", "hosted_path_or_token": "<token>",
 "success_url": "<your success page>", "cancel_url": "<your cancel page>"}"""

CHECKOUT_SESSION = '{"source_id": 101, "source_type": "INVOICE"}'
CHECKOUT_SESSION_RESPONSE = """{"id": 55, "source_id": 101, "source_type": "INVOICE", "status": "ACTIVE",
 "payment_account_id": null,
 "expires_at": "2025-06-01T10:45:00Z", "created_at": "2025-06-01T10:30:00Z", "updated_at": "2025-06-01T10:30:00Z"}"""
MOMO_ACCOUNT = """{"account_name": "Amara MTN Wallet", "provider": "PAWAPAY", "method": "MTN_MOMO_LBR",
 "party_id": 42, "country_code": "LR", "insensitive_account_number": "231771234567"}"""
CARD_ACCOUNT = (
    '{"account_name": "Customer Card", "provider": "STRIPE", "method": "CREDIT_CARD", "party_id": 42}'
)
COLLECTION = """{"session_id": "55", "payment_account_id": "18", "currency": "USD",
 "reference_id": "550e8400-e29b-41d4-a716-446655440000"}"""
COLLECTION_RESPONSE = """{"reference_id": "550e8400-e29b-41d4-a716-446655440000", "status": "PENDING",
 "operation_type": "COLLECTION",
 "payer_amount": 257.5, "payer_currency": "USD", "payee_amount": 250.0, "payee_currency": "USD",
 "provider_transaction_id": null, "gateway_message": null, "wallet_message": null,
 "requires_action": false, "client_secret": null}"""

PAYOUT_SESSION = '{"payout_account_id": 18, "amount": 100.0, "currency": "USD"}'
PAYOUT_SESSION_RESPONSE = """{"id": 88, "payout_account_id": 18, "amount": 100.0, "currency": "USD", "wallet_id": 3,
 "expires_at": "2025-06-15T18:00:00Z"}"""
PAYOUT = """{"session_id": "88", "payout_account_id": 18, "reference_id": "660e8400-e29b-41d4-a716-446655440111",
 "passcode": {"token": {"phone": "231771234567", "code": "<passcode>"},
              "device": {"name": "Payout Server", "type": "SERVER", "platform": "NODE",
                         "user_agent": "my-app/1.0", "client_ip": "203.0.113.10"}}}"""
REFUND_SESSION = (
    '{"original_payment_intent_id": 314, "amount": 50.0, "expires_at": "2025-06-15T18:00:00Z", '
    '"reason": "Partial return"}'
)

SOURCE_STATUS_RESPONSE = """{"source_id": 101, "source_type": "INVOICE", "source_number": "INV-2025-00042",
 "status": "PAID", "currency": "USD", "total_amount": 250.0, "paid_at": "2025-06-01T10:41:07Z"}"""
PR1_RESPONSE = """{"payer_amount": "19850.00", "payer_currency": "LRD", "payee_amount": "100.00",
 "payee_currency": "USD", "platform_fee": "1.50", "platform_currency": "USD", "gateway_fee": "1.00",
 "gateway_currency": "USD", "fx_fee": "0.75"}"""
PR3_RESPONSE = """{"carrier": "MTN", "country": "LR", "currencies": ["USD", "LRD"], "phone": "231771234567",
 "payment_method": "MTN_MOMO_LBR", "gateway_provider": "PAWAPAY", "operation_type": "COLLECTION"}"""
REALTIME_KEY = (
    '{"session_id": 55, "source_type": "INVOICE", "reference_id": "550e8400-e29b-41d4-a716-446655440000"}'
)
REALTIME_KEY_RESPONSE = '{"access_token": "eyJhbGciOi...", "expires_in": 300}'
ERROR_422 = '{"detail": [{"loc": ["body", "reference_id"], "msg": "invalid uuid", "type": "value_error"}]}'


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def assert_shaped_like(actual: dict[str, Any], example_text: str) -> None:
    """Every key of the contract's example is there, with the same JSON type (null matches anything)."""
    example = json.loads(example_text)
    missing = set(example) - set(actual)
    assert not missing, f"missing keys {missing}"
    for key, value in example.items():
        if value is not None and actual[key] is not None:
            assert _kind(actual[key]) == _kind(value), (key, actual[key], value)


def _send(api: Api, method: str, path: str, body: str) -> Any:
    r = api.request(method, path, content=body.encode(), headers={"Content-Type": "application/json"})
    assert r.status_code == 200, f"{path}: {r.status_code} {r.text}"
    return r.json()


def _start_counters(sb: Sandbox, **next_ids: int) -> None:
    """Ids start where the examples' do, and the clock is back at the examples' instant (on a busy
    machine more than a second can pass between the sandbox's start and the first request)."""
    with sb.state.transaction() as state:
        for counter, next_id in next_ids.items():
            state.meta.counters[counter] = next_id - 1
        state.clock.reset(state.clock.offset_seconds - (state.now() - START).total_seconds())


@pytest.fixture
def example_sandbox() -> Iterator[Sandbox]:
    config = SandboxConfig(
        client_id="cid_123",
        client_secret="•••",
        passcode="<passcode>",
        passcode_phone="231771234567",
        start_time=START,
        rate_limit_per_minute=0,
        # The docs register their Orange sample number 231771234567 as an MTN wallet.
        check_operator=False,
    )
    with Sandbox(config) as sb:
        yield sb


@pytest.fixture
def example_api(example_sandbox: Sandbox) -> Iterator[Api]:
    api = Api(example_sandbox.base_url, client_id="cid_123", client_secret="•••")
    yield api
    api.close()


def test_token_example(example_api: Api) -> None:
    r = example_api.http.post("/v1/jwt/client/obtain/token", content=TOKEN_REQUEST.encode())
    assert r.status_code == 200
    assert_shaped_like(r.json(), TOKEN_RESPONSE)
    assert r.json()["expires_in"] == 60


def test_collection_side_examples(example_sandbox: Sandbox, example_api: Api) -> None:
    api = example_api
    _start_counters(
        example_sandbox,
        party=42,
        counterparty=15,
        source=101,
        invoice_number=42,
        session=55,
        payment_account=18,
        payment_intent=314,
    )
    party = _send(api, "POST", "/v1/parties/create", PARTY)
    assert party == json.loads(PARTY_RESPONSE)
    assert _send(api, "POST", "/v1/counterparties/create", COUNTERPARTY)["id"] == 15
    assert _send(api, "POST", "/v1/invoices/create", INVOICE)["id"] == 101
    _send(api, "POST", "/v1/invoices/101/items/add", ITEM)
    published = _send(api, "PUT", "/v1/invoices/publish/101", "")
    assert_shaped_like(published, PUBLISHED)
    assert published["invoice_number"] == "INV-2025-00042" and published["total_amount"] == 250.0

    hosted = _send(api, "POST", "/v1/checkouts/create", HOSTED)
    assert_shaped_like(hosted, HOSTED_RESPONSE)
    assert (hosted["party_id"], hosted["counterparty_id"]) == (42, 15)

    session = _send(api, "POST", "/v1/sessions/checkout", CHECKOUT_SESSION)
    assert_shaped_like(session, CHECKOUT_SESSION_RESPONSE)
    assert session["id"] == 55 and session["created_at"].startswith("2025-06-01T10:")
    assert (
        _send(api, "POST", "/v1/payment-accounts/create?operation_type=COLLECTION", MOMO_ACCOUNT)["id"] == 18
    )
    assert (
        _send(api, "POST", "/v1/payment-accounts/create?operation_type=COLLECTION", CARD_ACCOUNT)["id"] == 19
    )
    execution = _send(api, "POST", "/v1/executions/collection", COLLECTION)
    assert_shaped_like(execution, COLLECTION_RESPONSE)
    assert execution["payment_intent_id"] == 314
    key = _send(api, "POST", "/v1/realtime-keys/collection", REALTIME_KEY)
    assert_shaped_like(key, REALTIME_KEY_RESPONSE)

    api.advance(10)
    status = api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": 101})
    assert_shaped_like(status, SOURCE_STATUS_RESPONSE)
    assert status["status"] == "PAID"
    refund = _send(api, "POST", "/v1/sessions/refund", REFUND_SESSION)
    assert isinstance(refund["id"], int)

    prediction = api.ok(
        "GET",
        "/v1/predictions/amount-and-fees",
        params={
            "base_amount": "100",
            "base_currency": "USD",
            "target_currency": "LRD",
            "payment_method": "MTN_MOMO_LBR",
            "operation_type": "COLLECTION",
            "provider": "PAWAPAY",
            "fee_bearer": "PAYER",
        },
    )
    assert_shaped_like(prediction, PR1_RESPONSE)
    info = api.ok(
        "GET",
        "/v1/predictions/mmo-provider-info",
        params={"phone": "231771234567", "operation_type": "COLLECTION"},
    )
    assert set(info) == set(json.loads(PR3_RESPONSE))


def test_payout_side_examples(example_sandbox: Sandbox, example_api: Api) -> None:
    api = example_api
    _start_counters(example_sandbox, party=42, session=88, payment_account=18)
    _send(api, "POST", "/v1/parties/create", PARTY)
    account = json.loads(MOMO_ACCOUNT)
    account["insensitive_account_number"] = "231880001234"
    assert api.ok("POST", "/v1/payment-accounts/create?operation_type=PAYOUT", json=account)["id"] == 18
    session = _send(api, "POST", "/v1/sessions/payout", PAYOUT_SESSION)
    assert_shaped_like(session, PAYOUT_SESSION_RESPONSE)
    assert session["id"] == 88
    execution = _send(api, "POST", "/v1/executions/payout", PAYOUT)
    assert execution["status"] == "PENDING" and execution["operation_type"] == "PAYOUT"
    assert_shaped_like(execution, COLLECTION_RESPONSE.replace('"COLLECTION"', '"PAYOUT"'))


def test_422_example_shape(example_api: Api) -> None:
    r = example_api.post(
        "/v1/executions/collection",
        json={
            "session_id": "55",
            "payment_account_id": "18",
            "currency": "USD",
            "reference_id": "not-a-uuid",
        },
    )
    assert r.status_code == 422
    assert r.json() == json.loads(ERROR_422)
