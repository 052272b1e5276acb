"""How many HTTP calls does each flow cost, next to the documented flow's minimum?

For a first-time and a returning customer's invoice collection, and a first and a repeat payout to
the same recipient, counts the calls to Dollr from `dollr_core` (client stats and, independently,
the sandbox's own request log), from the start of the flow to its final status. Then 20 threads
make 1,000 calls through one client and we count the token requests (target: 1).

    .venv/bin/python -m bench.requests_per_flow [--rounds 5]
"""

from __future__ import annotations

import argparse
import sys
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    StandaloneSandbox,
    Stopwatch,
    WireTimer,
    calls,
    machine,
    median,
    ms,
    services_on,
    table,
    throwaway_ledger,
    time_the_wire,
)
from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import OperationType, SourceType
from dollr_core.flows.collect import (
    NewCollection,
    collect_new_document,
    confirm_collection,
    prepare_collection,
    publish_new_document,
)
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import Attempt, AttemptState
from dollr_core.payments.follow_up import refresh_payment
from dollr_core.services import Services

FINANCE = Actor("fred.finance@example.com", Role.FINANCE)
OPERATOR = Actor("olivia.operator@example.com", Role.OPERATOR)
PASSCODE = "123456"
ITEMS = (LineItem("Strategy session", 1, Decimal("250.00")), LineItem("Report", 1, Decimal("25.00")))
#: The same total with a line of quantity 2: checkout items have no quantity, so draft → items → publish.
ITEMS_OF_TWO = (LineItem("Strategy session", 1, Decimal("250.00")), LineItem("Report", 2, Decimal("12.50")))

#: The documented embedded flows, each step once and one status read at the end (contract §3):
#: what an integration written from Dollr's examples sends for every payment.
DOCUMENTED_COLLECTION = [
    "A1 token",
    "P1 party",
    "C1 counterparty",
    "I1 invoice",
    *[f"I6 item {i + 1}" for i in range(len(ITEMS))],
    "I9 publish",
    "PR3 operator",
    "PR2 quote",
    "S1 checkout session",
    "PA1 payment account",
    "E1 execute",
    "ST1 status",
]
DOCUMENTED_PAYOUT = [
    "A1 token",
    "P1 party",
    "C1 counterparty",
    "PR3 operator",
    "PA1 payout account",
    "PR1 quote",
    "S2 payout session",
    "E2 execute",
    "ST2 status",
]


def settle(svc: Services, sandbox: StandaloneSandbox, attempt: Attempt) -> Attempt:
    """Let the payment reach its outcome on the sandbox clock, then read it once, as a page would."""
    sandbox.advance_clock(10)
    for _ in range(5):
        attempt = refresh_payment(svc, attempt.reference_id, actor=FINANCE.email, force=True)
        if AttemptState(attempt.local_state).is_final:
            return attempt
        sandbox.advance_clock(10)
    raise RuntimeError(f"{attempt.reference_id} did not finish: {attempt.local_state}")


@dataclass
class Measured:
    calls: int  # as dollr_core's client counted them
    seen: int  # as the sandbox counted them
    tokens: int
    by_path: Counter[str]
    wall: float  # the flow up to Dollr accepting the payment (no status read, no clock moves)
    wire: float  # of which on the wire (the sandbox's own time)


def measure(
    svc: Services, sandbox: StandaloneSandbox, timer: WireTimer, flow: Callable[[], Attempt]
) -> Measured:
    """One flow, start to final status."""
    ours_before, theirs_before = svc.client.stats.requests, sandbox.requests()
    timer.reset()
    with Stopwatch() as watch:
        attempt = flow()
    wire = timer.seconds
    attempt = settle(svc, sandbox, attempt)
    if attempt.local_state != AttemptState.COMPLETED:
        raise RuntimeError(f"the flow ended {attempt.local_state}: {attempt.last_error}")
    theirs_after = sandbox.requests()
    total, tokens = calls(theirs_before, theirs_after)
    return Measured(
        svc.client.stats.requests - ours_before,
        total,
        tokens,
        theirs_after - theirs_before,
        watch.seconds,
        wire,
    )


def collection(
    svc: Services, customer: Person, wallet: str, items: tuple[LineItem, ...] = ITEMS
) -> Callable[[], Attempt]:
    order = NewCollection(customer=customer, currency="USD", items=items, wallet_phone=wallet)
    return lambda: collect_new_document(svc, FINANCE, new_intent_key(), order)


def published(svc: Services, customer: Person, wallet: str) -> Callable[[], Attempt]:
    """Collecting a document published earlier (its drafting is not counted): a fresh read of its
    state comes first, since a payment the ledger cannot see may be in flight on it."""
    record = publish_new_document(
        svc,
        FINANCE,
        new_intent_key(),
        source_type=SourceType.INVOICE,
        customer=customer,
        currency="USD",
        items=ITEMS,
        recovering=False,
    )

    def run() -> Attempt:
        key = new_intent_key()
        prepare_collection(svc, FINANCE, key, record=record, phone=wallet)
        return confirm_collection(svc, FINANCE, key)

    return run


def payout(svc: Services, name: str, phone: str) -> Callable[[], Attempt]:
    def run() -> Attempt:
        key = new_intent_key()
        prepare_payout(svc, OPERATOR, key, name=name, phone=phone, amount="40", currency="USD")
        return confirm_payout(svc, OPERATOR, key, PASSCODE)

    return run


