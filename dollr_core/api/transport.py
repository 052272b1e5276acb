"""Sending requests to Dollr and deciding retries. The only module that touches the network.

Retry policy (see `Retry` and `should_retry`):

================  ===============  ============  =====  =====  ===========
call              connect error*   read timeout  429    5xx    401
================  ===============  ============  =====  =====  ===========
SAFE (GET, A1)    retry            retry         retry  retry  refresh+replay once
CREATE (writes)   retry            raise         retry  raise  refresh+replay once
NEVER (E1–E4,R1)  raise            raise         raise  raise  refresh+replay once
================  ===============  ============  =====  =====  ===========

\\* ConnectError, ConnectTimeout, PoolTimeout: the request provably never left this process.
A 401 means Dollr refused the request before acting on it, so the single replay with a fresh
token is safe for every call. Backoff: `min(1 s · 2^(n-1), 8 s) × U[0.5, 1]`; a `Retry-After`
(seconds or HTTP date) up to 60 s is waited exactly, a longer one is not waited at all.

A 429 quiets the whole client, not just the call that got it: every sender of this client waits
until Dollr's `Retry-After` (or the backoff) has passed before its next request, so one answer
slows the many threads a bulk batch or a team of operators share (`Sender.hold_all`; waits of
up to `HOLD_ALL_AT_MOST`, longer ones are raised to the caller as before). From the first 429 on,
the client's requests also leave at the rate Dollr was found to accept (`pacing.RatePacer`).
"""

from __future__ import annotations

import email.utils
import enum
import functools
import json
import logging
import random
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import httpx

from dollr_core.api.auth import TokenCache
from dollr_core.api.connections import Http11Transport
from dollr_core.api.errors import (
    DollrError,
    DollrTimeout,
    NetworkError,
    UnexpectedResponseError,
    error_from_response,
)
from dollr_core.api.models import RequestModel
from dollr_core.api.pacing import RatePacer, answered_in
from dollr_core.api.server_clock import ServerClock
from dollr_core.basics.phone import mask_phone
from dollr_core.basics.redact import PHONE_KEYS, RedactingFilter, redact_text, redact_value

__all__ = [
    "INITIAL_DELAY",
    "MAX_DELAY",
    "MAX_RETRY_AFTER",
    "ClientStats",
    "HttpClient",
    "Retry",
    "Sender",
    "backoff_delay",
    "encode_json",
    "environment_proxy",
    "parse_retry_after",
    "should_retry",
]

logger = logging.getLogger("dollr_core.api.client")
_log_filter = RedactingFilter()
# Redacted in httpx's and httpcore's loggers too, should they ever log a URL (PR3 carries a phone
# in its query); httpx.Client logged each one at INFO.
for _name in ("dollr_core.api.client", "httpx", "httpcore"):
    logging.getLogger(_name).addFilter(_log_filter)

INITIAL_DELAY = 1.0
MAX_DELAY = 8.0
#: The longest 429 wait that quiets every sender of the client (`Sender.hold_all`). A longer one
#: is the caller's to keep (the protocol's `retry_not_before`): a page must not hang for it.
HOLD_ALL_AT_MOST = 5.0

#: The longest `Retry-After` the client waits; beyond it the error is raised at once.
MAX_RETRY_AFTER = 60.0


class Retry(enum.Enum):
    """How a call may be retried (module docstring has the table)."""

    SAFE = "safe"
    CREATE = "create"
    NEVER = "never"


class Failure(enum.Enum):
    CONNECT = "connect"  # never left: ConnectError / ConnectTimeout / PoolTimeout
    NETWORK = "network"  # may have reached Dollr: read/write errors and timeouts, dropped responses
    RATE_LIMITED = "429"
    SERVER = "5xx"


def should_retry(policy: Retry, failure: Failure) -> bool:
    """The retry table as a function."""
    if policy is Retry.SAFE:
        return True
    if policy is Retry.CREATE:
        return failure in (Failure.CONNECT, Failure.RATE_LIMITED)
    return False


def backoff_delay(retry_number: int, rng: Callable[[], float] = random.random) -> float:
    """Delay before retry `retry_number` (1-based): `min(1·2^(n-1), 8) × U[0.5, 1]`."""
    base: float = min(INITIAL_DELAY * 2.0 ** (retry_number - 1), MAX_DELAY)
    return base * (0.5 + 0.5 * rng())


