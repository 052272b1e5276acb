"""Real servers on loopback for notification tests: an SMTP server (aiosmtpd) and an HTTP
receiver for webhooks (http.server in a thread), both started and stopped by the test."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage as Message
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from dollr_core.services import Services
from dollr_sandbox import Sandbox

from ..conftest import make_services


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Mailbox:
    """What the SMTP server received: one parsed message per delivery, with its envelope."""

    port: int
    messages: list[tuple[list[str], Message]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(
            (list(envelope.rcpt_tos), message_from_bytes(envelope.content, policy=policy.default))
        )
        return "250 OK"

    def to(self, address: str) -> list[Message]:
        return [m for rcpts, m in self.messages if address in rcpts]


@pytest.fixture
def mailbox() -> Iterator[Mailbox]:
    box = Mailbox(_free_port())
    controller = Controller(box, hostname="127.0.0.1", port=box.port)
    controller.start()
    yield box
    controller.stop()


@dataclass
class Receiver:
    """A webhook receiver: records each JSON body; answers 500 to the first `fail_next` posts."""

    url: str = ""
    posts: list[dict[str, Any]] = field(default_factory=list)
    fail_next: int = 0


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    got = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if got.fail_next > 0:
                got.fail_next -= 1
                self.send_response(500)
                self.end_headers()
                return
            got.posts.append(json.loads(body))
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    got.url = f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000/secretpart"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield got
    server.shutdown()
    server.server_close()


@pytest.fixture
def notifying(
    fresh_sandbox: Sandbox, ledger_url: str, tmp_path: object, mailbox: Mailbox, receiver: Receiver
) -> Iterator[Services]:
    """Services on both ledgers that e-mail through `mailbox` and post to `receiver`."""
    svc = make_services(
        fresh_sandbox,
        ledger_url,
        str(tmp_path),
        smtp_host="127.0.0.1",
        smtp_port=mailbox.port,
        smtp_starttls=False,
        notification_webhook_url=receiver.url,
    )
    yield svc
    svc.client.close()
    svc.engine.dispose()