def flows(svc: Services, sandbox: StandaloneSandbox, rounds: int) -> dict[str, list[Measured]]:
    timer = time_the_wire(svc.client)
    results: dict[str, list[Measured]] = {}
    for r in range(rounds):
        # A new customer and recipient each round, so "first time" really is the first time.
        # Numbers end in 5678/4321: the sandbox completes those (0001–0004 are its failure cases).
        customer = Person.checked(f"Amara Kamara {r}", f"23177{r:03d}1234", None, "LR")
        wallet = f"23188{r:03d}5678"
        recipient, recipient_phone = f"Musa Kollie {r}", f"23155{r:03d}4321"
        for name, flow in (
            ("collection, first-time customer", collection(svc, customer, wallet)),
            ("collection, returning customer", collection(svc, customer, wallet)),
            (
                "collection, returning customer, a line of quantity 2",
                collection(svc, customer, wallet, ITEMS_OF_TWO),
            ),
            ("collection of an already published document", published(svc, customer, wallet)),
            ("payout, first to a recipient", payout(svc, recipient, recipient_phone)),
            ("payout, repeat to the same recipient", payout(svc, recipient, recipient_phone)),
        ):
            results.setdefault(name, []).append(measure(svc, sandbox, timer, flow))
    return results


def token_storm(base_url: str, ledger_url: str, *, threads: int = 20, total: int = 1000) -> tuple[int, int]:
    """`total` reads from `threads` threads through one fresh client: (calls, token requests)."""
    svc = services_on(base_url, ledger_url)
    start = threading.Barrier(threads)
    errors: list[BaseException] = []

    def worker(n: int) -> None:
        start.wait()
        try:
            for i in range(n):
                # A different number each time, so nothing is served from a cache.
                svc.client.predictions.mmo_provider_info(f"23188{i:03d}{n:04d}", OperationType.PAYOUT)
        except BaseException as exc:  # reported below, not swallowed
            errors.append(exc)

    share = [total // threads + (1 if i < total % threads else 0) for i in range(threads)]
    pool = [threading.Thread(target=worker, args=(n,)) for n in share]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    if errors:
        raise errors[0]
    counted = svc.client.stats.requests - svc.client.stats.token_requests, svc.client.stats.token_requests
    svc.close()
    return counted


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--rounds", type=int, default=5, help="customers/recipients per flow (median over them)"
    )
    args = parser.parse_args(argv)

    with StandaloneSandbox() as sandbox, throwaway_ledger() as ledger_url:
        svc = services_on(sandbox.base_url, ledger_url)
        results = flows(svc, sandbox, args.rounds)
        svc.close()
        api_calls, tokens = token_storm(sandbox.base_url, ledger_url)

    documented = {
        "collection, first-time customer": len(DOCUMENTED_COLLECTION),
        "collection, returning customer": len(DOCUMENTED_COLLECTION),
        "collection, returning customer, a line of quantity 2": len(DOCUMENTED_COLLECTION),
        "collection of an already published document": len(DOCUMENTED_COLLECTION) - 7,
        "payout, first to a recipient": len(DOCUMENTED_PAYOUT),
        "payout, repeat to the same recipient": len(DOCUMENTED_PAYOUT),
    }
    print(f"# Requests per flow ({machine()}; median of {args.rounds} customers/recipients)\n")
    rows = []
    for name, runs in results.items():
        ours = median([r.calls for r in runs])
        rows.append(
            [
                name,
                f"{ours:g}",
                f"{median([r.seen for r in runs]):g}",
                f"{median([r.tokens for r in runs]):g}",
                documented[name],
                f"{ours - documented[name]:+g}",
                ms(median([r.wall for r in runs])),
                ms(median([r.wall - r.wire for r in runs])),
            ]
        )
    print(
        table(
            [
                "flow (start to final status)",
                "dollr_core calls",
                "sandbox saw",
                "of which token",
                "documented flow",
                "difference",
                "time to accepted",
                "of which not on the wire",
            ],
            rows,
        )
    )
    print("\nDocumented collection:", ", ".join(DOCUMENTED_COLLECTION))
    print("Documented payout:    ", ", ".join(DOCUMENTED_PAYOUT))
    print("\nWhat dollr_core sent (sandbox log, last round):")
    for name, runs in results.items():
        sent: Counter[str] = Counter()
        for path, n in runs[-1].by_path.items():
            sent[_short(path)] += n
        print(f"- {name}: " + ", ".join(f"{p}×{n}" if n > 1 else p for p, n in sorted(sent.items())))
    print(
        f"\nToken requests for {api_calls:,} API calls from 20 threads through one client: {tokens}"
        f" (target: 1) — {tokens / api_calls * 1000:.2f} per 1,000 calls"
    )


def _short(path: str) -> str:
    """`/v1/invoices/retrieve/12` → `invoices/retrieve`: ids and references vary, the call does not."""
    parts = [p for p in path.removeprefix("/v1/").split("/") if p]
    kept = [p for p in parts if not (p.isdigit() or len(p) == 36 or p.startswith(("INV-", "ORD-")))]
    return "/".join(kept)


if __name__ == "__main__":
    main()
