"""How fast is the history page on a big ledger? Fills a fresh SQLite ledger with 100,000 payment
attempts, then times what one page view costs: count + totals + the first page, for a few typical
filters (median of several runs), plus the charts' queries (one by one, and all figures in the one
pass History's page makes) and a full CSV export, with peak memory.

    .venv/bin/python -m bench.history_bench [--rows 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace
from typing import Any, TypeVar, cast

if __package__ in (None, ""):  # `python bench/history_bench.py`: make the repo importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import insert

from dollr_core.basics.access import Actor, Role
from dollr_core.basics.enums import METHOD_CURRENCIES, PaymentMethod
from dollr_core.ledger import open_ledger
from dollr_core.ledger.tables import Attempt
from dollr_core.reports import history, history_export, history_totals
from dollr_core.reports.history import HistoryFilter, Outcome
from dollr_core.services import Services

T = TypeVar("T")

FIRST = [
    "Amara",
    "Musa",
    "Fatu",
    "Joseph",
    "Grace",
    "Aline",
    "Eric",
    "Jean",
    "Mary",
    "Samuel",
    "Esther",
    "Paul",
]
LAST = ["Kamara", "Kollie", "Johnson", "Doe", "Mugisha", "Uwase", "Habimana", "Weah", "Sirleaf", "Kpoto"]
OPERATORS = [f"{n}@example.com" for n in ("olivia", "fred", "mia", "sam", "tina", "ken")]
STATES = [("COMPLETED", 85), ("FAILED", 8), ("REFUSED", 2), ("ACCEPTED", 3), ("UNKNOWN", 1), ("ABANDONED", 1)]
REMOTE = {"COMPLETED": "COMPLETED", "FAILED": "FAILED", "ACCEPTED": "PROCESSING"}
CURRENCIES = [("USD", 60), ("LRD", 25), ("RWF", 15)]
PREFIX = {
    PaymentMethod.MTN_MOMO_LBR: "23188",
    PaymentMethod.ORANGE_MONEY_LBR: "23177",
    PaymentMethod.MTN_MOMO_RWA: "25078",
    PaymentMethod.AIRTEL_RWA: "25073",
}
AMOUNT_RANGE = {"USD": (5, 2000), "LRD": (500, 300000), "RWF": (1000, 2000000)}


def _pick(weighted: list[tuple[str, int]], rng: random.Random) -> str:
    return rng.choices([v for v, _ in weighted], [w for _, w in weighted])[0]


def fake_attempts(n: int, *, seed: int = 7, days: int = 120) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    now = datetime.now(UTC)
    rows: list[dict[str, Any]] = []
    for i in range(n):
        currency = _pick(CURRENCIES, rng)
        methods = [m for m in PREFIX if currency in METHOD_CURRENCIES[m]]
        method = rng.choice(methods)
        operation = "COLLECTION" if rng.random() < 0.7 else "PAYOUT"
        state = _pick(STATES, rng)
        low, high = AMOUNT_RANGE[currency]
        places = 0 if currency == "RWF" else 2
        amount = Decimal(rng.randint(low * 10**places, high * 10**places)).scaleb(-places)
        fees = (amount * Decimal("0.0325")).quantize(Decimal(1).scaleb(-places))
        created = now - timedelta(seconds=rng.randint(0, days * 86400))
        settled = state in ("COMPLETED", "FAILED", "ACCEPTED")
        rows.append(
            {
                "reference_id": str(uuid.UUID(int=rng.getrandbits(128), version=4)),
                "intent_id": i + 1,
                "operation_type": operation,
                "step": "execute",
                "local_state": state,
                "remote_status": REMOTE.get(state),
                "party_name": f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                "phone": PREFIX[method] + f"{rng.randint(0, 9999999):07d}",
                "method": method.value,
                "provider": "PAWAPAY",
                "amount": amount,
                "currency": currency,
                "payer_currency": currency,
                "payer_amount": amount + fees if settled else None,
                "payee_amount": amount if settled else None,
                "settled_payer_currency": currency if settled else None,
                "payee_currency": currency if settled else None,
                "source_type": "INVOICE" if operation == "COLLECTION" else None,
                "source_number": f"INV-2025-{i:05d}" if operation == "COLLECTION" else None,
                "provider_transaction_id": f"pp-{i:08d}" if state == "COMPLETED" else None,
                "gateway_message": "Payer declined" if state == "FAILED" else None,
                "last_error": "amount below minimum" if state == "REFUSED" else None,
                "operator": rng.choice(OPERATORS),
                "created_at": created,
                "updated_at": created,
                "final_at": created + timedelta(seconds=40) if state in ("COMPLETED", "FAILED") else None,
            }
        )
    return rows


def timed(fn: Callable[[], T], runs: int) -> tuple[float, T]:
    """Median wall time in milliseconds (after one warm-up run) and the last result."""
    result = fn()
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        result = fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), result


def peak_kib(fn: Callable[[], object]) -> float:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1] / 1024
    finally:
        tracemalloc.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        engine = open_ledger(f"sqlite:///{tmp}/ledger.db")
        # The history reads only the ledger: services with no Dollr client are enough here.
        svc = cast(Services, SimpleNamespace(engine=engine))
        who = Actor("bench@example.com", Role.FINANCE)
        start = time.perf_counter()
        rows = fake_attempts(args.rows)
        with engine.begin() as conn:
            for chunk in range(0, len(rows), 10_000):
                conn.execute(insert(Attempt), rows[chunk : chunk + 10_000])
        del rows
        print(f"filled {args.rows:,} attempts in {time.perf_counter() - start:.1f} s (SQLite, {tmp})")

        today = datetime.now(UTC).date()
        filters: dict[str, HistoryFilter] = {
            "everything": HistoryFilter(),
            "last 7 days, payouts": HistoryFilter(
                since=today - timedelta(days=6), until=today, operations=("PAYOUT",)
            ),
            "last 30 days, failed USD": HistoryFilter(
                since=today - timedelta(days=29),
                currencies=("USD",),
                outcomes=(Outcome.FAILED, Outcome.REFUSED),
            ),
            "text 'kamara', one operator": HistoryFilter(text="kamara", operators=(OPERATORS[0],)),
            "phone digits '7712'": HistoryFilter(text="7712"),
        }
        print(f"\nfilter + totals + first page (50 rows); median of {args.runs} runs")
        print(
            f"{'filter':<30} {'matches':>9} {'ms':>8} {'peak KiB':>9}  {'+ charts ms':>11}"
            f"  {'all in one pass ms':>18}"
        )
        for name, flt in filters.items():

            def view(flt: HistoryFilter = flt) -> history.HistoryPage:
                totals = history_totals.totals(svc, who, flt)
                return history.page(svc, who, flt, 1, 50, total=sum(t.count for t in totals))

            def whole(flt: HistoryFilter = flt) -> object:
                history.operators(svc, who)
                return (
                    view(flt),
                    history_totals.daily(svc, who, flt),
                    [history_totals.breakdown(svc, who, flt, by) for by in ("method", "outcome")],
                )

            def as_the_page_asks(flt: HistoryFilter = flt) -> object:
                """What History's first open of this filter reads: every figure in one GROUP BY."""
                history.operators(svc, who)
                figures = history_totals.figures(svc, who, flt)
                return history.page(svc, who, flt, 1, 50, total=sum(t.count for t in figures.totals))

            ms, shown = timed(view, args.runs)
            whole_ms, _ = timed(whole, args.runs)
            page_ms, _ = timed(as_the_page_asks, args.runs)
            print(
                f"{name:<30} {shown.total:>9,} {ms:>8.1f} {peak_kib(view):>9.0f}  {whole_ms:>11.1f}"
                f"  {page_ms:>18.1f}"
            )

        month = HistoryFilter(since=today - timedelta(days=29))
        print("\ncharts (last 30 days)")
        for name, fn in {
            "daily volume": lambda: history_totals.daily(svc, who, month),
            "by method": lambda: history_totals.breakdown(svc, who, month, "method"),
            "by outcome": lambda: history_totals.breakdown(svc, who, month, "outcome"),
            "page 40 of everything": lambda: history.page(svc, who, HistoryFilter(), 40, 50),
        }.items():
            ms, _ = timed(fn, args.runs)
            print(f"{name:<30} {'':>9} {ms:>8.1f} {peak_kib(fn):>9.0f}")

        def export() -> int:
            return sum(len(chunk) for chunk in history_export.export_csv(svc, who, HistoryFilter()))

        start = time.perf_counter()
        size = export()
        seconds = time.perf_counter() - start
        print(
            f"\nCSV export of all {args.rows:,} rows: {size / 1e6:.1f} MB in {seconds:.2f} s,"
            f" peak {peak_kib(export) / 1024:.1f} MiB (streamed in chunks)"
        )
        engine.dispose()


if __name__ == "__main__":
    main()
