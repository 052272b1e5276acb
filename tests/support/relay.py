"""A loopback HTTP relay between the client and the sandbox that misbehaves the way networks do.

Run as its own process (`python -m tests.support.relay --upstream URL`); it prints
`listening on PORT` once it serves. Requests are passed through to the upstream unless a rule
matches (method and a regular expression on the path), in which case the rule's action applies:

- ``hold``: keep the request `seconds`, then deliver it upstream anyway — long after the client
  gave up on it. The answer goes back only if the client is still listening.
- ``drop_answer``: deliver it, then close the client's connection without the answer.
- ``cut_request``: close the connection half-way through the request body; nothing is delivered.
- ``cut_answer``: deliver it, send the client half of the answer, then close.
- ``answer``: do not deliver; answer `status` with `body` instead (a gateway speaking for Dollr).

A rule applies to its first `times` matches (after skipping `skip`), then lapses. Control:
``POST /_relay/rules`` (a rule as JSON), ``DELETE /_relay/rules``, ``GET /_relay/state``
(``{"pending": held requests not yet delivered, "delivered": [{"method","path","rule"}...]}``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

ACTIONS = frozenset({"hold", "drop_answer", "cut_request", "cut_answer", "answer"})


@dataclass
class Rule:
    action: str
    path: str = ".*"
    method: str | None = None
    seconds: float = 0.0
    times: int = 1
    skip: int = 0
    status: int = 502
    body: str = ""
    content_type: str = "application/json"
    seen: int = field(default=0)

    def takes(self, method: str, path: str) -> bool:
        if self.method and self.method.upper() != method.upper():
            return False
        if not re.search(self.path, path):
            return False
        self.seen += 1
        return self.skip < self.seen <= self.skip + self.times


@dataclass
class Request:
    method: str
    path: str
    head: bytes  # request line and headers, without the final blank line
    length: int
    body: bytes = b""


class Relay:
    def __init__(self, upstream: str) -> None:
        parts = urlsplit(upstream)
        self.upstream_host = parts.hostname or "127.0.0.1"
        self.upstream_port = parts.port or 80
        self.rules: list[Rule] = []
        self.pending = 0
        self.delivered: list[dict[str, Any]] = []

    # --- one client connection, several requests (keep-alive) ---------------------------------

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                request = await _read_head(reader)
                if request is None:
                    break
                rule = None if request.path.startswith("/_relay/") else self._rule_for(request)
                if rule is not None and rule.action == "cut_request":
                    await reader.readexactly(request.length // 2)
                    break  # half the body arrived; nothing is delivered
                request.body = await reader.readexactly(request.length) if request.length else b""
                if request.path.startswith("/_relay/"):
                    await self._control(request, writer)
                elif not await self._relay(request, rule, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            writer.close()

    def _rule_for(self, request: Request) -> Rule | None:
        for rule in self.rules:
            if rule.takes(request.method, request.path):
                return rule
        return None

    async def _relay(self, request: Request, rule: Rule | None, writer: asyncio.StreamWriter) -> bool:
        """Carry out one request; False when the client connection is to be closed."""
        action = rule.action if rule else "pass"
        if action == "answer":
            assert rule is not None
            writer.write(_response(rule.status, rule.body.encode(), rule.content_type))
            await writer.drain()
            return True
        if action == "hold":
            assert rule is not None
            self.pending += 1
            try:
                await asyncio.sleep(rule.seconds)
                answer = await self._deliver(request, action)
            finally:
                self.pending -= 1
        else:
            answer = await self._deliver(request, action)
        if action == "drop_answer":
            return False
        if action == "cut_answer":
            writer.write(answer[: max(1, len(answer) // 2)])
            await writer.drain()
            return False
        writer.write(answer)
        await writer.drain()
        return True

    async def _deliver(self, request: Request, action: str) -> bytes:
        """Send the request upstream on a connection of its own and return the raw answer."""
        up_reader, up_writer = await asyncio.open_connection(self.upstream_host, self.upstream_port)
        try:
            head = _with_header(request.head, b"connection", b"close")
            up_writer.write(head + b"\r\n\r\n" + request.body)
            await up_writer.drain()
            answer = await up_reader.read(-1)
        finally:
            up_writer.close()
        self.delivered.append({"method": request.method, "path": request.path, "rule": action})
        return _keep_alive(answer)

    async def _control(self, request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "POST" and request.path == "/_relay/rules":
            spec = json.loads(request.body or b"{}")
            if spec.get("action") not in ACTIONS:
                writer.write(_response(422, b'{"detail": "unknown action"}'))
                await writer.drain()
                return
            self.rules.append(Rule(**spec))
            body = b"{}"
        elif request.method == "DELETE" and request.path == "/_relay/rules":
            self.rules.clear()
            self.delivered.clear()
            body = b"{}"
        else:
            body = json.dumps({"pending": self.pending, "delivered": self.delivered}).encode()
        writer.write(_response(200, body))
        await writer.drain()


async def _read_head(reader: asyncio.StreamReader) -> Request | None:
    """The request line and headers; the body is read by the caller (all of it, or half)."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    head = head[:-4]
    request_line, _, header_block = head.partition(b"\r\n")
    method, path, _ = request_line.decode("latin-1").split(" ", 2)
    length = 0
    for line in header_block.split(b"\r\n"):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value.strip())
    return Request(method=method, path=path, head=head, length=length)


def _with_header(head: bytes, name: bytes, value: bytes) -> bytes:
    lines = [line for line in head.split(b"\r\n") if line.partition(b":")[0].strip().lower() != name]
    return b"\r\n".join([*lines, name + b": " + value])


def _keep_alive(answer: bytes) -> bytes:
    """The upstream closed after answering; the client's connection stays open."""
    head, sep, body = answer.partition(b"\r\n\r\n")
    if not sep:
        return answer
    return _with_header(head, b"connection", b"keep-alive") + b"\r\n\r\n" + body


def _response(status: int, body: bytes, content_type: str = "application/json") -> bytes:
    head = (
        f"HTTP/1.1 {status} Relay\r\ncontent-type: {content_type}\r\n"
        f"content-length: {len(body)}\r\nconnection: keep-alive\r\n\r\n"
    )
    return head.encode() + body


async def _main(upstream: str, port: int) -> None:
    relay = Relay(upstream)
    server = await asyncio.start_server(relay.serve, "127.0.0.1", port)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening on {bound}", flush=True)
    async with server:
        await server.serve_forever()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--upstream", required=True)
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    try:
        asyncio.run(_main(args.upstream, args.port))
    except KeyboardInterrupt:
        sys.exit(0)


if __name__ == "__main__":
    main()