def parse_retry_after(headers: Mapping[str, str], now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` as seconds or an HTTP date."""
    raw_ms = headers.get("retry-after-ms")
    if raw_ms:
        try:
            value = float(raw_ms) / 1000
            if value >= 0:
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        seconds = float(raw)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(raw)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now())
    return seconds if seconds >= 0 else None


# --- JSON ----------------------------------------------------------------------------------------


def encode_json(value: Any) -> bytes:
    """JSON with Decimals written as numbers with exactly their digits (`250.00` stays `250.00`)."""
    return _encode(value).encode("utf-8")


def _encode(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError("cannot send a non-finite amount")
        return format(value, "f")
    if isinstance(value, int):
        return str(int(value))
    if isinstance(value, float):
        return json.dumps(value, allow_nan=False)
    if isinstance(value, str):
        return json.dumps(str(value), ensure_ascii=False)
    if isinstance(value, Mapping):
        return "{" + ",".join(f"{json.dumps(str(k))}:{_encode(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ",".join(_encode(v) for v in value) + "]"
    raise TypeError(f"cannot encode {type(value).__name__} as JSON")


def decode_json(content: bytes) -> Any:
    """JSON with every non-integer number as an exact Decimal."""
    return json.loads(content, parse_float=Decimal)


# --- stats ---------------------------------------------------------------------------------------


class ClientStats:
    """Thread-safe counters: HTTP requests sent (retries included) and token requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests = 0
        self._token_requests = 0
        self._retries = 0
        self._rate_limited_retries = 0
        self.last_success_at: float | None = None
        self.last_failure_at: float | None = None

    @property
    def requests(self) -> int:
        return self._requests

    @property
    def token_requests(self) -> int:
        return self._token_requests

    @property
    def retries(self) -> int:
        return self._retries

    @property
    def refusals(self) -> int:
        """Retries of calls Dollr failed to answer (5xx, network), not of 429s: what a bulk job's
        concurrency slows down for (`bulk/pace.py`); the rate is the pacer's (`pacing.py`)."""
        return self._retries - self._rate_limited_retries

    def record_request(self, *, token: bool = False, retry: Failure | None = None) -> None:
        """One request sent; `retry` says why it is sent again (None: the first time)."""
        with self._lock:
            self._requests += 1
            if token:
                self._token_requests += 1
            if retry is not None:
                self._retries += 1
                if retry is Failure.RATE_LIMITED:
                    self._rate_limited_retries += 1

    def record_answer(self, answered: bool) -> None:
        """Whether Dollr answered (any HTTP status below 500): the console's health light."""
        now = time.time()
        with self._lock:
            if answered:
                self.last_success_at = now
            else:
                self.last_failure_at = now

    def __repr__(self) -> str:
        return f"ClientStats(requests={self._requests}, token_requests={self._token_requests})"


# --- sending -------------------------------------------------------------------------------------

_NEVER_LEFT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.UnsupportedProtocol)


def _display_path(path: str, params: Mapping[str, str] | None) -> str:
    if params:
        shown = "&".join(
            f"{quote(k, safe='')}={mask_phone(v) if k in PHONE_KEYS else quote(v, safe='')}"
            for k, v in params.items()
        )
        path = f"{path}?{shown}"
    return redact_text(path)


def environment_proxy(url: httpx.URL) -> str | None:
    """The proxy the environment names for `url` (HTTPS_PROXY, HTTP_PROXY or ALL_PROXY, unless
    NO_PROXY names its host), as `urllib` reads those variables; None to connect directly."""
    proxies = urllib.request.getproxies()
    proxy = proxies.get(url.scheme) or proxies.get("all")
    if not proxy or urllib.request.proxy_bypass(url.host):
        return None
    return proxy if "://" in proxy else f"http://{proxy}"


def _direct_or_proxied(base_url: httpx.URL, limits: httpx.Limits) -> httpx.BaseTransport:
    """Our own HTTP/1.1 connections (`connections.Http11Transport`, half httpcore's CPU per
    request), or httpx's transport through the proxy the environment names, which it knows how
    to reach (tunnels, proxy authentication)."""
    proxy = environment_proxy(base_url)
    if proxy is None:
        return Http11Transport(limits=limits)
    return httpx.HTTPTransport(limits=limits, proxy=proxy)


class HttpClient:
    """A transport with httpx's interface and exceptions (`_direct_or_proxied`) under Dollr's
    base URL, with the headers and timeouts every request takes.

    Not an `httpx.Client`: its per-request layers (merging URLs, headers, cookies and timeouts,
    the auth and redirect flows, event hooks) cost 0.3-0.4 ms of CPU a call on our bench
    machine, a fifth of a call's, and the Dollr client uses none of them: it authenticates by a
    bearer token the `Sender` sets, follows no redirect (a 3xx is an answer like any other) and
    keeps no cookies. A proxy in the environment is used as `httpx.Client` would
    (`environment_proxy`).
    """

    #: What `httpx.Client` sent with every request, kept so Dollr sees the same requests.
    DEFAULT_HEADERS: Mapping[str, str] = {
        "Accept": "*/*",
        "Accept-Encoding": "gzip, deflate",
        "Connection": "keep-alive",
    }

    def __init__(
        self,
        base_url: str,
        *,
        timeout: httpx.Timeout,
        limits: httpx.Limits,
        headers: Mapping[str, str],
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        url = httpx.URL(base_url)
        # As httpx.Client joins paths: the base URL's path is a directory.
        self.base_url = url if url.raw_path.endswith(b"/") else url.copy_with(raw_path=url.raw_path + b"/")
        self.timeout = timeout
        self.headers: Mapping[str, str] = {**self.DEFAULT_HEADERS, **headers}
        self.transport = transport or _direct_or_proxied(self.base_url, limits)
        self._extensions = {"timeout": timeout.as_dict()}
        self.is_closed = False

    def send(
        self, method: str, url: httpx.URL, *, headers: Mapping[str, str], content: bytes | None
    ) -> httpx.Response:
        """One request, its whole answer read. Raises `httpx.TransportError` as httpx.Client does."""
        request = httpx.Request(
            method, url, headers={**self.headers, **headers}, content=content, extensions=self._extensions
        )
        response = self.transport.handle_request(request)
        response.request = request
        try:
            response.read()
        finally:
            response.close()
        return response

    def close(self) -> None:
        self.is_closed = True
        self.transport.close()


class Sender:
    """Sends one logical request, with authentication, retries and error mapping."""

    def __init__(
        self,
        http: HttpClient,
        *,
        max_retries: int,
        sleep: Callable[[float], None],
        clock: Callable[[], float],
        rng: Callable[[], float],
        stats: ClientStats,
        secrets: Iterable[str] = (),
    ) -> None:
        self._http = http
        self._max_retries = max_retries
        self._sleep = sleep
        self._clock = clock
        self._rng = rng
        self._stats = stats
        #: Each path's full URL, joined as httpx joins it, once: parsing a URL is half of what
        #: building a request costs, and most calls go to a few paths.
        self._url_of = functools.lru_cache(maxsize=1024)(self._join)
        self._secrets_lock = threading.Lock()
        self._secrets: set[str] = {s for s in secrets if s}
        for secret in self._secrets:
            _log_filter.add_secret(secret)
        self.tokens: TokenCache | None = None
        self.server_clock = ServerClock()
        #: When this client's next request may leave: Dollr's 429 hold and the learned rate.
        self.pacer = RatePacer(clock=clock, sleep=sleep)

    def __repr__(self) -> str:
        return f"Sender(max_retries={self._max_retries})"

    def _join(self, path: str) -> httpx.URL:
        base = self._http.base_url
        return base.copy_with(raw_path=base.raw_path + httpx.URL(path).raw_path.lstrip(b"/"))

    def token_changed(self, old: str | None, new: str) -> None:
        """Keep the current token (and only it) in the redaction lists."""
        with self._secrets_lock:
            if old:
                self._secrets.discard(old)
            self._secrets.add(new)
        if old:
            _log_filter.discard_secret(old)
        _log_filter.add_secret(new)

    def hold_all(self, seconds: float) -> None:
        """Dollr said 429: no sender of this client sends anything for `seconds`."""
        self.pacer.hold(seconds)

    def _known_secrets(self) -> set[str]:
        with self._secrets_lock:
            return set(self._secrets)

    def request(
        self,
        method: str,
        path: str,
        *,
        retry: Retry,
        params: Mapping[str, str] | None = None,
        body: RequestModel | None = None,
        authenticated: bool = True,
        token_request: bool = False,
    ) -> Any:
        """Send and return the decoded JSON body of a 2xx response (None when empty)."""
        secrets = self._known_secrets()
        content: bytes | None = None
        if body is not None:
            secrets.update(body.secret_values())
            content = encode_json(body.to_body())
        # The path as logs and errors show it (phones masked, secrets redacted), made only when
        # one of them needs it: most answers are neither logged nor errors.
        shown = functools.partial(_display_path, path, params)
        attempt = 0
        retries = 0
        replayed = False
        retry_for: Failure | None = None  # why this request goes again
        while True:
            attempt += 1
            headers = {"Accept": "application/json"}
            if content is not None:
                headers["Content-Type"] = "application/json"
            token: str | None = None
            if authenticated:
                if self.tokens is None:
                    raise RuntimeError("Sender.tokens must be set for authenticated calls")
                token = self.tokens.get()
                secrets.add(token)
                headers["Authorization"] = f"Bearer {token}"
            url = self._url_of(path)
            if params:  # encoded as httpx.Client merged them; a path's own query is kept
                query = str(httpx.QueryParams(params)).encode()
                url = url.copy_with(raw_path=url.raw_path + (b"&" if url.query else b"?") + query)
            started = self.pacer.acquire()
            self._stats.record_request(token=token_request, retry=retry_for)
            retry_for = None
            try:
                response = self._http.send(method, url, headers=headers, content=content)
            except httpx.TransportError as exc:
                answered_in(self._clock() - started)
                self._stats.record_answer(False)
                failure = Failure.CONNECT if isinstance(exc, _NEVER_LEFT) else Failure.NETWORK
                self._log(method, shown, type(exc).__name__, started, attempt)
                if retries < self._max_retries and should_retry(retry, failure):
                    retries += 1
                    retry_for = failure
                    self._sleep(backoff_delay(retries, self._rng))
                    continue
                raise _network_error(exc, failure, method, shown()) from exc
            answered_in(self._clock() - started)
            self.server_clock.observe(response.headers.get("date"))
            status = response.status_code
            if status == 429:
                self.pacer.refused(started)
            self._stats.record_answer(status < 500)
            self._log(method, shown, str(status), started, attempt)
            if 200 <= status < 300:
                return self._decode_success(response, method, shown)
            if status == 401 and authenticated and not replayed and token is not None and self.tokens:
                replayed = True
                self.tokens.refresh_after_rejection(token)
                continue
            error_body = redact_value(_decode_error_body(response), secrets)
            retry_after = parse_retry_after(response.headers) if status in (429, 503) else None
            failure_kind = (
                Failure.RATE_LIMITED if status == 429 else Failure.SERVER if status >= 500 else None
            )
            held = False  # a short 429 wait is the whole client's, waited before its next send
            if status == 429:
                waited = retry_after if retry_after is not None else backoff_delay(retries + 1, self._rng)
                held = waited <= HOLD_ALL_AT_MOST
                if held:
                    self.hold_all(waited)
            if (
                failure_kind is not None
                and retries < self._max_retries
                and should_retry(retry, failure_kind)
                and (retry_after is None or retry_after <= MAX_RETRY_AFTER)
            ):
                retries += 1
                retry_for = failure_kind
                if not held:
                    self._sleep(retry_after if retry_after is not None else backoff_delay(retries, self._rng))
                continue
            raise error_from_response(
                status,
                error_body,
                method=method,
                path=shown(),
                retry_after=retry_after,
                token_request=token_request,
            )

    def _decode_success(self, response: httpx.Response, method: str, shown: Callable[[], str]) -> Any:
        if not response.content.strip():
            return None
        try:
            return decode_json(response.content)
        except ValueError:
            raise UnexpectedResponseError(
                "Dollr answered with a body that is not JSON.",
                outcome_unknown=method != "GET",
                method=method,
                path=shown(),
                status=response.status_code,
                body=redact_value(response.text[:500], self._known_secrets()),
            ) from None

    def _log(self, method: str, shown: Callable[[], str], outcome: str, started: float, attempt: int) -> None:
        if not logger.isEnabledFor(logging.INFO):
            return
        elapsed_ms = max(0.0, (self._clock() - started) * 1000)
        logger.info("%s %s -> %s in %.0f ms (attempt %d)", method, shown(), outcome, elapsed_ms, attempt)


def _decode_error_body(response: httpx.Response) -> Any:
    if not response.content:
        return None
    try:
        return decode_json(response.content)
    except ValueError:
        return response.text[:1000]


def _network_error(exc: httpx.TransportError, failure: Failure, method: str, shown: str) -> DollrError:
    never_left = failure is Failure.CONNECT
    if isinstance(exc, httpx.TimeoutException):
        if never_left:
            message = "Could not connect to Dollr in time; the request was not sent."
        else:
            message = (
                "Dollr did not answer in time; the request may have reached Dollr, so its outcome is unknown."
            )
        return DollrTimeout(message, may_have_reached_dollr=not never_left, method=method, path=shown)
    if never_left:
        message = "Could not connect to Dollr; the request was not sent."
    else:
        message = (
            f"The connection to Dollr failed mid-request ({type(exc).__name__}); the request may have"
            " reached Dollr, so its outcome is unknown."
        )
    return NetworkError(message, may_have_reached_dollr=not never_left, method=method, path=shown)
