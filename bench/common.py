"""What every bench needs: a standalone sandbox in a subprocess, services on it, a throw-away
ledger, request counts (ours and the sandbox's), and small statistics.

The sandbox runs as `python -m dollr_sandbox` in its own process so that its work (and its
added latency) never shares an interpreter lock with the code being measured.
"""

from __future__ import annotations

import contextlib
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # `python bench/x.py` as well as `python -m bench.x`
    sys.path.insert(0, str(ROOT))

from dollr_core.api.caches import Lookups  # noqa: E402
from dollr_core.api.client import DollrClient  # noqa: E402
from dollr_core.api.connections import Http11Transport  # noqa: E402
from dollr_core.config import Settings  # noqa: E402
from dollr_core.ledger import open_ledger  # noqa: E402
from dollr_core.runtime import freeze_start_up  # noqa: E402
from dollr_core.services import Services  # noqa: E402

PG_URL = os.environ.get("DOLLR_BENCH_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
API_PREFIX = "/v1/"
TOKEN_PATH = "/v1/jwt/client/obtain/token"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


# --------------------------------------------------------------------------- the sandbox


class StandaloneSandbox:
    """`python -m dollr_sandbox` in a subprocess, steered over its `/_sandbox` endpoints."""

    def __init__(self, *, latency_ms: int = 0, rate_limit: int = 0, extra: Sequence[str] = ()) -> None:
        self.port = free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._log = tempfile.TemporaryFile(prefix="dollr-sandbox-", suffix=".log")  # noqa: SIM115 (closed in stop)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
        }
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "dollr_sandbox",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--latency-ms",
                str(latency_ms),
                "--rate-limit",
                str(rate_limit),
                "--log-level",
                "warning",
                *extra,
            ],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            # A file, not a pipe: nobody reads the sandbox's log while it runs, and a full pipe
            # would stop the sandbox mid-request.
            stderr=self._log,
        )
        self._http = httpx.Client(base_url=self.base_url, timeout=30)
        deadline = time.monotonic() + 30
        while True:
            try:
                if self._http.get("/_sandbox/clock", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("the standalone sandbox did not start")
            time.sleep(0.05)

    def stop(self) -> None:
        self._http.close()
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()

    def log(self) -> str:
        """What the sandbox wrote to its standard error so far (warnings and errors)."""
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def requests(self) -> Counter[str]:
        """Requests the sandbox has served so far, per path (its own count, not the client's)."""
        body = self._http.get("/_sandbox/requests").json()
        return Counter({path: n for path, n in body["by_path"].items() if path.startswith(API_PREFIX)})

    def rate_limited(self) -> int:
        """Requests the sandbox's rate limit has answered 429 so far."""
        return int(self._http.get("/_sandbox/requests").json()["rate_limited"])

    def executions(self) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = self._http.get("/_sandbox/executions").json()
        return rows

    def advance_clock(self, seconds: float) -> None:
        self._http.post("/_sandbox/clock/advance", json={"seconds": seconds}).raise_for_status()

    def reset(self) -> None:
        """Forget every record and payment (the request counts stay)."""
        self._http.post("/_sandbox/reset").raise_for_status()

    def configure(self, **changes: Any) -> None:
        self._http.post("/_sandbox/config", json=changes).raise_for_status()

    def __enter__(self) -> StandaloneSandbox:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class HandshakeDelay:
    """A TCP relay in front of the sandbox that makes every new connection wait `connect_ms`
    before its first byte goes through: what the TCP and TLS handshakes to a real Dollr cost,
    which a loopback connection to the sandbox does not. Requests on a kept-alive connection
    pass at once (the sandbox adds its own per-request latency)."""

    def __init__(self, target_port: int, connect_ms: int) -> None:
        import asyncio

        self.connect_ms = connect_ms
        self.connections = 0
        self._target_port = target_port
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.port = 0
        self._thread = threading.Thread(target=self._serve, name="handshake-delay", daemon=True)
        self._thread.start()
        self._ready.wait(10)
        self.base_url = f"http://127.0.0.1:{self.port}"

    def _serve(self) -> None:
        import asyncio

        async def pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while data := await reader.read(65536):
                    writer.write(data)
                    await writer.drain()
            except (ConnectionError, asyncio.CancelledError):
                pass
            finally:
                writer.close()

        async def relay(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.connections += 1
            await asyncio.sleep(self.connect_ms / 1000)
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self._target_port)
            await asyncio.gather(pipe(reader, upstream_writer), pipe(upstream_reader, writer))

        async def start() -> None:
            server = await asyncio.start_server(relay, "127.0.0.1", 0)
            self.port = server.sockets[0].getsockname()[1]
            self._ready.set()
            async with server:
                await server.serve_forever()

        asyncio.set_event_loop(self._loop)
        with contextlib.suppress(RuntimeError):  # raised when stop() ends the loop
            self._loop.run_until_complete(start())

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)

    def cpu_seconds(self) -> float:
        """CPU time the relay's own thread has used: the bench's stand-in for the network, which
        runs inside the measuring process and so is left out of "our process" by who reports it."""
        assert self._thread.ident is not None
        return time.clock_gettime(time.pthread_getcpuclockid(self._thread.ident))


