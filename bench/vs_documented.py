"""The same invoice collection, written the way Dollr's Python examples do it and through
`dollr_core`, against the standalone sandbox with 20 ms of added latency per request.

The documented style: plain `requests` calls (a new connection for every call), a token fetched
for every run, every record created again for every payment. `dollr_core`: one pooled client,
a cached token, the customer, counterparty and wallet account reused from the ledger. Both run
alternately in one process, each collection ending with one status read after the execution.

    .venv/bin/python -m bench.vs_documented [--rounds 10] [--latency-ms 20]
"""

from __future__ import annotations

import argparse
import sys
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import requests

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    HandshakeDelay,
    StandaloneSandbox,
    Stopwatch,
    calls,
    machine,
    median,
    ms,
    services_on,
    table,
    throwaway_ledger,
)
from dollr_core.basics.access import Actor, Role
from dollr_core.flows.collect import NewCollection, collect_new_document
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import AttemptState
from dollr_core.payments.follow_up import refresh_payment
from dollr_core.services import Services

FINANCE = Actor("fred.finance@example.com", Role.FINANCE)
CUSTOMER = {
    "fullname": "Amara Kamara",
    "phone": "231771234567",
    "email": "amara@example.com",
    "country_code": "LR",
}
WALLET = "231880005678"
ITEMS = [("Strategy session", 1, "250.00"), ("Report", 2, "12.50")]


