"""The client sends through its own connections (or httpx's transport, through a proxy), not an
httpx.Client: what Dollr receives, and a proxy named in the environment, must be as they were.
A real HTTP server on loopback plays the forward proxy (it answers for Dollr itself, as a proxy
that relays would)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from pydantic import SecretStr

from dollr_core.api.client import DollrClient
from dollr_core.api.errors import NetworkError
from dollr_core.config import Settings

PARTY = {"id": 7, "fullname": "Amara Kamara", "phone": "231771234567"}


@dataclass
class Seen:
    lines: list[str] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)


@pytest.fixture
def proxy() -> Iterator[tuple[str, Seen]]:
    seen = Seen()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            seen.lines.append(f"{self.command} {self.path}")
            seen.headers.append({k.lower(): v for k, v in self.headers.items()})
            if self.path.endswith("/obtain/token"):
                body = {"access_token": "tok", "expires_in": 300}
            else:
                body = PARTY
            raw = json.dumps(body).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        do_GET = do_POST = _answer

        def log_message(self, *_: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", seen
    server.shutdown()
    server.server_close()


def _client(base_url: str = "http://dollr.invalid") -> DollrClient:
    settings = Settings(
        base_url=base_url,
        client_id="cid_123",
        client_secret=SecretStr("sk_test_secret_abcdef"),
        max_retries=0,
        connect_timeout=2.0,
        read_timeout=5.0,
    )
    return DollrClient(settings, sleep=lambda _seconds: None)


def test_a_proxy_named_by_the_environment_carries_every_request(
    proxy: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    with _client() as client:
        assert client.parties.retrieve(7).fullname == "Amara Kamara"
    assert seen.lines == [
        "POST http://dollr.invalid/v1/jwt/client/obtain/token",
        "GET http://dollr.invalid/v1/parties/retrieve/7",
    ]
    _as_httpx_client_sent(seen.headers[1], host="dollr.invalid")


def test_straight_to_dollr_the_same_requests(
    proxy: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch
) -> None:
    """No proxy: the client's own connections (`connections.Http11Transport`) send what httpx did."""
    url, seen = proxy  # here the server plays Dollr itself
    for name in ("HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    with _client(url) as client:
        assert client.parties.retrieve(7).fullname == "Amara Kamara"
    assert seen.lines == ["POST /v1/jwt/client/obtain/token", "GET /v1/parties/retrieve/7"]
    _as_httpx_client_sent(seen.headers[1], host=url.removeprefix("http://"))
    token_request = seen.headers[0]
    assert token_request["content-type"] == "application/json"
    assert int(token_request["content-length"]) > 0


def _as_httpx_client_sent(sent: dict[str, str], *, host: str) -> None:
    """The headers httpx.Client sent, the bearer token the Sender sets, nothing more."""
    assert sent["authorization"] == "Bearer tok"
    assert sent["accept"] == "application/json"
    assert sent["accept-encoding"] == "gzip, deflate"
    assert sent["connection"] == "keep-alive"
    assert sent["host"] == host
    assert sent["user-agent"].startswith("dollr-ops-console/")
    assert set(sent) == {"authorization", "accept", "accept-encoding", "connection", "host", "user-agent"}


def test_no_proxy_sends_straight_to_dollr(proxy: tuple[str, Seen], monkeypatch: pytest.MonkeyPatch) -> None:
    url, seen = proxy
    monkeypatch.setenv("HTTP_PROXY", url)
    monkeypatch.setenv("NO_PROXY", "dollr.invalid")
    with _client() as client, pytest.raises(NetworkError) as raised:
        client.parties.retrieve(7)  # dollr.invalid resolves nowhere: never left this process
    assert raised.value.may_have_reached_dollr is False
    assert seen.lines == []
