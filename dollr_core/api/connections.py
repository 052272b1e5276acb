"""HTTP/1.1 connections to Dollr: a pool of kept-alive `http.client` connections behind httpx's
transport interface, raising httpx's exceptions.

Why not httpx's own transport (httpcore over h11): on our bench machine a GET through the client's
`HttpClient` costs about 290 µs of CPU on loopback over it, and about 200 µs over this
(`bench.ledger_parts`), httpx's request and response objects included. Every Dollr call goes
through here, and the client needs only a small part of HTTP: HTTP/1.1, TLS, keep-alive and
timeouts. The standard library's `http.client` does the protocol; this module keeps the
connections and says what a failure means. A proxy named in the environment is left to httpx's
transport (`transport.HttpClient` chooses), which knows proxies.

What a failure means is what the retry table reads (`transport.Sender`), so each exception keeps
httpx's meaning:

- `httpx.PoolTimeout`: no connection was free in time. Nothing was sent.
- `httpx.ConnectTimeout`, `httpx.ConnectError`: the connection or its TLS handshake was not
  made. Nothing was sent.
- Anything after that may have reached Dollr: `WriteTimeout` and `WriteError` while sending,
  `ReadTimeout`, `ReadError` and `RemoteProtocolError` while waiting or reading.

A kept-alive connection that the server has closed is found before it is used: it reads as
ready, with its end of file. httpcore finds it the same way. A connection closed at the very
instant it is reused fails as "may have reached Dollr", never as "not sent".

Request extensions: `timeout` (httpx's `connect`, `read`, `write` and `pool`, in seconds), and
`trace`, called with httpcore's event names for the request's headers sent and the response's
headers received (what `bench.common.WireTimer` times).
"""

from __future__ import annotations

import http.client
import select
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx

__all__ = ["Http11Transport"]

_Origin = tuple[str, str, int]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def _closed_by_peer(sock: socket.socket | None) -> bool:
    """Whether an idle connection's socket has something to read: its end of file (the server
    closed it) or bytes nobody asked for. Either way, it must not carry another request."""
    if sock is None or sock.fileno() < 0:
        return True
    if sys.platform == "win32" or not hasattr(select, "poll"):
        return bool(select.select([sock], [], [], 0)[0])
    poller = select.poll()
    poller.register(sock, select.POLLIN)
    return bool(poller.poll(0))


class _Idle:
    __slots__ = ("connection", "since")

    def __init__(self, connection: http.client.HTTPConnection, since: float) -> None:
        self.connection = connection
        self.since = since


