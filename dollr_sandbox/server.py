"""``Sandbox``: the app plus a uvicorn server, in a background thread or in the foreground."""

from __future__ import annotations

import socket
import threading
import time
from datetime import datetime
from decimal import Decimal
from types import TracebackType
from typing import Any, Self

import uvicorn
from fastapi import FastAPI

from dollr_sandbox.app import create_app
from dollr_sandbox.config import SandboxConfig
from dollr_sandbox.faults import Fault, FaultAction, FaultSpec
from dollr_sandbox.routes import control, hosted
from dollr_sandbox.state import SandboxState

_START_TIMEOUT = 10.0


class SandboxError(RuntimeError):
    pass


class Sandbox:
    """The Dollr sandbox. ``start()`` serves it on 127.0.0.1 in a thread; the rest inspects and steers it."""

    def __init__(self, config: SandboxConfig | None = None) -> None:
        self.state = SandboxState(config)
        self.app: FastAPI = create_app(self.state)
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None
        self._lock = threading.Lock()

    # --- serving ----------------------------------------------------------------------------

    def _uvicorn(self, host: str, port: int, log_level: str) -> uvicorn.Server:
        config = uvicorn.Config(
            self.app,
            host=host,
            port=port,
            log_level=log_level,
            access_log=False,
            date_header=False,  # the middleware dates responses by the sandbox clock
            lifespan="off",
            # Plenty of room for benchmarks: the event loop serves waiting requests concurrently.
            backlog=2048,
            timeout_keep_alive=30,
        )
        return uvicorn.Server(config)

    def start(self) -> str:
        """Serve on a free 127.0.0.1 port in a daemon thread; idempotent. Returns the base URL."""
        with self._lock:
            if self._base_url is not None:
                return self._base_url
            # proto=IPPROTO_TCP matters: asyncio only sets TCP_NODELAY on sockets that say they are
            # TCP, and without it every keep-alive request waits ~40 ms for a delayed ACK.
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
            server = self._uvicorn("127.0.0.1", port, "warning")
            thread = threading.Thread(
                target=server.run, kwargs={"sockets": [sock]}, name=f"dollr-sandbox-{port}", daemon=True
            )
            thread.start()
            deadline = time.monotonic() + _START_TIMEOUT
            while not server.started:
                if not thread.is_alive() or time.monotonic() > deadline:
                    server.should_exit = True
                    sock.close()
                    raise SandboxError("the sandbox server did not start")
                time.sleep(0.005)
            self._server, self._thread = server, thread
            self._base_url = f"http://127.0.0.1:{port}"
            return self._base_url

    def stop(self) -> None:
        """Stop serving (the state stays, in memory and in the state file)."""
        with self._lock:
            server, thread = self._server, self._thread
            self._server = self._thread = None
            self._base_url = None
        if server is not None and thread is not None:
            server.should_exit = True
            thread.join(timeout=_START_TIMEOUT)

    def close(self) -> None:
        self.stop()
        self.state.close()

    def serve(self, host: str = "127.0.0.1", port: int = 8765, log_level: str = "info") -> None:
        """Serve in the foreground until interrupted (the standalone ``python -m dollr_sandbox``)."""
        server = self._uvicorn(host, port, log_level)
        try:
            server.run()
        finally:
            self.state.close()

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def config(self) -> SandboxConfig:
        """The live configuration (a copy of the one given: run-time switches change it, not yours)."""
        return self.state.config

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise SandboxError("the sandbox is not running: call start() first")
        return self._base_url

    @property
    def running(self) -> bool:
        return self._base_url is not None

    # --- steering and inspection ------------------------------------------------------------

    def add_fault(
        self,
        path: str,
        count: int = 1,
        action: FaultAction | str = FaultAction.STATUS,
        *,
        status: int = 503,
        ms: int = 0,
        retry_after: int = 1,
    ) -> Fault:
        """Make the next ``count`` requests under ``path`` misbehave (see ``FaultAction``)."""
        spec = FaultSpec(
            path=path, count=count, action=FaultAction(action), status=status, ms=ms, retry_after=retry_after
        )
        return self.state.faults.add(spec)

    def clear_faults(self) -> None:
        self.state.faults.clear()

    def faults(self) -> list[Fault]:
        return self.state.faults.list()

    def advance_clock(self, seconds: float) -> datetime:
        """Move the sandbox clock forward; due transitions happen at once. Returns the new time."""
        return self.state.advance_clock(seconds)

    def now(self) -> datetime:
        return self.state.now()

    def executions(self) -> list[dict[str, Any]]:
        """Every execution ever created, oldest first (amounts as Decimal)."""
        return self.state.execution_rows()

    def wallets(self) -> dict[str, Decimal]:
        """Available balance per currency: settled money minus what in-flight executions hold."""
        return self.state.balances()

    def wallet_details(self) -> list[dict[str, Any]]:
        return self.state.wallet_rows()

    def reset(self) -> None:
        """Back to the initial state (records, balances, clock, faults); request counts are kept."""
        self.state.reset()

    def configure(self, **changes: Any) -> dict[str, Any]:
        """Change run-time switches: verified, latency_ms, rate_limit_per_minute, lenient, data_envelope."""
        return control.configure(self.state, **changes)

    def set_verified(self, verified: bool) -> None:
        self.configure(verified=verified)

    def set_payment_account_active(self, account_id: int, active: bool) -> dict[str, Any]:
        return control.set_account_active(self.state, account_id, active)

    def pay_hosted(self, token: str, **payment: Any) -> dict[str, Any]:
        """Act as the customer on a hosted checkout page (``hosted_path_or_token`` of K1)."""
        return hosted.pay_hosted(self.state, token, hosted.HostedPayment(**payment))

    def authenticate_card(self, reference_id: str, *, succeed: bool = True) -> dict[str, Any]:
        """Act as the customer in 3-D Secure: complete (or fail) the card payment waiting for it."""
        return hosted.authenticate(self.state, reference_id, succeed)

    def pricing(self) -> dict[str, Any]:
        return self.state.pricing.describe()

    @property
    def request_count(self) -> int:
        return self.state.stats.total

    def requests_by_path(self) -> dict[str, int]:
        return self.state.stats.by_path()

    @property
    def rate_limited_count(self) -> int:
        """Requests the rate limit answered 429 so far."""
        return self.state.stats.rate_limited