def documented_collection(base: str) -> str:
    """The flow as Dollr's examples write it: one `requests` call per step, nothing kept between runs."""
    token = requests.post(
        f"{base}/v1/jwt/client/obtain/token",
        json={"client_id": "sandbox", "client_secret": "sandbox-secret"},
        timeout=30,
    ).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}

    def post(path: str, body: dict[str, Any] | None = None, **params: str) -> Any:
        response = requests.post(f"{base}/v1{path}", json=body, params=params, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json()

    def get(path: str, **params: Any) -> Any:
        response = requests.get(f"{base}/v1{path}", params=params, headers=headers, timeout=30)
        response.raise_for_status()
        return response.json()

    party = post("/parties/create", CUSTOMER)
    counterparty = post("/counterparties/create", {"relationship_type": "CUSTOMER", "party_id": party["id"]})
    invoice = post(
        "/invoices/create",
        {
            "counterparty_id": counterparty["id"],
            "currency": "USD",
            "note": "Consulting services",
            "fee_bearer": "PAYER",
            "as_payment_link": True,
        },
    )
    for name, qty, amount in ITEMS:
        post(
            f"/invoices/{invoice['id']}/items/add",
            {"name": name, "currency": "USD", "qty": qty, "amount": float(amount)},
        )
    response = requests.put(f"{base}/v1/invoices/publish/{invoice['id']}", headers=headers, timeout=30)
    response.raise_for_status()
    info = get("/predictions/mmo-provider-info", phone=WALLET, operation_type="COLLECTION")
    get(
        "/predictions/payment-source/amount-and-fees",
        source_type="INVOICE",
        source_id=invoice["id"],
        target_currency="USD",
        payment_method=info["payment_method"],
        provider=info["gateway_provider"],
    )
    session = post("/sessions/checkout", {"source_id": invoice["id"], "source_type": "INVOICE"})
    account = post(
        "/payment-accounts/create",
        {
            "account_name": "Amara MTN Wallet",
            "provider": info["gateway_provider"],
            "method": info["payment_method"],
            "party_id": party["id"],
            "country_code": "LR",
            "insensitive_account_number": WALLET,
        },
        operation_type="COLLECTION",
    )
    reference_id = str(uuid.uuid4())
    post(
        "/executions/collection",
        {
            "session_id": str(session["id"]),
            "payment_account_id": str(account["id"]),
            "currency": "USD",
            "reference_id": reference_id,
        },
    )
    status: str = get(f"/status/collection/{reference_id}")["status"]
    return status


def dollr_core_collection(svc: Services) -> str:
    """The same collection through the console's own flow, then the one status read a page makes."""
    order = NewCollection(
        customer=Person.checked(**CUSTOMER),
        currency="USD",
        items=[LineItem(name, qty, Decimal(amount)) for name, qty, amount in ITEMS],
        wallet_phone=WALLET,
        note="Consulting services",
    )
    attempt = collect_new_document(svc, FINANCE, new_intent_key(), order)
    if attempt.local_state != AttemptState.ACCEPTED:
        raise RuntimeError(f"collection ended {attempt.local_state}: {attempt.last_error}")
    return refresh_payment(svc, attempt.reference_id, actor=FINANCE.email, force=True).remote_status or "?"


def timed(
    sandbox: StandaloneSandbox, relay: HandshakeDelay, run: Callable[[], str]
) -> tuple[float, int, int]:
    """(wall time, HTTP calls, new connections) of one collection."""
    before, connections = sandbox.requests(), relay.connections
    cpu = time.process_time()
    with Stopwatch() as watch:
        status = run()
    cpu = time.process_time() - cpu  # our process only: the sandbox runs in its own
    if status not in ("PENDING", "PROCESSING", "COMPLETED"):
        raise RuntimeError(f"unexpected status {status}")
    made = calls(before, sandbox.requests())[0]
    CPU_PER_CALL.append(cpu / max(made, 1))
    return watch.seconds, made, relay.connections - connections


#: Process CPU seconds per Dollr call of each timed run, in the order run (styles alternate).
CPU_PER_CALL: list[float] = []


def compare(
    sandbox: StandaloneSandbox, relay: HandshakeDelay, svc: Services, rounds: int
) -> dict[str, list[tuple[float, int, int]]]:
    """Both styles alternately, so drift on the machine hits both alike; the first round of each
    (first-time customer, and dollr_core's token) comes first in its list."""
    runs: dict[str, list[tuple[float, int, int]]] = {"documented": [], "dollr_core": []}
    CPU_PER_CALL.clear()
    for _ in range(rounds + 1):
        runs["documented"].append(timed(sandbox, relay, lambda: documented_collection(relay.base_url)))
        runs["dollr_core"].append(timed(sandbox, relay, lambda: dollr_core_collection(svc)))
    return runs


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10, help="collections per style (median)")
    parser.add_argument("--latency-ms", type=int, default=20, help="latency the sandbox adds to every call")
    parser.add_argument(
        "--handshake-ms",
        type=int,
        default=None,
        help="what a new connection costs in the second comparison (default: 2 × latency, TCP + TLS)",
    )
    args = parser.parse_args(argv)
    handshake = 2 * args.latency_ms if args.handshake_ms is None else args.handshake_ms

    rows: list[list[object]] = []
    cpu: dict[int, tuple[float, float]] = {}  # per scenario: (documented, dollr_core) CPU s per call
    with StandaloneSandbox(latency_ms=args.latency_ms) as sandbox:
        for connect_ms in (0, handshake):
            relay = HandshakeDelay(sandbox.port, connect_ms)
            with throwaway_ledger() as ledger_url:
                svc = services_on(relay.base_url, ledger_url)
                runs = compare(sandbox, relay, svc, args.rounds)
                cpu[connect_ms] = (median(CPU_PER_CALL[2::2]), median(CPU_PER_CALL[3::2]))
                svc.close()
            relay.stop()
            scenario = "loopback" if connect_ms == 0 else f"new connection costs {connect_ms} ms"
            figures = {}
            for style, label in (
                ("documented", "documented style (requests, new connection per call, token per run)"),
                ("dollr_core", "dollr_core (pooled client, cached token, reused records)"),
            ):
                first, rest = runs[style][0], runs[style][1:]
                figures[style] = (median([r[0] for r in rest]), median([r[1] for r in rest]))
                rows.append(
                    [
                        scenario,
                        label,
                        ms(figures[style][0]),
                        f"{figures[style][1]:g}",
                        f"{median([r[2] for r in rest]):g}",
                        ms(first[0]),
                        first[1],
                    ]
                )
            (doc_time, doc_calls), (ours_time, ours_calls) = figures["documented"], figures["dollr_core"]
            rows.append(
                [
                    scenario,
                    "**ratio dollr_core / documented**",
                    f"{ours_time / doc_time:.2f}",
                    f"{ours_calls / doc_calls:.2f}",
                    "",
                    "",
                    "",
                ]
            )

    print(
        f"# dollr_core vs the documented integration ({machine()}; sandbox latency {args.latency_ms} ms"
        f" per call; median of {args.rounds} alternating rounds after a first one)\n"
    )
    print(
        table(
            [
                "connections",
                "invoice collection, to one status read",
                "wall time",
                "HTTP calls",
                "new connections",
                "first run: time",
                "first run: calls",
            ],
            rows,
        )
    )
    for connect_ms, (theirs, ours) in cpu.items():
        scenario = "loopback" if connect_ms == 0 else f"new connection costs {connect_ms} ms"
        print(
            f"\nCPU of our process per Dollr call ({scenario}, median after the first round):"
            f" documented style {theirs * 1000:.2f} ms, dollr_core {ours * 1000:.2f} ms"
        )
    print(
        f"\nAt {args.latency_ms} ms per call the documented flow's 13 calls alone take"
        f" {ms(13 * args.latency_ms / 1000)}. dollr_core also writes the ledger (intent, attempt,"
        " events, mirrors) before and after the calls: that is the price of never paying twice."
    )


if __name__ == "__main__":
    main()
