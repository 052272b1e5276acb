"""``python -m dollr_sandbox`` over real HTTP, and state that survives a restart."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

import dollr_core
from dollr_sandbox import Sandbox, SandboxConfig

from .support import Api, dec, passcode, ref

REPO = Path(dollr_core.__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """A standalone sandbox in a subprocess."""

    def __init__(self, *args: str) -> None:
        self.port = _free_port()
        self.base_url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
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
                "--log-level",
                "warning",
                *args,
            ],
            cwd=REPO,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 20
        while True:
            try:
                if httpx.get(f"{self.base_url}/_sandbox/clock", timeout=1, verify=False).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"standalone sandbox did not start: {self.output()}")
            time.sleep(0.05)

    def output(self) -> str:
        return self.process.stdout.read().decode() if self.process.stdout else ""

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process.stdout:
            self.process.stdout.close()


@pytest.fixture
def server() -> Iterator[Server]:
    s = Server()
    yield s
    s.stop()


def test_standalone_full_invoice_collection_and_payout(server: Server) -> None:
    http = httpx.Client(base_url=server.base_url, timeout=10, verify=False)
    token = http.post(
        "/v1/jwt/client/obtain/token", json={"client_id": "sandbox", "client_secret": "sandbox-secret"}
    ).json()["access_token"]
    http.headers["Authorization"] = f"Bearer {token}"

    def ok(method: str, path: str, **kwargs: Any) -> Any:
        r = http.request(method, path, **kwargs)
        assert r.status_code == 200, f"{path}: {r.text}"
        return r.json()

    party = ok("POST", "/v1/parties/create", json={"fullname": "Amara Kamara", "phone": "231881234567"})
    counterparty = ok(
        "POST", "/v1/counterparties/create", json={"relationship_type": "CUSTOMER", "party_id": party["id"]}
    )
    invoice = ok(
        "POST",
        "/v1/invoices/create",
        json={
            "counterparty_id": counterparty["id"],
            "currency": "USD",
            "note": "Consulting",
            "fee_bearer": "PAYER",
            "as_payment_link": True,
        },
    )
    ok(
        "POST",
        f"/v1/invoices/{invoice['id']}/items/add",
        json={"name": "Session", "currency": "USD", "qty": 2, "amount": 125.0},
    )
    assert ok("PUT", f"/v1/invoices/publish/{invoice['id']}")["status"] == "ACTIVE"
    prediction = ok(
        "GET",
        "/v1/predictions/payment-source/amount-and-fees",
        params={
            "source_type": "INVOICE",
            "source_id": invoice["id"],
            "target_currency": "LRD",
            "payment_method": "MTN_MOMO_LBR",
            "provider": "PAWAPAY",
        },
    )
    operator = ok(
        "GET",
        "/v1/predictions/mmo-provider-info",
        params={"phone": party["phone"], "operation_type": "COLLECTION"},
    )
    session = ok("POST", "/v1/sessions/checkout", json={"source_id": invoice["id"], "source_type": "INVOICE"})
    account = ok(
        "POST",
        "/v1/payment-accounts/create",
        params={"operation_type": "COLLECTION"},
        json={
            "account_name": "Amara MTN",
            "provider": operator["gateway_provider"],
            "method": operator["payment_method"],
            "party_id": party["id"],
            "country_code": operator["country"],
            "insensitive_account_number": party["phone"],
        },
    )
    reference = ref()
    execution = ok(
        "POST",
        "/v1/executions/collection",
        json={
            "session_id": str(session["id"]),
            "payment_account_id": str(account["id"]),
            "currency": "LRD",
            "reference_id": reference,
        },
    )
    assert dec(execution["payer_amount"]) == dec(prediction["payer_amount"])
    assert http.post("/_sandbox/clock/advance", json={"seconds": 10}).status_code == 200
    assert ok("GET", f"/v1/status/collection/{reference}")["status"] == "COMPLETED"
    assert (
        ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": invoice["id"]})[
            "status"
        ]
        == "PAID"
    )
    receipt = ok("GET", f"/v1/invoices/receipt/{invoice['id']}")
    assert (
        dec(receipt["payer_amount"]) == dec(prediction["payer_amount"]) and receipt["payer_currency"] == "LRD"
    )

    payout_account = ok(
        "POST",
        "/v1/payment-accounts/create",
        params={"operation_type": "PAYOUT"},
        json={
            "account_name": "Supplier",
            "provider": "PAWAPAY",
            "method": "ORANGE_MONEY_LBR",
            "party_id": party["id"],
            "insensitive_account_number": "231770004321",
        },
    )
    payout_session = ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": payout_account["id"], "amount": 100.0, "currency": "USD"},
    )
    payout_ref = ref()
    payout = ok(
        "POST",
        "/v1/executions/payout",
        json={
            "session_id": str(payout_session["id"]),
            "payout_account_id": payout_account["id"],
            "reference_id": payout_ref,
            "passcode": passcode(),
        },
    )
    assert payout["status"] == "PENDING"
    http.post("/_sandbox/clock/advance", json={"seconds": 10})
    assert ok("GET", f"/v1/status/payout/{payout_ref}")["status"] == "COMPLETED"
    wallets = {w["currency"]: dec(w["available"]) for w in http.get("/_sandbox/wallets").json()}
    assert wallets["USD"] == dec("10000") + dec("250.00") - dec(payout["payer_amount"])
    assert [row["operation_type"] for row in http.get("/_sandbox/executions").json()] == [
        "COLLECTION",
        "PAYOUT",
    ]
    http.close()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["sigterm", "sigkill"])
def test_standalone_state_survives_a_restart(tmp_path: Path, sig: int) -> None:
    state = tmp_path / "sandbox-state.sqlite3"
    # A long PROCESSING time: the sandbox clock runs with wall time, and a restart on a busy machine
    # takes seconds, which must not carry the collection to its outcome before it is looked at.
    slow = ("--processing-seconds", "600")
    first = Server("--state", str(state), *slow)
    api = Api(first.base_url)
    source = api.source()
    execution = api.collect(source)
    api.advance(1.5)  # PROCESSING, mid-flight
    payout = api.payout(100)
    token = api.token
    first.stop(sig)

    second = Server("--state", str(state), *slow)
    try:
        api.http.close()
        api.http = httpx.Client(base_url=second.base_url, timeout=10, verify=False)
        assert api.token == token
        # Tokens, records, in-flight executions and held money are all still there.
        assert api.status("collection", execution["reference_id"])["status"] == "PROCESSING"
        assert (
            api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]})[
                "status"
            ]
            == "PROCESSING"
        )
        assert api.wallets()["USD"] == dec("10000") - dec(payout["payer_amount"])
        api.advance(610)
        assert api.status("collection", execution["reference_id"])["status"] == "COMPLETED"
        assert api.status("payout", payout["reference_id"])["status"] == "COMPLETED"
        # Id counters carry on.
        assert api.party()["id"] == 3
        assert api.wallets()["USD"] == dec("10000") + dec("250.00") - dec(payout["payer_amount"])
    finally:
        api.close()
        second.stop()


def test_in_process_state_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with Sandbox(SandboxConfig(state_file=path, rate_limit_per_minute=0)) as sb:
        api = Api(sb.base_url)
        source = api.source(kind="ORDER", currency="LRD", items=[("x", 1, 5000.0)])
        execution = api.collect(source)
        sb.advance_clock(5)
        rows = sb.executions()
        wallets = sb.wallets()
        offset = sb.state.clock.offset_seconds
        api.close()
    with Sandbox(SandboxConfig(state_file=path, rate_limit_per_minute=0)) as sb:
        assert sb.executions() == rows
        assert sb.wallets() == wallets
        assert sb.state.clock.offset_seconds == offset
        api = Api(sb.base_url)
        assert (
            api.ok("GET", f"/v1/orders/receipt/{source['id']}")["reference_id"] == execution["reference_id"]
        )
        sb.reset()
        assert sb.executions() == []
        api.close()
    with Sandbox(SandboxConfig(state_file=path)) as sb:
        assert sb.executions() == []


def test_state_file_that_is_not_a_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.json"
    path.write_text('{"not": "sqlite"}')
    with pytest.raises(RuntimeError, match="not a sandbox state database"):
        Sandbox(SandboxConfig(state_file=path))


def test_two_thousand_executions_stay_cheap_to_persist(tmp_path: Path) -> None:
    """Each request commits only what it changed, so the cost does not grow with the history."""
    with Sandbox(SandboxConfig(state_file=tmp_path / "s.db", rate_limit_per_minute=0)) as sb:
        state = sb.state
        from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod

        quote = state.pricing.quote(
            dec("1"), "USD", "USD", PaymentMethod.WALLET, OperationType.TRANSFER, FeeBearer.PAYER
        )
        with state.transaction():
            for _ in range(2000):
                state.start(
                    state.new_execution(
                        reference_id=ref(),
                        operation=OperationType.TRANSFER,
                        fingerprint="x",
                        session_id=None,
                        quote=quote,
                    )
                )
        api = Api(sb.base_url)
        api.login()
        start = time.perf_counter()
        for _ in range(20):
            api.party()
        per_request = (time.perf_counter() - start) / 20
        assert per_request < 0.05, per_request
        api.close()
