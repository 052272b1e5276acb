"""The ASGI layer in front of every route: counting, injected faults, latency and the rate limit.

It is plain ASGI rather than ``BaseHTTPMiddleware`` because ``drop_response`` must control what
reaches the socket: the request is carried out in full, the status line and headers (with their
Content-Length) go out, and then the connection is broken before any body byte. uvicorn closes
the transport when an application raises after starting a response, so the client sees a
transport error (httpx ``RemoteProtocolError``), never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import formatdate
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dollr_sandbox import tokens
from dollr_sandbox.encoding import dumps
from dollr_sandbox.faults import Fault, FaultAction
from dollr_sandbox.state import SandboxState

API_PREFIX = "/v1/"
_TOKEN_PATH = "/v1/jwt/"


class ResponseDropped(Exception):
    """Raised on purpose to make the server abandon a response half-way (fault ``drop_response``)."""


class _QuietDrops(logging.Filter):
    """Keep uvicorn from logging an intentional drop as an application crash."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, ResponseDropped)


logging.getLogger("uvicorn.error").addFilter(_QuietDrops())


class SandboxMiddleware:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        send = self._dated(send)
        path: str = scope["path"]
        self.state.stats.count(path)
        if not path.startswith(API_PREFIX):
            await self.app(scope, receive, send)
            return
        fault = self.state.faults.take(path)
        if fault is not None and fault.action in (FaultAction.STATUS, FaultAction.RATE_LIMIT):
            await _injected(fault, send)
            return
        delay_ms = self.state.config.latency_ms
        if fault is not None and fault.action is FaultAction.LATENCY:
            delay_ms += fault.ms
        if delay_ms > 0:
            # An async sleep, outside the state lock: concurrent requests wait in parallel.
            await asyncio.sleep(delay_ms / 1000)
        if not path.startswith(_TOKEN_PATH):
            retry_after = self._over_limit(scope)
            if retry_after is not None:
                self.state.stats.count_rate_limited()
                await _respond(
                    send,
                    429,
                    {"detail": "Too Many Requests: rate limit exceeded"},
                    [(b"retry-after", str(retry_after).encode())],
                )
                return
        if fault is not None and fault.action is FaultAction.DROP_RESPONSE:
            await self._drop(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _dated(self, send: Send) -> Send:
        """Every response carries `Date` by the sandbox clock, as a real server's carries its own:
        clients measure Dollr's clock from it, so moving the sandbox clock must show there too."""

        async def with_date(message: Message) -> None:
            if message["type"] == "http.response.start":
                date = formatdate(self.state.now().timestamp(), usegmt=True).encode()
                headers = [(k, v) for k, v in message.get("headers", []) if k.lower() != b"date"]
                message = {**message, "headers": [*headers, (b"date", date)]}
            await send(message)

        return with_date

    def _over_limit(self, scope: Scope) -> int | None:
        """One window per merchant, whichever of its tokens is used; a fresh token is no way out."""
        headers = dict(scope.get("headers") or [])
        token = tokens.bearer_token(headers.get(b"authorization", b"").decode("latin-1"))
        merchant = tokens.merchant_of(self.state, token) if token else None
        client = scope.get("client")
        key = f"merchant:{merchant}" if merchant is not None else f"client:{client[0] if client else '-'}"
        config = self.state.config
        window = config.rate_limit_window_seconds
        return self.state.limiter.hit(key, config.rate_limit_per_minute, window=window)

    async def _drop(self, scope: Scope, receive: Receive, send: Send) -> None:
        start: list[Message] = []

        async def hold_back(message: Message) -> None:
            if message["type"] == "http.response.start":
                start.append(message)

        await self.app(scope, receive, hold_back)
        if start:
            await send(start[0])
        raise ResponseDropped(f"response to {scope['path']} dropped on purpose")


async def _injected(fault: Fault, send: Send) -> None:
    if fault.action is FaultAction.RATE_LIMIT:
        await _respond(
            send,
            429,
            {"detail": "Too Many Requests (injected fault)"},
            [(b"retry-after", str(fault.retry_after).encode())],
        )
    else:
        await _respond(send, fault.status, {"detail": f"Injected fault: HTTP {fault.status}"}, [])


async def _respond(send: Send, status: int, body: Any, headers: list[tuple[bytes, bytes]]) -> None:
    content = dumps(body)
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(content)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": content})
