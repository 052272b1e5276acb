"""`connections.Http11Transport` against a real server on loopback that answers, closes and
stalls as scripted by the request's path. Each failure must carry httpx's meaning, because the
retry table reads it: "never left" only when no byte of the request can have been sent."""

from __future__ import annotations

import datetime
import gzip
import ipaddress
import socket
import socketserver
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from pydantic import SecretStr

from dollr_core.api.client import DollrClient
from dollr_core.api.connections import Http11Transport
from dollr_core.api.errors import NetworkError
from dollr_core.api.transport import Retry
from dollr_core.config import Settings

LIMITS = httpx.Limits(max_connections=4, max_keepalive_connections=4)
TIMEOUTS = httpx.Timeout(connect=2.0, read=2.0, write=2.0, pool=2.0).as_dict()


class Scripted(socketserver.ThreadingTCPServer):
    """Answers by path: `/ok`, `/gzip`, `/chunked`; `/closes` answers then closes the connection
    without saying so; `/close-header` says `Connection: close`; `/drop` reads the request and
    closes without an answer; `/half` sends half the body; `/slow` waits `slow_seconds` (1 s) first."""

    daemon_threads = True
    allow_reuse_address = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.connections = 0
        self.received: list[str] = []
        self.tls: ssl.SSLContext | None = None
        self.slow_now = self.slow_at_most = 0  # `/slow` requests being answered at once
        self.slow_seconds = 1.0
        self.counting = threading.Lock()

    def handle_error(self, request: object, client_address: object) -> None:
        pass  # a client refusing this server's certificate ends its handshake: expected here

    @property
    def url(self) -> str:
        scheme = "https" if self.tls else "http"
        return f"{scheme}://127.0.0.1:{self.server_address[1]}"


