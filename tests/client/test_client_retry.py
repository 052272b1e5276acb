"""Which calls are retried, when, and how long the client waits (sleeps are recorded, never real)."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from decimal import Decimal

import httpx
import pytest
from pydantic import SecretStr

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import DollrError, DollrTimeout, NetworkError, RateLimitError, ServerError
from dollr_core.api.models import (
    CollectionExecute,
    PartyCreate,
    Passcode,
    PasscodeDevice,
    PasscodeToken,
    PayoutExecute,
    PayoutSessionCreate,
    RealtimeKeyCreate,
    RefundExecute,
    TransferExecute,
)
from dollr_core.api.transport import (
    MAX_RETRY_AFTER,
    Failure,
    Retry,
    backoff_delay,
    parse_retry_after,
    should_retry,
)
from dollr_core.basics.enums import OperationType, SourceType

from .fakes import FakeDollr, request_error, respond

REF = "550e8400-e29b-41d4-a716-446655440000"
PARTY = {"id": 42, "fullname": "Amara Kamara", "phone": "231771234567"}
OK_EXECUTION = {"reference_id": REF, "status": "PENDING"}


def test_retry_table() -> None:
    table = {
        Retry.SAFE: {
            Failure.CONNECT: True,
            Failure.NETWORK: True,
            Failure.RATE_LIMITED: True,
            Failure.SERVER: True,
        },
        Retry.CREATE: {
            Failure.CONNECT: True,
            Failure.NETWORK: False,
            Failure.RATE_LIMITED: True,
            Failure.SERVER: False,
        },
        Retry.NEVER: {f: False for f in Failure},
    }
    for policy, row in table.items():
        for failure, expected in row.items():
            assert should_retry(policy, failure) is expected, (policy, failure)


def test_backoff_schedule_is_exponential_capped_and_jittered() -> None:
    assert [backoff_delay(n, lambda: 1.0) for n in range(1, 7)] == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]
    assert [backoff_delay(n, lambda: 0.0) for n in range(1, 5)] == [0.5, 1.0, 2.0, 4.0]
    assert backoff_delay(2, lambda: 0.5) == 1.5


def test_get_retries_5xx_with_backoff(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    fake.on("GET", "/v1/parties/retrieve/42", respond(503), respond(502), respond(200, PARTY))
    assert client.parties.retrieve(42).id == 42
    assert sleeps == [1.0, 2.0]
    assert len(fake.calls()) == 3 and client.stats.retries == 2


def test_get_gives_up_after_max_retries(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    fake.on("GET", "/v1/parties/retrieve/42", respond(500, {"detail": "boom"}))
    with pytest.raises(ServerError) as caught:
        client.parties.retrieve(42)
    assert len(fake.calls()) == 3 and sleeps == [1.0, 2.0]
    assert caught.value.outcome_unknown and caught.value.status == 500


def test_longer_schedule_hits_the_cap(
    make_client: Callable[..., DollrClient], fake: FakeDollr, sleeps: list[float]
) -> None:
    client = make_client(max_retries=6)
    fake.on("GET", "/v1/fees/tiers", respond(503))
    with pytest.raises(ServerError):
        client.fees.tiers()
    assert sleeps == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_max_retries_zero_means_one_attempt(
    make_client: Callable[..., DollrClient], fake: FakeDollr, sleeps: list[float]
) -> None:
    client = make_client(max_retries=0)
    fake.on("GET", "/v1/fees/tiers", respond(503))
    with pytest.raises(ServerError):
        client.fees.tiers()
    assert len(fake.calls()) == 1 and sleeps == []


@pytest.mark.parametrize(
    "error",
    [httpx.ConnectError, httpx.ConnectTimeout, httpx.ReadTimeout, httpx.ReadError, httpx.RemoteProtocolError],
)
def test_get_retries_network_errors(
    client: DollrClient, fake: FakeDollr, sleeps: list[float], error: type[httpx.TransportError]
) -> None:
    fake.on("GET", "/v1/parties/retrieve/42", request_error(error), respond(200, PARTY))
    assert client.parties.retrieve(42).id == 42
    assert sleeps == [1.0]


def test_retry_after_seconds_is_honoured(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    fake.on("GET", "/v1/fees/tiers", respond(429, headers={"Retry-After": "7"}), respond(200, []))
    assert client.fees.tiers() == []
    assert sleeps == [7.0]


def test_retry_after_http_date_is_honoured(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    fake.on("GET", "/v1/fees/tiers", respond(503, headers={"Retry-After": when}), respond(200, []))
    client.fees.tiers()
    assert len(sleeps) == 1 and 28.0 <= sleeps[0] <= 30.0


def test_retry_after_in_the_past_means_no_wait(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    when = email.utils.formatdate(time.time() - 300, usegmt=True)
    fake.on("GET", "/v1/fees/tiers", respond(429, headers={"Retry-After": when}), respond(200, []))
    client.fees.tiers()
    assert sleeps == []  # nothing to wait for


def test_a_429_quiets_every_sender_of_the_client(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    """A payout refused with 429 is never resent by the client, yet the next request of any other
    thread waits Dollr's Retry-After before it leaves."""
    fake.on(
        "POST", "/v1/executions/payout", respond(429, {"detail": "slow down"}, headers={"Retry-After": "3"})
    )
    fake.on("GET", "/v1/fees/tiers", respond(200, []))
    with pytest.raises(RateLimitError):
        EXECUTIONS[1][2](client)
    assert sleeps == []
    client.fees.tiers()
    assert sleeps == [3.0]


