"""The parts issue 16's later rounds changed, each timed alone: the document mirror's CPU per
call, SQLite write transactions a second from many threads, the CPU of building one request, of
sending one through `httpx.Client`, through httpx's transport and through the client's own
transport (round 10), of writing a new intent with its event, and a full garbage-collector pass
over a console process's start-up objects.

    .venv/bin/python -m bench.ledger_parts [--mirrors 2000] [--threads 16 32]

No sandbox: a throw-away SQLite ledger, and requests sent to a small HTTP server on loopback
(a thread of this process: the sender's own thread CPU is what is counted). It runs on earlier
trees too (`PYTHONPATH=<tree>`); a part a tree does not have yet is printed as "—".
"""

from __future__ import annotations

import argparse
import gc
import json
import subprocess
import sys
import threading
import time
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
from sqlalchemy import text
from sqlmodel import Session

from bench.common import machine, table, throwaway_ledger
from dollr_core.api import transport
from dollr_core.api.models import Document
from dollr_core.flows.documents import mirror
from dollr_core.ledger import transitions
from dollr_core.ledger.db import create_ledger_engine, open_ledger
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import Customer, Intent, IntentState

BUYER = Customer(dollr_party_id=3, fullname="Amara Kamara", phone="231771231234")


def _document(number: int, **changes: object) -> Document:
    fields: dict[str, object] = {
        "id": number,
        "invoice_number": f"INV-{number:05d}",
        "source_type": "INVOICE",
        "status": "IDLE",
        "currency": "USD",
        "note": "Consulting",
        "fee_bearer": "PAYER",
        "as_payment_link": True,
        "counterparty_id": 7,
        "reference_id": f"draft-{number}",
        "total_amount": "0",
    }
    return Document.model_validate(fields | changes)


def mirror_cpu(count: int) -> float:
    """CPU ms per mirror: half creates (with our customer), half publishes of the same documents."""
    with throwaway_ledger() as url:
        engine = open_ledger(url)
        created = [_document(n) for n in range(1, count // 2 + 1)]
        published = [d.model_copy(update={"status": "ACTIVE"}) for d in created]
        for document in created[:50]:  # warm: statements built, pool filled
            mirror(engine, document, customer=BUYER, created_by="fred@example.com")
        started = time.process_time()
        for document in created[50:]:
            mirror(engine, document, customer=BUYER, created_by="fred@example.com")
        for document in published[50:]:
            mirror(engine, document)
        spent = time.process_time() - started
        engine.dispose()
    return 1000 * spent / (len(created) - 50 + len(published) - 50)


def write_transactions_per_second(threads: int, each: int = 300) -> float:
    """One-insert transactions a second from `threads` threads, each pausing 2 ms between two
    (as a sender waiting for Dollr would)."""
    with throwaway_ledger() as url:
        engine = create_ledger_engine(url)
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)"))

        def work() -> None:
            for _ in range(each):
                with engine.begin() as connection:
                    connection.execute(text("INSERT INTO t (v) VALUES ('x')"))
                time.sleep(0.002)

        workers = [threading.Thread(target=work) for _ in range(threads)]
        started = time.perf_counter()
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
        elapsed = time.perf_counter() - started
        engine.dispose()
    return threads * each / elapsed


def request_build_us(*, joined: bool, count: int = 20_000) -> float:
    """CPU µs to build one request from a path (as `transport.Sender` did before round 6) or from
    the URL it joins once per path (since)."""
    with httpx.Client(base_url="http://127.0.0.1:9") as http:
        path = "/v1/parties/create"
        target: str | httpx.URL = http.base_url.copy_with(raw_path=path.encode()) if joined else path
        headers = {"Accept": "application/json", "Authorization": "Bearer x"}
        started = time.process_time()
        for _ in range(count):
            http.build_request("POST", target, content=b"{}", headers=headers)
        return 1e6 * (time.process_time() - started) / count


class _Answer(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go as two writes: no 40 ms delayed-ACK stall
    BODY = json.dumps({"phone": "231880005678", "payment_method": "MTN_MOMO_LBR"}).encode()

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(self.BODY)))
        self.end_headers()
        self.wfile.write(self.BODY)

    def log_message(self, *_: object) -> None:
        pass


#: How `send_us` sends: what the Sender used in each round.
SENDERS = {
    "httpx.Client": "httpx.Client (build_request then send; up to round 6)",
    "httpcore": "HttpClient over httpx's transport, httpcore and h11 (rounds 7-9)",
    "HttpClient": "HttpClient over its default transport (round 10: connections.Http11Transport)",
}