class _Handler(socketserver.StreamRequestHandler):
    server: Scripted

    def setup(self) -> None:
        if self.server.tls is not None:
            self.request = self.server.tls.wrap_socket(self.request, server_side=True)
        super().setup()
        self.server.connections += 1

    def handle(self) -> None:
        while True:
            line = self.rfile.readline()
            if not line:
                return
            path = line.split()[1].decode()
            length = 0
            while (header := self.rfile.readline()) not in (b"\r\n", b""):
                name, _, value = header.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            self.rfile.read(length)
            self.server.received.append(path)
            if not self._answer(path):
                return

    def _answer(self, path: str) -> bool:
        """Answer `path`; False when the connection is to be closed."""
        body = b'{"ok": true}'
        if path == "/drop":
            return False
        if path == "/slow":
            with self.server.counting:
                self.server.slow_now += 1
                self.server.slow_at_most = max(self.server.slow_at_most, self.server.slow_now)
            time.sleep(self.server.slow_seconds)
            with self.server.counting:
                self.server.slow_now -= 1
        if path == "/gzip":
            packed = gzip.compress(body)
            self._send(b"Content-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(packed) + packed)
        elif path == "/chunked":
            self._send(
                b"Transfer-Encoding: chunked\r\n\r\n5\r\n"
                + body[:5]
                + b"\r\n7\r\n"
                + body[5:]
                + b"\r\n0\r\n\r\n"
            )
        elif path == "/half":
            self._send(b"Content-Length: %d\r\n\r\n" % len(body) + body[:4])
            return False
        elif path == "/close-header":
            self._send(b"Connection: close\r\nContent-Length: %d\r\n\r\n" % len(body) + body)
            return False
        else:
            self._send(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return path != "/closes"

    def _send(self, rest: bytes) -> None:
        self.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n" + rest)
        self.wfile.flush()


@pytest.fixture
def server() -> Iterator[Scripted]:
    scripted = Scripted()
    threading.Thread(target=scripted.serve_forever, daemon=True).start()
    yield scripted
    scripted.shutdown()
    scripted.server_close()


@pytest.fixture
def transport() -> Iterator[Http11Transport]:
    made = Http11Transport(limits=LIMITS)
    yield made
    made.close()


def _get(transport: httpx.BaseTransport, url: str, **timeouts: float) -> httpx.Response:
    request = httpx.Request("GET", url, extensions={"timeout": {**TIMEOUTS, **timeouts}})
    response = transport.handle_request(request)
    response.read()
    return response


def test_one_connection_carries_request_after_request(server: Scripted, transport: Http11Transport) -> None:
    for _ in range(5):
        assert _get(transport, f"{server.url}/ok").json() == {"ok": True}
    assert server.connections == 1


def test_a_connection_the_server_closed_while_idle_is_not_used_again(
    server: Scripted, transport: Http11Transport
) -> None:
    _get(transport, f"{server.url}/closes")
    time.sleep(0.1)  # the server's end of file has arrived: the idle connection reads as ready
    assert _get(transport, f"{server.url}/ok").status_code == 200
    assert server.connections == 2
    assert server.received == ["/closes", "/ok"]


def test_an_answer_that_says_close_closes_the_connection(
    server: Scripted, transport: Http11Transport
) -> None:
    _get(transport, f"{server.url}/close-header")
    assert _get(transport, f"{server.url}/ok").status_code == 200
    assert server.connections == 2


def test_gzip_and_chunked_answers_are_read_whole(server: Scripted, transport: Http11Transport) -> None:
    assert _get(transport, f"{server.url}/gzip").json() == {"ok": True}
    assert _get(transport, f"{server.url}/chunked").json() == {"ok": True}
    assert server.connections == 1


def test_a_refused_connection_never_left(transport: Http11Transport) -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]  # bound, not listening: connecting is refused
        with pytest.raises(httpx.ConnectError):
            _get(transport, f"http://127.0.0.1:{port}/ok")


def test_a_request_the_server_read_and_left_unanswered_may_have_reached_it(
    server: Scripted, transport: Http11Transport
) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _get(transport, f"{server.url}/drop")
    assert server.received == ["/drop"]


def test_half_an_answer_is_a_protocol_error(server: Scripted, transport: Http11Transport) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        _get(transport, f"{server.url}/half")


def test_an_answer_later_than_the_read_timeout(server: Scripted, transport: Http11Transport) -> None:
    with pytest.raises(httpx.ReadTimeout):
        _get(transport, f"{server.url}/slow", read=0.2)
    assert server.received == ["/slow"]


def test_no_free_connection_in_time_sends_nothing(server: Scripted) -> None:
    single = Http11Transport(limits=httpx.Limits(max_connections=1))
    busy = threading.Thread(target=_get, args=(single, f"{server.url}/slow"))
    busy.start()
    time.sleep(0.2)
    with pytest.raises(httpx.PoolTimeout):
        _get(single, f"{server.url}/ok", pool=0.2)
    busy.join()
    assert server.received == ["/slow"]
    assert _get(single, f"{server.url}/ok").status_code == 200  # the connection came back
    single.close()


def test_without_a_pool_timeout_a_request_waits_for_a_free_connection(server: Scripted) -> None:
    single = Http11Transport(limits=httpx.Limits(max_connections=1))
    busy = threading.Thread(target=_get, args=(single, f"{server.url}/slow"))
    busy.start()
    time.sleep(0.2)
    request = httpx.Request("GET", f"{server.url}/ok", extensions={"timeout": {**TIMEOUTS, "pool": None}})
    assert single.handle_request(request).status_code == 200  # after the slow one gave it back
    busy.join()
    assert server.received == ["/slow", "/ok"]
    single.close()


def test_a_tls_handshake_that_never_ends_is_a_connect_timeout(transport: Http11Transport) -> None:
    """TCP connects but the server never speaks TLS: no byte of the request can have left."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        with pytest.raises(httpx.ConnectTimeout):
            _get(transport, f"https://127.0.0.1:{silent.getsockname()[1]}/ok", connect=0.3)


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    """A server context with a certificate for 127.0.0.1, and a client context trusting it."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = tmp / "cert.pem", tmp / "key.pem"
    cert_file.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    served = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    served.load_cert_chain(cert_file, key_file)
    return served, ssl.create_default_context(cafile=str(cert_file))


def test_tls_to_a_trusted_certificate_and_refused_to_an_unknown_one(server: Scripted, tmp_path: Path) -> None:
    server.tls, trusting = _self_signed(tmp_path)
    trusted = Http11Transport(limits=LIMITS, ssl_context=trusting)
    assert _get(trusted, f"{server.url}/ok").json() == {"ok": True}
    assert _get(trusted, f"{server.url}/ok").status_code == 200
    assert server.connections == 1
    trusted.close()
    default = Http11Transport(limits=LIMITS)  # httpx's roots: this certificate is nobody's
    with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
        _get(default, f"{server.url}/ok")
    default.close()
    assert server.received == ["/ok", "/ok"]


def test_trace_events_mark_the_exchange(server: Scripted, transport: Http11Transport) -> None:
    seen: list[str] = []
    request = httpx.Request(
        "GET",
        f"{server.url}/ok",
        extensions={"timeout": TIMEOUTS, "trace": lambda name, _info: seen.append(name)},
    )
    transport.handle_request(request).read()
    assert seen == ["http11.send_request_headers.started", "http11.receive_response_headers.complete"]


def _settings(server: Scripted, **overrides: Any) -> Settings:
    """A client's settings pointed at the scripted server."""
    return Settings(
        base_url=server.url,
        client_id="cid_123",
        client_secret=SecretStr("sk_test_secret_abcdef"),
        **overrides,
    )


def test_the_client_sends_through_these_connections_and_says_what_never_left(server: Scripted) -> None:
    """No proxy in the environment: `DollrClient` uses this transport, and a refused connection
    reaches the caller as "not sent", a dropped answer as "may have reached Dollr"."""
    settings = _settings(server, max_retries=0, connect_timeout=1.0, read_timeout=2.0)
    with DollrClient(settings, sleep=lambda _seconds: None) as client:
        assert isinstance(client._http.transport, Http11Transport)
        with pytest.raises(NetworkError) as dropped:
            client._sender.request("GET", "/drop", retry=Retry.SAFE, authenticated=False)
        assert dropped.value.may_have_reached_dollr is True
        assert server.received == ["/drop"]  # a GET is retried, but max_retries is 0 here
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        refused = settings.model_copy(update={"base_url": f"http://127.0.0.1:{unused.getsockname()[1]}"})
        with (
            DollrClient(refused, sleep=lambda _seconds: None) as client,
            pytest.raises(NetworkError) as raised,
        ):
            client.obtain_token()
        assert raised.value.may_have_reached_dollr is False


def test_the_client_keeps_a_connection_for_each_bulk_sender_and_room_beside_them(server: Scripted) -> None:
    """A batch's senders at their most (`bulk_max_concurrency`, or a fixed `bulk_concurrency`
    above it) never queue for a connection, and eight more are left for the console's screens;
    past that, requests wait for a free connection rather than open more."""
    settings = _settings(server, bulk_max_concurrency=4, connect_timeout=10.0)
    server.slow_seconds = 3.0  # every connection is open before the first answer, on a busy machine too
    assert settings.http_connections == 12
    assert settings.model_copy(update={"bulk_concurrency": 6}).http_connections == 14
    with DollrClient(settings, sleep=lambda _seconds: None) as client:

        def slow() -> None:
            client._sender.request("GET", "/slow", retry=Retry.SAFE, authenticated=False)

        senders = [threading.Thread(target=slow) for _ in range(15)]
        for sender in senders:
            sender.start()
        for sender in senders:
            sender.join()
    assert server.received.count("/slow") == 15
    assert server.slow_at_most == 12
