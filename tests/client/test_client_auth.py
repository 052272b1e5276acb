"""Token caching, proactive refresh, the single refresh under concurrency, 401 refresh-once."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType

import httpx
import pytest

from dollr_core.api.auth import TokenCache
from dollr_core.api.client import DollrClient
from dollr_core.api.errors import AuthenticationError, NetworkError
from dollr_core.api.models import TokenResponse

from .fakes import TOKEN_PATH, FakeClock, FakeDollr, request_error, respond, token_value


def test_token_is_obtained_once_and_reused(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("GET", "/v1/parties/list", respond(200, []))
    for _ in range(5):
        client.parties.list()
    assert fake.tokens_issued == 1
    assert client.stats.token_requests == 1 and client.stats.requests == 6
    assert {c.authorization for c in fake.calls()} == {f"Bearer {token_value(1)}"}
    token_call = fake.token_calls()[0]
    assert token_call.body == {"client_id": "cid_123", "client_secret": "cs_live_Very-Secret-Value-42"}
    assert token_call.authorization is None


def test_proactive_refresh_when_under_five_minutes_remain(
    client: DollrClient, fake: FakeDollr, clock: FakeClock
) -> None:
    fake.on("GET", "/v1/parties/list", respond(200, []))
    client.parties.list()
    clock.advance(54 * 60 + 59)  # 5 min 1 s left: keep it
    client.parties.list()
    assert fake.tokens_issued == 1
    clock.advance(2)  # 4 min 59 s left: refresh before using it
    client.parties.list()
    assert fake.tokens_issued == 2
    assert fake.calls()[-1].authorization == f"Bearer {token_value(2)}"
    clock.advance(60)
    client.parties.list()
    assert fake.tokens_issued == 2


def test_expires_in_is_minutes(client: DollrClient, fake: FakeDollr, clock: FakeClock) -> None:
    fake.expires_in = 10  # ten minutes: refresh at 5 minutes left
    fake.on("GET", "/v1/parties/list", respond(200, []))
    client.parties.list()
    clock.advance(4 * 60)
    client.parties.list()
    assert fake.tokens_issued == 1
    clock.advance(61)
    client.parties.list()
    assert fake.tokens_issued == 2


class CountingLock:
    """A lock that reports how many threads have tried to take it."""

    def __init__(self, expected: int) -> None:
        self._lock = threading.Lock()
        self._count_lock = threading.Lock()
        self.attempts = 0
        self.expected = expected
        self.all_arrived = threading.Event()

    def __enter__(self) -> CountingLock:
        with self._count_lock:
            self.attempts += 1
            if self.attempts >= self.expected:
                self.all_arrived.set()
        self._lock.acquire()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._lock.release()


def test_twenty_threads_cause_exactly_one_token_request(client: DollrClient, fake: FakeDollr) -> None:
    threads_n = 20
    lock = CountingLock(threads_n)
    client._tokens._lock = lock  # type: ignore[assignment]
    # The token answer is held back until every thread is queued on the refresh lock.
    fake.token_gate = lambda: lock.all_arrived.wait(timeout=5)
    fake.on("GET", "/v1/parties/list", respond(200, []))
    start = threading.Barrier(threads_n)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            start.wait(timeout=5)
            client.parties.list()
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(threads_n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)
    assert not errors
    assert lock.all_arrived.is_set()
    assert fake.tokens_issued == 1
    assert client.stats.token_requests == 1
    assert client.stats.requests == threads_n + 1
    assert len(fake.calls("/v1/parties/list")) == threads_n


def test_401_refreshes_once_and_replays(client: DollrClient, fake: FakeDollr) -> None:
    fake.on(
        "GET",
        "/v1/parties/retrieve/42",
        respond(401, {"detail": "Could not validate credentials"}),
        respond(200, {"id": 42, "fullname": "A", "phone": "231771234567"}),
    )
    party = client.parties.retrieve(42)
    assert party.id == 42
    assert fake.tokens_issued == 2
    assert [c.authorization for c in fake.calls()] == [f"Bearer {token_value(1)}", f"Bearer {token_value(2)}"]


def test_second_401_raises_authentication_error(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("GET", "/v1/parties/retrieve/42", respond(401, {"detail": "Could not validate credentials"}))
    with pytest.raises(AuthenticationError) as caught:
        client.parties.retrieve(42)
    assert len(fake.calls()) == 2 and fake.tokens_issued == 2
    assert caught.value.status == 401 and "Could not validate credentials" in caught.value.message
    assert not caught.value.outcome_unknown


def test_401_replay_also_applies_to_executions(client: DollrClient, fake: FakeDollr) -> None:
    from dollr_core.api.models import TransferExecute

    ref = "550e8400-e29b-41d4-a716-446655440000"
    fake.on(
        "POST",
        "/v1/executions/transfer",
        respond(401, {"detail": "Not authenticated"}),
        respond(200, {"reference_id": ref, "status": "PENDING"}),
    )
    execution = client.executions.transfer(TransferExecute(session_id=5, reference_id=ref))
    assert execution.reference_id == ref and len(fake.calls()) == 2


def test_bad_credentials(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("POST", TOKEN_PATH, respond(401, {"detail": "Invalid client credentials"}))
    with pytest.raises(AuthenticationError) as caught:
        client.parties.list()
    assert "client id and client secret" in caught.value.message
    assert fake.calls() == [] and len(fake.token_calls()) == 1


def test_token_call_is_retried_on_5xx_and_network_errors(
    client: DollrClient, fake: FakeDollr, sleeps: list[float]
) -> None:
    fake.on(
        "POST",
        TOKEN_PATH,
        respond(503),
        request_error(httpx.ReadTimeout),
        respond(200, {"access_token": token_value(9), "expires_in": 60}),
    )
    fake.on("GET", "/v1/fees/tiers", respond(200, []))
    assert client.fees.tiers() == []
    assert len(fake.token_calls()) == 3 and client.stats.token_requests == 3
    assert sleeps == [1.0, 2.0]


def test_token_connect_failure_means_call_never_sent(client: DollrClient, fake: FakeDollr) -> None:
    fake.on("POST", TOKEN_PATH, request_error(httpx.ConnectError))
    with pytest.raises(NetworkError) as caught:
        client.parties.list()
    assert caught.value.may_have_reached_dollr is False and caught.value.outcome_unknown is False
    assert fake.calls() == []


# --- the cache on its own -------------------------------------------------------------------------


def make_cache(clock: Callable[[], float], minutes: int = 60) -> tuple[TokenCache, list[str]]:
    issued: list[str] = []

    def fetch() -> TokenResponse:
        issued.append(f"t{len(issued) + 1}")
        return TokenResponse.model_validate({"access_token": issued[-1], "expires_in": minutes})

    return TokenCache(fetch, clock), issued


def test_concurrent_rejections_of_the_same_token_refresh_once() -> None:
    clock = FakeClock()
    cache, issued = make_cache(clock)
    first = cache.get()
    assert cache.refresh_after_rejection(first) == "t2"
    assert cache.refresh_after_rejection(first) == "t2"  # another thread already refreshed
    assert issued == ["t1", "t2"]
    assert cache.refresh_after_rejection("t2") == "t3"


def test_short_lived_tokens_do_not_refresh_on_every_call() -> None:
    clock = FakeClock()
    cache, issued = make_cache(clock, minutes=4)
    cache.get()
    clock.advance(60)
    cache.get()
    assert issued == ["t1"]
    clock.advance(61)  # past half of its 4 minutes
    cache.get()
    assert issued == ["t1", "t2"]
    assert "t2" not in repr(cache)