def send_us(*, through: str, count: int = 3000) -> float | None:
    """Thread CPU µs to send one GET with a query and read its answer, `through` one of `SENDERS`."""
    if through != "httpx.Client" and issubclass(transport.HttpClient, httpx.Client):
        return None  # a tree from before round 7, whose HttpClient was an httpx.Client
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    path, params = "/v1/predictions/mmo-provider-info", {"phone": "231880005678", "operation_type": "PAYOUT"}
    headers = {"Accept": "application/json", "Authorization": "Bearer x"}
    limits = httpx.Limits(max_connections=20, max_keepalive_connections=20)
    timeout = httpx.Timeout(5.0)
    send: Any
    if through == "httpx.Client":
        client: Any = httpx.Client(base_url=base, limits=limits, timeout=timeout)
        url: Any = client.base_url.copy_with(raw_path=path.encode())

        def send() -> None:
            client.send(client.build_request("GET", url, params=params, headers=headers))
    else:
        chosen = httpx.HTTPTransport(limits=limits) if through == "httpcore" else None
        client = transport.HttpClient(base, timeout=timeout, limits=limits, headers={}, transport=chosen)
        url = client.base_url.copy_with(raw_path=path.encode())

        def send() -> None:
            query = url.copy_with(raw_path=url.raw_path + b"?" + str(httpx.QueryParams(params)).encode())
            client.send("GET", query, headers=headers, content=None)

    try:
        for _ in range(100):
            send()
        started = time.thread_time()
        for _ in range(count):
            send()
        return 1e6 * (time.thread_time() - started) / count
    finally:
        client.close()
        server.shutdown()
        server.server_close()


def new_intent_ms(*, inserted: bool, count: int = 1500) -> float | None:
    """CPU ms for a new intent and its event, committed: a model object flushed through the ORM
    (`transitions.created`, up to round 6) or one INSERT … RETURNING (`transitions.insert`)."""
    if inserted and "insert" not in transitions.__all__:
        return None  # a tree from before round 7 (its `insert` there is SQLAlchemy's)
    values = {
        "kind": "PAYOUT",
        "operation_type": "PAYOUT",
        "operator": "olu@example.com",
        "state": IntentState.READY,
        "party_name": "Musa Kollie",
        "amount": Decimal("12.50"),
    }
    with throwaway_ledger() as url:
        engine = open_ledger(url)
        started = time.process_time()
        for _ in range(count):
            with Session(engine, expire_on_commit=False) as db:
                key = {"intent_key": new_intent_key()}
                if inserted:
                    transitions.insert(
                        db, Intent, key | values, actor="olu@example.com", action="intent_opened"
                    )
                else:
                    row = Intent(**key, **values)
                    transitions.created(db, row, actor="olu@example.com", action="intent_opened")
                db.commit()
        elapsed = time.process_time() - started
        engine.dispose()
    return 1000 * elapsed / count


_CONSOLE_HEAP = """
import gc, time
import streamlit, streamlit.runtime, pandas, altair  # what a console process has imported
import console, dollr_core.services, dollr_core.reports.history
objects = len(gc.get_objects())
started = time.perf_counter(); gc.collect(); full = time.perf_counter() - started
gc.freeze()
started = time.perf_counter(); gc.collect(); frozen = time.perf_counter() - started
print(objects, full * 1000, frozen * 1000)
"""


def console_gc_pass() -> tuple[int, float, float]:
    """Start-up objects of a console process, and a full collection before and after `gc.freeze`."""
    run = subprocess.run(
        [sys.executable, "-c", _CONSOLE_HEAP], capture_output=True, text=True, check=True, timeout=120
    )
    objects, full, frozen = run.stdout.split()
    return int(objects), float(full), float(frozen)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mirrors", type=int, default=2000)
    parser.add_argument("--threads", type=int, nargs="+", default=[16, 32])
    args = parser.parse_args(argv)
    gc.collect()
    print(f"# Ledger and client parts ({machine()})\n")
    mirrored = mirror_cpu(args.mirrors)
    rows: list[list[object]] = [["document mirror (insert or update)", f"{mirrored:.3f} ms CPU"]]
    for threads in args.threads:
        rate = write_transactions_per_second(threads)
        rows.append([f"SQLite one-insert transactions, {threads} threads", f"{rate:,.0f} a second"])
    for joined, how in ((False, "from its path"), (True, "from a URL joined once")):
        rows.append([f"building one request {how}", f"{request_build_us(joined=joined):.1f} µs CPU"])
    for through, how in SENDERS.items():
        cpu = send_us(through=through)
        shown = "—" if cpu is None else f"{cpu:.0f} µs CPU"
        rows.append([f"one GET with a query sent and read through {how}", shown])
    for inserted, how in ((False, "a model object flushed by the ORM"), (True, "one INSERT … RETURNING")):
        cpu = new_intent_ms(inserted=inserted)
        rows.append([f"a new intent and its event, as {how}", "—" if cpu is None else f"{cpu:.3f} ms CPU"])
    objects, full, frozen = console_gc_pass()
    rows.append(
        [
            f"full GC pass over a console's {objects:,} start-up objects",
            f"{full:.1f} ms; {frozen:.2f} ms after gc.freeze",
        ]
    )
    print(table(["part", "figure"], rows))


if __name__ == "__main__":
    main()