class Http11Transport(httpx.BaseTransport):
    """Kept-alive HTTP/1.1 connections, at most `limits.max_connections` in use at once.

    Thread-safe. Each request takes one connection for its whole exchange and gives it back
    once the answer has been read, unless either side asked to close it.
    """

    def __init__(self, *, limits: httpx.Limits, ssl_context: ssl.SSLContext | None = None) -> None:
        self._in_use = threading.BoundedSemaphore(limits.max_connections) if limits.max_connections else None
        self._keep_at_most = limits.max_keepalive_connections
        self._keep_for = limits.keepalive_expiry
        self._ssl_context = ssl_context
        self._lock = threading.Lock()
        self._idle: dict[_Origin, list[_Idle]] = {}
        self._closed = False

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        timeouts: dict[str, float | None] = request.extensions.get("timeout", {})
        url = request.url
        if url.scheme not in _DEFAULT_PORTS:
            raise httpx.UnsupportedProtocol(f"Dollr is reached over http or https, not {url.scheme!r}.")
        origin = (url.scheme, url.host, url.port or _DEFAULT_PORTS[url.scheme])
        pool = timeouts.get("pool")
        if self._in_use is not None and not self._in_use.acquire(timeout=pool):  # None: as long as it takes
            raise httpx.PoolTimeout("No connection to Dollr was free in time.", request=request)
        try:
            connection = self._take_idle(origin) or self._connect(origin, timeouts, request)
            try:
                response = self._exchange(connection, request, timeouts)
            except BaseException:
                connection.close()
                raise
            if connection.sock is None:  # the answer said Connection: close (http.client closed it)
                connection.close()
            else:
                self._give_back(origin, connection)
        finally:
            if self._in_use is not None:
                self._in_use.release()
        return response

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle = [entry for entries in self._idle.values() for entry in entries]
            self._idle.clear()
        for entry in idle:
            entry.connection.close()

    def _take_idle(self, origin: _Origin) -> http.client.HTTPConnection | None:
        """The most recently used idle connection to `origin` that is still good; the rest of
        those looked at are closed."""
        now = time.monotonic()
        stale: list[http.client.HTTPConnection] = []
        found = None
        with self._lock:
            entries = self._idle.get(origin)
            while entries:
                entry = entries.pop()
                expired = self._keep_for is not None and now - entry.since > self._keep_for
                if expired or _closed_by_peer(entry.connection.sock):
                    stale.append(entry.connection)
                    continue
                found = entry.connection
                break
        for connection in stale:
            connection.close()
        return found

    def _give_back(self, origin: _Origin, connection: http.client.HTTPConnection) -> None:
        with self._lock:
            kept = sum(len(entries) for entries in self._idle.values())
            if not self._closed and (self._keep_at_most is None or kept < self._keep_at_most):
                self._idle.setdefault(origin, []).append(_Idle(connection, time.monotonic()))
                return
        connection.close()

    def _connect(
        self, origin: _Origin, timeouts: dict[str, float | None], request: httpx.Request
    ) -> http.client.HTTPConnection:
        scheme, host, port = origin
        connection: http.client.HTTPConnection
        if scheme == "https":
            connection = http.client.HTTPSConnection(
                host, port, timeout=timeouts.get("connect"), context=self._tls()
            )
        else:
            connection = http.client.HTTPConnection(host, port, timeout=timeouts.get("connect"))
        connection.auto_open = 0  # never reconnect behind our back: a connect is ours to classify
        try:
            connection.connect()  # TCP, then the TLS handshake: no byte of the request yet
        except TimeoutError as exc:
            connection.close()
            raise httpx.ConnectTimeout(str(exc) or "connecting timed out", request=request) from exc
        except OSError as exc:  # refused, unreachable, no such host, a TLS failure
            connection.close()
            raise httpx.ConnectError(str(exc), request=request) from exc
        return connection

    def _tls(self) -> ssl.SSLContext:
        """httpx's default TLS context (certifi's roots, SSL_CERT_FILE honoured), made once."""
        if self._ssl_context is None:
            self._ssl_context = httpx.create_ssl_context()
        return self._ssl_context

    def _exchange(
        self,
        connection: http.client.HTTPConnection,
        request: httpx.Request,
        timeouts: dict[str, float | None],
    ) -> httpx.Response:
        trace: Callable[[str, dict[str, Any]], None] | None = request.extensions.get("trace")
        sock = connection.sock
        assert sock is not None  # connected, or taken from the pool only while open
        sock.settimeout(timeouts.get("write"))
        if trace is not None:
            trace("http11.send_request_headers.started", {"request": request})
        try:
            connection.putrequest(
                request.method,
                request.url.raw_path.decode("ascii"),
                skip_host=True,
                skip_accept_encoding=True,
            )
            for name, value in request.headers.raw:
                connection.putheader(name, value)
            connection.endheaders(request.content or None)
        except TimeoutError as exc:
            raise httpx.WriteTimeout(str(exc) or "sending timed out", request=request) from exc
        except (OSError, http.client.HTTPException) as exc:
            raise httpx.WriteError(str(exc) or type(exc).__name__, request=request) from exc
        sock.settimeout(timeouts.get("read"))
        try:
            answer = connection.getresponse()
            if trace is not None:
                trace("http11.receive_response_headers.complete", {"request": request})
            body = answer.read()
        except TimeoutError as exc:
            raise httpx.ReadTimeout(str(exc) or "reading timed out", request=request) from exc
        except http.client.RemoteDisconnected as exc:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            ) from exc
        except http.client.IncompleteRead as exc:
            raise httpx.RemoteProtocolError(
                "peer closed connection without sending complete message body", request=request
            ) from exc
        except http.client.HTTPException as exc:
            raise httpx.RemoteProtocolError(str(exc) or type(exc).__name__, request=request) from exc
        except OSError as exc:
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        headers = [(name.encode("latin-1"), value.encode("latin-1")) for name, value in answer.getheaders()]
        return httpx.Response(
            answer.status,
            headers=headers,
            stream=httpx.ByteStream(body),  # as received: httpx decodes gzip and deflate when read
            extensions={"http_version": b"HTTP/1.1", "reason_phrase": answer.reason.encode("latin-1")},
            request=request,
        )
