"""A scripted fake of Dollr on `httpx.MockTransport`, and fake time."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import httpx

from dollr_core.api.transport import encode_json

SECRET = "cs_live_Very-Secret-Value-42"
TOKEN_PATH = "/v1/jwt/client/obtain/token"

Handler = Callable[[httpx.Request], httpx.Response]
Step = httpx.Response | Exception | Handler


def token_value(n: int) -> str:
    return f"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ0b2tlbi0{n}.c2lnbmF0dXJl{n}"


def respond(status: int = 200, body: Any = None, *, headers: dict[str, str] | None = None) -> httpx.Response:
    if isinstance(body, str | bytes):
        return httpx.Response(status, content=body, headers=headers)
    content = encode_json(body if body is not None else {})
    return httpx.Response(
        status, content=content, headers={"content-type": "application/json", **(headers or {})}
    )


@dataclass
class Seen:
    method: str
    path: str
    params: dict[str, str]
    body: Any
    raw_body: bytes
    authorization: str | None


@dataclass
class FakeDollr:
    """Routes `(method, path)` to scripted steps and records every request it gets.

    A route's steps are consumed in order (the last one repeats). A step is a response, an
    exception to raise (as httpx transports do) or a function of the request.
    """

    routes: dict[tuple[str, str], list[Step]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    tokens_issued: int = 0
    expires_in: int = 60
    token_gate: Callable[[], object] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, method: str, path: str, *steps: Step) -> FakeDollr:
        self.routes[(method, path)] = list(steps)
        return self

    def __call__(self, request: httpx.Request) -> httpx.Response:
        raw = request.read()
        body = json.loads(raw, parse_float=Decimal) if raw else None
        with self._lock:
            self.seen.append(
                Seen(
                    request.method,
                    request.url.path,
                    dict(request.url.params),
                    body,
                    raw,
                    request.headers.get("authorization"),
                )
            )
            steps = self.routes.get((request.method, request.url.path))
            step: Step | None = None
            if steps:
                step = steps.pop(0) if len(steps) > 1 else steps[0]
        if step is None and request.url.path == TOKEN_PATH:
            return self._issue_token()
        if step is None:
            return respond(404, {"detail": "Not Found"})
        if isinstance(step, Exception):
            raise step
        if isinstance(step, httpx.Response):
            return step
        return step(request)

    def _issue_token(self) -> httpx.Response:
        if self.token_gate is not None:
            self.token_gate()
        with self._lock:
            self.tokens_issued += 1
            n = self.tokens_issued
        return respond(200, {"access_token": token_value(n), "expires_in": self.expires_in})

    def calls(self, path: str | None = None) -> list[Seen]:
        """Requests other than the token call (optionally only those to `path`)."""
        return [s for s in self.seen if s.path != TOKEN_PATH and (path is None or s.path == path)]

    def token_calls(self) -> list[Seen]:
        return [s for s in self.seen if s.path == TOKEN_PATH]


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def request_error(kind: type[httpx.TransportError], message: str = "boom") -> httpx.TransportError:
    return kind(message, request=httpx.Request("GET", "https://dollr.test/"))
