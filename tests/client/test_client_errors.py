"""Each failure kind maps to its error class with a human message; odd bodies are tolerated."""

from __future__ import annotations

import pickle
from collections.abc import Callable

import httpx
import pytest

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import (
    AuthenticationError,
    DollrError,
    DollrTimeout,
    FieldError,
    InvalidRequestError,
    NetworkError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnexpectedResponseError,
    describe_validation_error,
    error_from_response,
    field_errors_from_detail,
)
from dollr_core.api.models import PartyCreate

from .fakes import FakeDollr, request_error, respond


def call_retrieve(client: DollrClient, fake: FakeDollr, step: httpx.Response | Exception) -> DollrError:
    fake.on("GET", "/v1/parties/retrieve/42", step)
    with pytest.raises(DollrError) as caught:
        client.parties.retrieve(42)
    return caught.value


def test_403_mentions_verification(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, respond(403, {"detail": "Merchant not verified"}))
    assert isinstance(error, PermissionDeniedError)
    assert "verif" in error.message and "Merchant not verified" in error.message
    assert error.status == 403 and error.method == "GET" and error.path == "/v1/parties/retrieve/42"
    assert not error.outcome_unknown


def test_404(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, respond(404, {"detail": "Party not found"}))
    assert isinstance(error, NotFoundError) and "Party not found" in str(error)
    assert error.body == {"detail": "Party not found"}


def test_422_every_entry_is_surfaced(client: DollrClient, fake: FakeDollr) -> None:
    body = {
        "detail": [
            {"loc": ["body", "phone"], "msg": "invalid phone", "type": "value_error"},
            {"loc": ["body", "currency"], "msg": "field required", "type": "value_error.missing"},
            {"loc": ["query", "operation_type"], "msg": "invalid enum", "type": "enum"},
            {"loc": ["body", "items", 0, "amount"], "msg": "less than minimum", "type": "value_error"},
        ]
    }
    fake.on("POST", "/v1/parties/create", respond(422, body))
    with pytest.raises(InvalidRequestError) as caught:
        client.parties.create(PartyCreate(fullname="A", phone="231771234567"))
    error = caught.value
    assert error.errors == [
        FieldError("phone", "invalid phone", "value_error", "body"),
        FieldError("currency", "field required", "value_error.missing", "body"),
        FieldError("operation_type", "invalid enum", "enum", "query"),
        FieldError("items[0].amount", "less than minimum", "value_error", "body"),
    ]
    assert error.message == (
        "Dollr rejected the request: phone: invalid phone; currency: field required;"
        " operation_type: invalid enum; items[0].amount: less than minimum."
    )
    assert describe_validation_error(error)[0] == ("phone", "invalid phone")
    assert not error.outcome_unknown and len(fake.calls()) == 1


def test_422_with_string_detail(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, respond(422, {"detail": "Invoice is not IDLE"}))
    assert isinstance(error, InvalidRequestError) and error.errors == []
    assert "Invoice is not IDLE" in error.message


def test_429_carries_retry_after(make_client: Callable[..., DollrClient], fake: FakeDollr) -> None:
    client = make_client(max_retries=0)
    error = call_retrieve(client, fake, respond(429, {"detail": "Too many"}, headers={"Retry-After": "3"}))
    assert isinstance(error, RateLimitError) and error.retry_after == 3.0 and not error.outcome_unknown


def test_5xx_with_html_body(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, respond(502, "<html><body>Bad gateway</body></html>"))
    assert isinstance(error, ServerError) and error.outcome_unknown and error.status == 502
    assert error.body == "<html><body>Bad gateway</body></html>"


def test_empty_error_body(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, httpx.Response(404))
    assert isinstance(error, NotFoundError) and error.body is None


def test_unexpected_status(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, respond(418, {"detail": "teapot"}))
    assert isinstance(error, UnexpectedResponseError) and error.status == 418


def test_unreadable_success_body(client: DollrClient, fake: FakeDollr) -> None:
    error = call_retrieve(client, fake, respond(200, "not json at all"))
    assert isinstance(error, UnexpectedResponseError) and not error.outcome_unknown  # a GET
    fake.on("POST", "/v1/parties/create", respond(200, {"unexpected": True}))
    with pytest.raises(UnexpectedResponseError) as caught:
        client.parties.create(PartyCreate(fullname="A", phone="231771234567"))
    assert caught.value.outcome_unknown  # the create may have happened
    assert "Party" in caught.value.message and "fullname" in caught.value.message


def test_network_errors(make_client: Callable[..., DollrClient], fake: FakeDollr) -> None:
    client = make_client(max_retries=0)
    refused = call_retrieve(client, fake, request_error(httpx.ConnectError))
    assert type(refused) is NetworkError and refused.may_have_reached_dollr is False
    assert "not sent" in refused.message and refused.status is None
    timeout = call_retrieve(client, fake, request_error(httpx.ReadTimeout))
    assert isinstance(timeout, DollrTimeout) and isinstance(timeout, NetworkError)
    assert timeout.may_have_reached_dollr and timeout.outcome_unknown and "unknown" in timeout.message


def test_error_from_response_mapping() -> None:
    def where(status: int) -> DollrError:
        return error_from_response(status, None, method="GET", path="/v1/x")

    assert type(where(401)) is AuthenticationError
    assert type(where(403)) is PermissionDeniedError
    assert type(where(404)) is NotFoundError
    assert type(where(422)) is InvalidRequestError
    assert type(where(429)) is RateLimitError
    for status in (500, 502, 503, 504):
        assert type(where(status)) is ServerError
    assert type(where(409)) is UnexpectedResponseError


def test_field_errors_tolerate_odd_shapes() -> None:
    assert field_errors_from_detail(None) == []
    assert field_errors_from_detail(["just text"]) == [FieldError("", "just text", "", "")]
    assert field_errors_from_detail({"loc": "body.phone", "msg": "bad"}) == [
        FieldError("phone", "bad", "", "body")
    ]
    assert field_errors_from_detail([{"msg": "no loc"}]) == [FieldError("", "no loc", "", "")]


def test_errors_pickle_and_repr() -> None:
    error = InvalidRequestError(
        "Dollr rejected", errors=[FieldError("phone", "bad")], method="POST", path="/v1/p"
    )
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is InvalidRequestError and copy.errors == error.errors and copy.message == error.message
    assert repr(error) == "InvalidRequestError('Dollr rejected', method='POST', path='/v1/p', status=422)"
    timeout = DollrTimeout("slow", may_have_reached_dollr=True)
    assert pickle.loads(pickle.dumps(timeout)).may_have_reached_dollr is True
