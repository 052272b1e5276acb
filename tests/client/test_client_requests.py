"""Invalid requests are refused before anything is sent, with plain field messages."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic import SecretStr, ValidationError

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import RequestValidationError, describe_validation_error
from dollr_core.api.models import (
    AmountAndFeesQuery,
    CheckoutCreate,
    CheckoutItem,
    CheckoutSessionCreate,
    CollectionExecute,
    CounterpartyCreate,
    DocumentUpdate,
    InvoiceCreate,
    ItemCreate,
    ItemUpdate,
    OrderCreate,
    PartyCreate,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    PaymentAccountCreate,
    PayoutExecute,
    PayoutSessionCreate,
    RealtimeKeyCreate,
    RefundSessionCreate,
    TransferSessionCreate,
)
from dollr_core.basics.enums import OperationType, SourceType

from .fakes import FakeDollr, respond

REF = "550e8400-e29b-41d4-a716-446655440000"
DEVICE = {
    "name": "Ops",
    "type": "SERVER",
    "platform": "PYTHON",
    "user_agent": "ops/1",
    "client_ip": "10.0.0.1",
}


def fields_of(exc: ValidationError) -> list[str]:
    return [field for field, _ in describe_validation_error(exc)]


BAD: list[tuple[str, Callable[[], Any], str]] = [
    ("phone with +", lambda: PartyCreate(fullname="A", phone="+231771234567"), "phone"),
    ("phone too short", lambda: PartyCreate(fullname="A", phone="2317712"), "phone"),
    ("phone with spaces", lambda: PartyCreate(fullname="A", phone="231 77 123 4567"), "phone"),
    ("empty name", lambda: PartyCreate(fullname="  ", phone="231771234567"), "fullname"),
    ("bad email", lambda: PartyCreate(fullname="A", phone="231771234567", email="amara"), "email"),
    (
        "lower country",
        lambda: PartyCreate(fullname="A", phone="231771234567", country_code="lr"),
        "country_code",
    ),
    ("extra field", lambda: PartyCreate(fullname="A", phone="231771234567", nickname="x"), "nickname"),  # type: ignore[call-arg]
    ("relationship OTHER", lambda: CounterpartyCreate(relationship_type="OTHER"), "relationship_type"),
    (
        "lowercase currency",
        lambda: ItemCreate(name="x", currency="usd", qty=1, amount=Decimal(1)),
        "currency",
    ),
    (
        "unsupported currency",
        lambda: ItemCreate(name="x", currency="EUR", qty=1, amount=Decimal(1)),
        "currency",
    ),
    ("0.001 USD", lambda: ItemCreate(name="x", currency="USD", qty=1, amount=Decimal("0.001")), "amount"),
    ("10.5 RWF", lambda: ItemCreate(name="x", currency="RWF", qty=1, amount=Decimal("10.5")), "amount"),
    ("zero amount", lambda: ItemCreate(name="x", currency="USD", qty=1, amount=Decimal(0)), "amount"),
    (
        "negative amount",
        lambda: PayoutSessionCreate(payout_account_id=1, amount=Decimal(-5), currency="USD"),
        "amount",
    ),
    (
        "NaN amount",
        lambda: PayoutSessionCreate(payout_account_id=1, amount=Decimal("NaN"), currency="USD"),
        "amount",
    ),
    ("float artefact", lambda: ItemCreate(name="x", currency="USD", qty=1, amount=0.1 + 0.2), "amount"),
    ("qty zero", lambda: ItemCreate(name="x", currency="USD", qty=0, amount=Decimal(1)), "qty"),
    ("qty as text", lambda: ItemCreate(name="x", currency="USD", qty="2", amount=Decimal(1)), "qty"),  # type: ignore[arg-type]
    ("3 decimals no currency", lambda: ItemUpdate(amount=Decimal("1.005")), "amount"),
    (
        "refund 3 decimals",
        lambda: RefundSessionCreate(
            original_payment_intent_id=1,
            amount=Decimal("1.001"),
            expires_at=datetime.fromisoformat("2030-01-01T00:00:00+00:00"),
        ),
        "amount",
    ),
    (
        "naive datetime",
        lambda: TransferSessionCreate(
            from_wallet_id=1,
            to_counterparty_id=2,
            currency="USD",
            amount=Decimal(1),
            expires_at=datetime(2030, 1, 1),
        ),
        "expires_at",
    ),
    (
        "SUBSCRIPTION session",
        lambda: CheckoutSessionCreate(source_id=1, source_type="SUBSCRIPTION"),
        "source_type",
    ),
    (
        "source_type lowercase",
        lambda: CheckoutSessionCreate(source_id=1, source_type="invoice"),
        "source_type",
    ),
    (
        "id as bool",
        lambda: CheckoutSessionCreate(source_id=True, source_type=SourceType.INVOICE),
        "source_id",
    ),
    ("id negative", lambda: CheckoutSessionCreate(source_id=-1, source_type=SourceType.INVOICE), "source_id"),
    (
        "id not numeric",
        lambda: CollectionExecute(
            session_id="abc", payment_account_id="18", currency="USD", reference_id=REF
        ),
        "session_id",
    ),
    (
        "uuid v1",
        lambda: CollectionExecute(
            session_id=1, payment_account_id=2, currency="USD", reference_id=str(uuid.uuid1())
        ),
        "reference_id",
    ),
    (
        "not a uuid",
        lambda: CollectionExecute(
            session_id=1, payment_account_id=2, currency="USD", reference_id="order-42"
        ),
        "reference_id",
    ),
    (
        "realtime uuid v3",
        lambda: RealtimeKeyCreate(
            session_id=1,
            source_type=SourceType.INVOICE,
            reference_id=str(uuid.uuid3(uuid.NAMESPACE_DNS, "x")),
        ),
        "reference_id",
    ),
    (
        "invoice missing note",
        lambda: InvoiceCreate(  # type: ignore[call-arg]
            counterparty_id=1,
            currency="USD",
            fee_bearer="PAYER",
            as_payment_link=True,
        ),
        "note",
    ),
    (
        "order with due_date",
        lambda: OrderCreate(  # type: ignore[call-arg]
            counterparty_id=1,
            currency="USD",
            note="n",
            fee_bearer="PAYER",
            as_payment_link=True,
            due_date="2030-01-01T00:00:00Z",
        ),
        "due_date",
    ),
    (
        "as_payment_link as text",
        lambda: OrderCreate(
            counterparty_id=1,
            currency="USD",
            note="n",
            fee_bearer="PAYER",
            as_payment_link="yes",  # type: ignore[arg-type]
        ),
        "as_payment_link",
    ),
    (
        "card with number",
        lambda: PaymentAccountCreate(
            account_name="c",
            provider="STRIPE",
            method="CREDIT_CARD",
            party_id=1,
            insensitive_account_number="231771234567",
        ),
        "",
    ),
    (
        "method/provider mismatch",
        lambda: PaymentAccountCreate(
            account_name="c",
            provider="STRIPE",
            method="MTN_MOMO_LBR",
            party_id=1,
            insensitive_account_number="231771234567",
        ),
        "",
    ),
    (
        "momo without number",
        lambda: PaymentAccountCreate(
            account_name="c",
            provider="PAWAPAY",
            method="MTN_MOMO_LBR",
            party_id=1,
        ),
        "",
    ),
    (
        "checkout without items",
        lambda: CheckoutCreate(
            source_kind=SourceType.ORDER, party_name="A", party_phone="231771234567", currency="USD", items=[]
        ),
        "items",
    ),
    (
        "checkout mixed currencies",
        lambda: CheckoutCreate(
            source_kind=SourceType.ORDER,
            party_name="A",
            party_phone="231771234567",
            currency="USD",
            items=[CheckoutItem(name="x", currency="LRD", amount=Decimal(5))],
        ),
        "",
    ),
    (
        "checkout item with qty",
        lambda: CheckoutItem(name="x", currency="USD", amount=Decimal(5), qty=2),  # type: ignore[call-arg]
        "qty",
    ),
    (
        "checkout source_type name",
        lambda: CheckoutCreate.model_validate(
            {
                "source_type": "ORDER",
                "party_name": "A",
                "party_phone": "231771234567",
                "currency": "USD",
                "items": [{"name": "x", "currency": "USD", "amount": 5}],
            }
        ),
        "source_kind",
    ),
    (
        "passcode both identities",
        lambda: PasscodeToken(code=SecretStr("1"), phone="231771234567", user_id="u1"),
        "",
    ),
    ("passcode no identity", lambda: PasscodeToken(code=SecretStr("1")), ""),
    ("passcode empty code", lambda: PasscodeToken(code=SecretStr(" "), phone="231771234567"), "code"),
    ("device bad ip", lambda: PasscodeDevice(**(DEVICE | {"client_ip": "localhost"})), "client_ip"),
    (
        "device missing platform",
        lambda: PasscodeDevice(**{k: v for k, v in DEVICE.items() if k != "platform"}),
        "platform",
    ),
    (
        "prediction owner half",
        lambda: AmountAndFeesQuery(
            base_amount=Decimal(1),
            base_currency="USD",
            target_currency="LRD",
            payment_method="MTN_MOMO_LBR",
            operation_type="COLLECTION",
            provider="PAWAPAY",
            fee_bearer="PAYER",
            owner_id=4,
        ),
        "",
    ),
    (
        "prediction RWF decimals",
        lambda: AmountAndFeesQuery(
            base_amount=Decimal("1.5"),
            base_currency="RWF",
            target_currency="RWF",
            payment_method="MTN_MOMO_RWA",
            operation_type="COLLECTION",
            provider="PAWAPAY",
            fee_bearer="PAYER",
        ),
        "base_amount",
    ),
]


@pytest.mark.parametrize(("name", "build", "field"), BAD, ids=[b[0] for b in BAD])
def test_invalid_request_is_refused_with_a_plain_message(
    name: str, build: Callable[[], Any], field: str
) -> None:
    with pytest.raises(ValidationError) as caught:
        build()
    pairs = describe_validation_error(caught.value)
    assert pairs, name
    assert any(f == field or f.endswith("." + field) or f.startswith(field) for f, _ in pairs), pairs
    for _, sentence in pairs:
        assert sentence and sentence[0].isupper() and sentence.endswith("."), sentence
        assert "Value error" not in sentence and "Input should" not in sentence


def test_messages_are_plain_sentences() -> None:
    with pytest.raises(ValidationError) as caught:
        PartyCreate(fullname="A", phone="+231771234567")
    assert describe_validation_error(caught.value) == [
        (
            "phone",
            "Use the international number as digits only, with the country code and no +,"
            " e.g. 231771234567 (8 to 15 digits).",
        )
    ]
    with pytest.raises(ValidationError) as caught:
        ItemCreate(name="x", currency="RWF", qty=1, amount=Decimal("10.5"))
    assert describe_validation_error(caught.value) == [
        ("amount", "RWF amounts must be whole numbers (no decimals).")
    ]
    with pytest.raises(ValidationError) as caught:
        ItemCreate.model_validate({"name": "x", "currency": "USD", "qty": 1})
    assert describe_validation_error(caught.value) == [("amount", "This field is required.")]


def test_nested_passcode_problem_is_located() -> None:
    with pytest.raises(ValidationError) as caught:
        PayoutExecute.model_validate(
            {
                "session_id": "8",
                "payout_account_id": 1,
                "reference_id": REF,
                "passcode": {"token": {"code": "123456"}, "device": DEVICE},
            }
        )
    assert [f for f, _ in describe_validation_error(caught.value)] == ["passcode.token"]
    assert "123456" not in str(describe_validation_error(caught.value))


def test_valid_variants_are_accepted() -> None:
    assert ItemCreate(name="x", currency="RWF", qty=1, amount=Decimal("10.0")).amount == Decimal("10")
    assert ItemCreate(name="x", currency="USD", qty=1, amount="0.01").amount == Decimal("0.01")
    token = PasscodeToken(code=SecretStr("9"), user_id=77)
    assert token.to_body() == {"code": "9", "user_id": 77}
    ref = CollectionExecute(
        session_id=1, payment_account_id=2, currency="LRD", reference_id=uuid.UUID(REF.upper())
    ).reference_id
    assert ref == REF
    update = DocumentUpdate(note="hello")
    assert update.to_body() == {"note": "hello"}
    query = AmountAndFeesQuery(
        base_amount=Decimal("100.00"),
        base_currency="USD",
        target_currency="LRD",
        payment_method="MTN_MOMO_LBR",
        operation_type="COLLECTION",
        provider="PAWAPAY",
        fee_bearer="PAYER",
        owner_type="ORGANIZATION",
        owner_id="42",
    )
    assert query.to_params() == {
        "base_currency": "USD",
        "base_amount": "100.00",
        "target_currency": "LRD",
        "payment_method": "MTN_MOMO_LBR",
        "operation_type": "COLLECTION",
        "provider": "PAWAPAY",
        "fee_bearer": "PAYER",
        "owner_type": "ORGANIZATION",
        "owner_id": "42",
    }


def test_request_models_are_frozen() -> None:
    party = PartyCreate(fullname="A", phone="231771234567")
    with pytest.raises(ValidationError):
        party.phone = "+1"  # type: ignore[misc]


# --- client arguments are checked before any HTTP call ------------------------------------------


CLIENT_BAD: list[tuple[str, Callable[[DollrClient], Any], str]] = [
    (
        "mmo phone with +",
        lambda c: c.predictions.mmo_provider_info("+231771234567", OperationType.COLLECTION),
        "phone",
    ),
    (
        "status non-v4",
        lambda c: c.status.execution(OperationType.COLLECTION, str(uuid.uuid1())),
        "reference_id",
    ),
    ("status bad op", lambda c: c.status.execution("PAYMENT", REF), "operation_type"),
    ("source SUBSCRIPTION", lambda c: c.status.source("SUBSCRIPTION", 1), "source_type"),
    ("link SUBSCRIPTION", lambda c: c.links.pay("SUBSCRIPTION", "SUB-1"), "source_type"),
    ("link empty number", lambda c: c.links.receipt(SourceType.INVOICE, " "), "source_number"),
    ("path id zero", lambda c: c.parties.retrieve(0), "party_id"),
    ("path id text", lambda c: c.invoices.retrieve("abc"), "id"),  # type: ignore[arg-type]
    ("list lowercase currency", lambda c: c.invoices.list(currency="usd"), "currency"),
    ("list bad status", lambda c: c.orders.list(status="CANCELLED"), "status"),
    (
        "order model to invoices",
        lambda c: c.invoices.create(
            OrderCreate(
                counterparty_id=1, currency="USD", note="n", fee_bearer="PAYER", as_payment_link=False
            )
        ),
        "body",
    ),
    ("dict instead of model", lambda c: c.parties.create({"fullname": "A", "phone": "231771234567"}), "body"),  # type: ignore[arg-type]
    (
        "account bad op",
        lambda c: c.payment_accounts.create(
            PaymentAccountCreate(account_name="c", provider="STRIPE", method="CREDIT_CARD", party_id=1),
            "SUBSCRIPTION",
        ),
        "operation_type",
    ),
    ("merchant type USER", lambda c: c.merchants.info(1, "USER"), "merchant_type"),
]


@pytest.mark.parametrize(("name", "call", "field"), CLIENT_BAD, ids=[b[0] for b in CLIENT_BAD])
def test_client_refuses_bad_arguments_before_sending(
    client: DollrClient, fake: FakeDollr, name: str, call: Callable[[DollrClient], Any], field: str
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        call(client)
    assert fake.seen == []  # not even a token request
    assert caught.value.errors[0].field == field
    assert caught.value.status is None and not caught.value.outcome_unknown
    assert describe_validation_error(caught.value)[0][0] == field
    assert isinstance(caught.value, ValueError)


def test_invalid_model_never_reaches_the_transport(client: DollrClient, fake: FakeDollr) -> None:
    with pytest.raises(ValidationError):
        client.parties.create(PartyCreate(fullname="A", phone="+231771234567"))
    with pytest.raises(ValidationError):
        client.executions.collection(
            CollectionExecute(session_id=1, payment_account_id=2, currency="usd", reference_id=REF)
        )
    with pytest.raises(ValidationError):
        client.executions.payout(
            PayoutExecute(
                session_id=1,
                payout_account_id=2,
                reference_id=str(uuid.uuid1()),
                passcode=Passcode(
                    token=PasscodeToken(code=SecretStr("1"), phone="231771234567"),
                    device=PasscodeDevice(**DEVICE),
                ),
            )
        )
    with pytest.raises(ValidationError):
        client.sessions.payout(
            PayoutSessionCreate(payout_account_id=1, amount=Decimal("0.001"), currency="USD")
        )
    with pytest.raises(ValidationError):
        client.sessions.checkout(CheckoutSessionCreate(source_id=1, source_type="SUBSCRIPTION"))
    with pytest.raises(ValidationError):
        client.invoices.add_item(1, ItemCreate(name="x", currency="RWF", qty=1, amount=Decimal("10.5")))
    assert fake.seen == []


def test_request_validation_error_from_pydantic() -> None:
    with pytest.raises(ValidationError) as caught:
        ItemCreate(name="x", currency="usd", qty=0, amount=Decimal("0.001"))
    error = RequestValidationError.from_pydantic(caught.value)
    assert [e.field for e in error.errors] == ["currency", "qty", "amount"]
    assert error.message.startswith("The request was not sent: currency: ")


def test_cookies_dollr_sets_are_never_sent_back(client: DollrClient, fake: FakeDollr) -> None:
    """Dollr authenticates by bearer token: a cookie in an answer is not kept, not replayed."""
    party = {"id": 7, "fullname": "Amara Kamara", "phone": "231771234567"}
    fake.on("GET", "/v1/parties/retrieve/7", respond(200, party, headers={"set-cookie": "sid=abc; Path=/"}))
    seen: list[str | None] = []

    def listing(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers.get("cookie"))
        return respond(200, [])

    fake.on("GET", "/v1/parties/list", listing)
    client.parties.retrieve(7)
    client.parties.list()
    assert seen == [None]


def test_request_urls_join_the_base_url_as_httpx_does(
    make_client: Callable[..., DollrClient], fake: FakeDollr
) -> None:
    """Paths are joined once and reused; a base URL with a path keeps it, a query stays a query."""
    client = make_client(base_url="https://dollr.test/api/")
    fake.on(
        "POST", "/api/v1/jwt/client/obtain/token", respond(200, {"access_token": "tok", "expires_in": 60})
    )
    fake.on(
        "GET",
        "/api/v1/parties/retrieve/7",
        respond(200, {"id": 7, "fullname": "A B", "phone": "231771234567"}),
    )
    fake.on("GET", "/api/v1/parties/list", respond(200, []))
    for _ in range(2):
        client.parties.retrieve(7)
        client.parties.list(fullname="Amara K")
    assert [(s.path, s.params) for s in fake.seen[1:]] == [
        ("/api/v1/parties/retrieve/7", {}),
        ("/api/v1/parties/list", {"fullname": "Amara K"}),
    ] * 2


def test_parameters_are_encoded_as_httpx_client_merged_them(client: DollrClient, fake: FakeDollr) -> None:
    """The query is written by the Sender now: spaces, slashes and ampersands stay values, and a
    path that has a query of its own keeps it."""
    from dollr_core.api.transport import Retry

    fake.on("GET", "/v1/parties/list", respond(200, []))
    client._sender.request("GET", "/v1/parties/list", params={"fullname": "A & B/C d"}, retry=Retry.SAFE)
    client._sender.request("GET", "/v1/parties/list?page=2", params={"fullname": "Amara"}, retry=Retry.SAFE)
    assert [s.params for s in fake.seen[1:]] == [
        {"fullname": "A & B/C d"},
        {"page": "2", "fullname": "Amara"},
    ]