def test_a_long_retry_after_is_left_to_the_caller(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    fake.on(
        "POST", "/v1/executions/payout", respond(429, {"detail": "slow down"}, headers={"Retry-After": "30"})
    )
    fake.on("GET", "/v1/fees/tiers", respond(200, []))
    with pytest.raises(RateLimitError):
        EXECUTIONS[1][2](client)
    client.fees.tiers()  # a page's look-up is not held for half a minute
    assert sleeps == []


def test_too_long_retry_after_is_not_waited(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    fake.on("GET", "/v1/fees/tiers", respond(429, {"detail": "slow down"}, headers={"Retry-After": "120"}))
    with pytest.raises(RateLimitError) as caught:
        client.fees.tiers()
    assert sleeps == [] and caught.value.retry_after == 120.0
    assert "120" in caught.value.message


def test_429_without_retry_after_uses_backoff(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    fake.on("GET", "/v1/fees/tiers", respond(429), respond(429), respond(200, []))
    client.fees.tiers()
    assert sleeps == [1.0, 2.0]


def test_parse_retry_after_variants() -> None:
    assert parse_retry_after({"retry-after": "3"}) == 3.0
    assert parse_retry_after({"retry-after": "1.5"}) == 1.5
    assert parse_retry_after({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({"retry-after": "-4"}) is None
    assert parse_retry_after({}) is None
    assert (
        parse_retry_after({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"}, now=lambda: 1445412470.0) == 10.0
    )
    assert MAX_RETRY_AFTER == 60.0


# --- creates: only 429 and never-sent connect errors ----------------------------------------------


def party() -> PartyCreate:
    return PartyCreate(fullname="Amara Kamara", phone="231771234567")


def test_create_not_retried_after_read_timeout(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    fake.on("POST", "/v1/parties/create", request_error(httpx.ReadTimeout), respond(200, PARTY))
    with pytest.raises(DollrTimeout) as caught:
        client.parties.create(party())
    assert len(fake.calls()) == 1 and sleeps == []
    assert caught.value.may_have_reached_dollr and caught.value.outcome_unknown
    assert isinstance(caught.value, TimeoutError)


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_create_not_retried_after_5xx(client: DollrClient, fake: FakeDollr, status: int) -> None:
    fake.on("POST", "/v1/parties/create", respond(status), respond(200, PARTY))
    with pytest.raises(ServerError) as caught:
        client.parties.create(party())
    assert len(fake.calls()) == 1 and caught.value.outcome_unknown


def test_create_not_retried_after_dropped_response(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("POST", "/v1/parties/create", request_error(httpx.RemoteProtocolError), respond(200, PARTY))
    with pytest.raises(NetworkError) as caught:
        client.parties.create(party())
    assert len(fake.calls()) == 1 and caught.value.outcome_unknown


@pytest.mark.parametrize("error", [httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout])
def test_create_retried_when_request_never_left(
    client: DollrClient, fake: FakeDollr, sleeps: list[float], error: type[httpx.TransportError]
) -> None:
    fake.on("POST", "/v1/parties/create", request_error(error), respond(200, PARTY))
    assert client.parties.create(party()).id == 42
    assert len(fake.calls()) == 2 and sleeps == [1.0]


def test_create_retried_on_429(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    fake.on(
        "POST",
        "/v1/sessions/payout",
        respond(429, headers={"Retry-After": "2"}),
        respond(200, {"id": 88, "wallet_id": 3}),
    )
    session = client.sessions.payout(
        PayoutSessionCreate(payout_account_id=18, amount=Decimal(100), currency="USD")
    )
    assert session.wallet_id == 3 and sleeps == [2.0]


def test_create_connect_errors_exhaust(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    fake.on("POST", "/v1/parties/create", request_error(httpx.ConnectError))
    with pytest.raises(NetworkError) as caught:
        client.parties.create(party())
    assert len(fake.calls()) == 3
    assert caught.value.may_have_reached_dollr is False and not caught.value.outcome_unknown


# --- executions and realtime keys: never ----------------------------------------------------------

DEVICE = PasscodeDevice(
    name="Ops", type="SERVER", platform="PYTHON", user_agent="ops/1", client_ip="10.0.0.1"
)

EXECUTIONS: list[tuple[str, str, Callable[[DollrClient], object]]] = [
    (
        "collection",
        "/v1/executions/collection",
        lambda c: c.executions.collection(
            CollectionExecute(session_id=55, payment_account_id=18, currency="USD", reference_id=REF)
        ),
    ),
    (
        "payout",
        "/v1/executions/payout",
        lambda c: c.executions.payout(
            PayoutExecute(
                session_id=88,
                payout_account_id=18,
                reference_id=REF,
                passcode=Passcode(
                    token=PasscodeToken(code=SecretStr("123456"), phone="231880000000"), device=DEVICE
                ),
            )
        ),
    ),
    (
        "transfer",
        "/v1/executions/transfer",
        lambda c: c.executions.transfer(TransferExecute(session_id=1, reference_id=REF)),
    ),
    (
        "refund",
        "/v1/executions/refund",
        lambda c: c.executions.refund(RefundExecute(session_id=1, reference_id=REF)),
    ),
    (
        "realtime",
        "/v1/realtime-keys/collection",
        lambda c: c.realtime_keys.collection(
            RealtimeKeyCreate(session_id=55, source_type=SourceType.INVOICE, reference_id=REF)
        ),
    ),
]

FAILURES: list[tuple[str, object, type[Exception], bool]] = [
    ("503", respond(503), ServerError, True),
    ("500", respond(500, "<html>oops</html>"), ServerError, True),
    ("429", respond(429, headers={"Retry-After": "1"}), RateLimitError, False),
    ("read timeout", request_error(httpx.ReadTimeout), DollrTimeout, True),
    ("write timeout", request_error(httpx.WriteTimeout), DollrTimeout, True),
    ("dropped", request_error(httpx.RemoteProtocolError), NetworkError, True),
    ("connect error", request_error(httpx.ConnectError), NetworkError, False),
    ("connect timeout", request_error(httpx.ConnectTimeout), DollrTimeout, False),
]


@pytest.mark.parametrize(("kind", "path", "call"), EXECUTIONS, ids=[e[0] for e in EXECUTIONS])
@pytest.mark.parametrize(("name", "step", "error", "unknown"), FAILURES, ids=[f[0] for f in FAILURES])
def test_executions_are_never_retried(
    client: DollrClient,
    fake: FakeDollr,
    sleeps: list[float],
    kind: str,
    path: str,
    call: Callable[[DollrClient], object],
    name: str,
    step: httpx.Response | Exception,
    error: type[Exception],
    unknown: bool,
) -> None:
    fake.on("POST", path, step, respond(200, OK_EXECUTION | {"access_token": "x", "expires_in": 300}))
    with pytest.raises(error) as caught:
        call(client)
    assert len(fake.calls(path)) == 1
    assert sleeps == []
    assert isinstance(caught.value, DollrError) and caught.value.outcome_unknown is unknown


def test_status_lookup_is_retried(client: DollrClient, fake: FakeDollr, sleeps: list[float]) -> None:
    path = f"/v1/status/payout/{REF}"
    fake.on("GET", path, request_error(httpx.ReadTimeout), respond(503), respond(200, OK_EXECUTION))
    assert client.status.execution(OperationType.PAYOUT, REF).reference_id == REF
    assert len(fake.calls(path)) == 3 and sleeps == [1.0, 2.0]