def calls(before: Counter[str], after: Counter[str]) -> tuple[int, int]:
    """Dollr calls between two `requests()` snapshots: (all /v1 calls, of which token requests)."""
    delta = after - before
    return sum(delta.values()), delta[TOKEN_PATH]


# --------------------------------------------------------------------------- ledger and services


def postgres_reachable() -> bool:
    import psycopg

    dsn = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    try:
        with psycopg.connect(dsn, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


@contextmanager
def throwaway_ledger(kind: str = "sqlite") -> Iterator[str]:
    """A ledger URL that is gone afterwards: SQLite in a temp dir, or a fresh PostgreSQL schema."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="dollr-bench-") as tmp:
            yield f"sqlite:///{tmp}/ledger.db"
        return
    from sqlalchemy import create_engine, text

    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


def services_on(base_url: str, ledger_url: str, **settings: Any) -> Services:
    """What the console builds at start (`start_services`), pointed at a given sandbox and ledger.

    Benchmarks pay the same recipients the same amounts over and over, as nobody would by hand:
    the repeat-payout warning is off for them."""
    settings.setdefault("duplicate_window_hours", 0)
    config = Settings(
        base_url=base_url, database_url=ledger_url, data_dir=Path(tempfile.gettempdir()), **settings
    )
    client = DollrClient(config)
    svc = Services(settings=config, engine=open_ledger(ledger_url), client=client, lookups=Lookups(client))
    freeze_start_up()  # as start_services does
    return svc


def settle_all(svc: Services, sandbox: StandaloneSandbox) -> None:
    """Let every payment reach its outcome: the sandbox's clock moves on and the reconciler runs."""
    from sqlalchemy import update
    from sqlmodel import Session, col

    from dollr_core.ledger.tables import OPEN_ATTEMPT_STATES, Attempt
    from dollr_core.payments.reconcile import reconcile_once

    for _ in range(60):
        with Session(svc.engine) as db:
            db.exec(
                update(Attempt)
                .where(col(Attempt.local_state).in_(OPEN_ATTEMPT_STATES))
                .values(next_poll_at=None)
            )
            db.commit()
        sandbox.advance_clock(30)
        if reconcile_once(svc, limit=1000) == 0:
            return
    raise RuntimeError("payments still open after settling")


# --------------------------------------------------------------------------- numbers


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else float("nan")


def percentile(values: Sequence[float], p: float) -> float:
    """The p-th percentile (0–100), nearest rank: what p % of the values are at most."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(1, round(p / 100 * len(ordered) + 0.5 - 1e-9))
    return ordered[min(rank, len(ordered)) - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms"


def table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A Markdown table, so the output can be pasted into the README as it is."""
    cells = [[str(c) for c in header], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]

    def line(row: list[str]) -> str:
        return "| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |"

    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def machine() -> str:
    """One line saying where the numbers came from."""
    import platform

    busy = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    return (
        f"Python {platform.python_version()} on {platform.system()} {platform.machine()},"
        f" {os.cpu_count()} CPU(s){busy}, {time.strftime('%Y-%m-%d')}"
    )


def cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a process has used so far; None where /proc is not available."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class WireTimer(httpx.BaseTransport):
    """Wraps a client's transport and counts, per thread, requests and the time they spent on the wire:
    from the first header byte sent to the last response header received. That is the
    sandbox's own share (its latency and work, plus the loopback); waiting for a pooled
    connection and everything else in the calling thread is ours."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self._local = threading.local()

    @property
    def seconds(self) -> float:
        """Wire time of this thread since its last `reset()`."""
        return float(getattr(self._local, "seconds", 0.0))

    @property
    def requests(self) -> int:
        """Requests this thread sent since its last `reset()`."""
        return int(getattr(self._local, "requests", 0))

    def reset(self) -> None:
        self._local.seconds = 0.0
        self._local.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        started: list[float] = []

        def trace(event: str, _info: dict[str, Any]) -> None:
            if event == "http11.send_request_headers.started":
                started.append(time.perf_counter())
            elif event == "http11.receive_response_headers.complete" and started:
                self._local.seconds = self.seconds + time.perf_counter() - started[0]

        self._local.requests = self.requests + 1
        request.extensions = {**request.extensions, "trace": trace}
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def time_the_wire(client: DollrClient, *, pool: int | None = None) -> WireTimer:
    """Put a `WireTimer` under the client's own transport (same pool limits, unless `pool` says)."""
    http = client._http  # a bench may look inside; the console never does
    inner: httpx.BaseTransport = http.transport
    if pool is not None:
        inner.close()
        inner = Http11Transport(limits=httpx.Limits(max_connections=pool, max_keepalive_connections=pool))
    timer = WireTimer(inner)
    http.transport = timer
    return timer


class Stopwatch:
    """Wall time of a block: `with Stopwatch() as sw: ...; sw.seconds`."""

    def __enter__(self) -> Stopwatch:
        self.started = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.started
