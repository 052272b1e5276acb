"""How long does each console page take to run, and does an idle rerun call Dollr?

Every page of `console.navigation.PAGES` runs under Streamlit's AppTest, signed in as someone whose role may
open it, on a ledger seeded with a few payouts, collections and documents: the first open (after
the process's first imports, which a running console has paid once: see `warm_up`), idle
reruns (nothing changed: what every click elsewhere, every fragment tick and every reconnect
costs), a typical interaction, and idle reruns after it. Dollr calls are counted by the
console's own client and, independently, by the standalone sandbox (target per idle rerun: 0).

    .venv/bin/python -m bench.page_speed [--reruns 5] [--page pages/payout.py]
"""

from __future__ import annotations

import argparse
import functools
import logging
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

if __package__ in (None, ""):
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from streamlit.components.v2.component_manager import BidiComponentManager
from streamlit.runtime.scriptrunner.script_cache import ScriptCache
from streamlit.testing.v1 import AppTest, app_test, local_script_runner

from bench.common import ROOT, StandaloneSandbox, calls, machine, median, ms, settle_all, table
from console.navigation import PAGES, ConsolePage
from dollr_core.basics.access import Actor, Role
from dollr_core.services import Services

PASSCODE = "123456"


# --------------------------------------------------------------------------- seeding


#: What the seed made, for interactions that look something up.
SEEDED: dict[str, str] = {}


def fill_ledger(svc: Services, rows: int) -> None:
    """History's scale: `rows` finished payments made up by bench.history_bench (ledger only)."""
    from sqlalchemy import insert

    from bench.history_bench import fake_attempts
    from dollr_core.ledger.tables import Attempt

    made = fake_attempts(rows)
    with svc.engine.begin() as conn:
        for chunk in range(0, len(made), 10_000):
            conn.execute(insert(Attempt), made[chunk : chunk + 10_000])


def seed(svc: Services) -> None:
    """A ledger with something on every page: users, finished and pending payouts, paid invoices."""
    from dollr_core.flows.collect import NewCollection, collect_new_document
    from dollr_core.flows.directory import Person
    from dollr_core.flows.documents import LineItem
    from dollr_core.flows.payouts import confirm_payout, prepare_payout
    from dollr_core.ledger.intents import new_intent_key
    from dollr_core.team import users

    for role in Role:
        users.add_user(
            svc.engine, email=f"{role.value}@example.com", role=role, password="correct horse battery"
        )
    operator, finance = (
        Actor("operator@example.com", Role.OPERATOR),
        Actor("finance@example.com", Role.FINANCE),
    )
    for i, (name, phone, amount) in enumerate(
        [
            ("Musa Kollie", "231880001234", "25"),
            ("Fatu Johnson", "231770004321", "60"),
            ("Eric Mugisha", "250780005555", "15000"),
            ("Grace Doe", "231550006789", "700"),
        ]
    ):
        key = new_intent_key()
        quote = prepare_payout(
            svc, operator, key, name=name, phone=phone, amount=amount, currency="RWF" if i == 2 else "USD"
        )
        if not quote.needs_approval:  # the last one waits for a manager
            SEEDED["reference"] = confirm_payout(svc, operator, key, PASSCODE).reference_id
    customer = Person.checked("Amara Kamara", "231771234567", "amara@example.com", "LR")
    for _ in range(2):
        order = NewCollection(
            customer=customer,
            currency="USD",
            items=[LineItem("Strategy session", 1, Decimal("250.00"))],
            wallet_phone="231880005678",
        )
        attempt = collect_new_document(svc, finance, new_intent_key(), order)
        SEEDED["number"] = attempt.source_number or ""


# --------------------------------------------------------------------------- interactions


def _try(*steps: Callable[[AppTest], object]) -> Callable[[AppTest], str | None]:
    """The first step that finds its widgets; None when the page has none of them (yet)."""

    def run(at: AppTest) -> str | None:
        for step in steps:
            try:
                described = step(at)
            except (KeyError, IndexError, ValueError):
                continue
            return str(described)
        return None

    return run


def fill_payout(at: AppTest) -> str:
    at.text_input(key="payout_name").input("Musa Kollie")
    at.text_input(key="payout_phone").input("231880009876")  # a number the console has not seen
    at.text_input(key="payout_amount").input("25")
    return "typed a recipient, number and amount"


def search(key: str, text: str) -> Callable[[AppTest], str]:
    def run(at: AppTest) -> str:
        at.text_input(key=key).input(text)
        return f"searched for {text!r}"

    return run


def look_up(text_key: str, button_key: str, seeded: str) -> Callable[[AppTest], str]:
    """Type something the seed made and press the page's look-up button (this may ask Dollr once)."""

    def run(at: AppTest) -> str:
        at.text_input(key=text_key).input(SEEDED[seeded])
        at.button(key=button_key).click()
        return f"looked up a {seeded}"

    return run


def preview_fees(at: AppTest) -> str:
    at.text_input(key="predictor_amount").input("250")
    at.button(key="predictor_submit").click()
    return "asked for the costs of 250"


def generic(at: AppTest) -> str:
    """Something harmless every page has: type in the first text box or pick another option."""
    if len(at.text_input):
        at.text_input[0].input("Amara")
        return f"typed in {at.text_input[0].label!r}"
    for box in at.selectbox:
        if len(box.options) > 1:
            box.select_index(1)
            return f"picked another {box.label!r}"
    for radio in at.radio:
        if len(radio.options) > 1:
            radio.set_value(radio.options[1])
            return f"picked another {radio.label!r}"
    raise ValueError("nothing to interact with")


INTERACTIONS: dict[str, Callable[[AppTest], str | None]] = {
    "pages/payout.py": _try(fill_payout, generic),
    "pages/invoices.py": _try(search("invoices:search", "Amara"), generic),
    "pages/audit.py": _try(search("audit_text", "payout"), generic),
    "pages/status.py": _try(look_up("status_query", "status_lookup", "reference"), generic),
    "pages/receipts.py": _try(look_up("receipts_search", "receipts_find_button", "number"), generic),
    "pages/predictor.py": _try(preview_fees, generic),
}


# --------------------------------------------------------------------------- measuring


@dataclass
class PageResult:
    title: str
    path: str
    role: Role
    first_open: float = 0.0
    first_cpu: float = 0.0
    first_calls: int = 0
    idle: list[float] = field(default_factory=list)
    idle_cpu: list[float] = field(default_factory=list)
    idle_calls: list[int] = field(default_factory=list)
    interaction: str | None = None
    after: float | None = None
    after_calls: int | None = None
    idle_after_calls: list[int] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


class Counted:
    """Runs of one AppTest, timed, with the Dollr calls each made (client and sandbox agree or we say so)."""

    def __init__(self, svc: Services, sandbox: StandaloneSandbox, at: AppTest, result: PageResult) -> None:
        self.svc, self.sandbox, self.at, self.result = svc, sandbox, at, result
        self.cpu = 0.0

    def run(self, *, idle: bool = False) -> tuple[float, int]:
        ours, theirs = self.svc.client.stats.requests, self.sandbox.requests()
        started, cpu = time.perf_counter(), time.process_time()
        self.at.run()
        elapsed = time.perf_counter() - started
        #: CPU this process spent on the run (the sandbox is another process): a busy machine
        #: stretches the wall time, much less this.
        self.cpu = time.process_time() - cpu
        after = self.sandbox.requests()
        seen, _ = calls(theirs, after)
        made = self.svc.client.stats.requests - ours
        if seen != made:  # only this page talks to the sandbox, so the two must agree
            self.result.errors.append(f"client counted {made} calls, sandbox {seen}")
        if idle and seen:
            paths = ", ".join(sorted(after - theirs))
            self.result.errors.append(f"an idle rerun called Dollr: {paths}")
        for exc in self.at.exception:
            message = f"{exc.message}".splitlines()[0][:120]
            if message not in self.result.errors:
                self.result.errors.append(message)
        return elapsed, max(made, seen)


def warm_up() -> None:
    """Pay what the console's process pays once, before its first page: import every module a page
    imports, and draw a table once (Streamlit loads pandas and pyarrow on the first table). Else
    whichever page is measured first carries the whole process's start (600 ms of imports)."""
    import ast
    import importlib

    for page in PAGES:
        tree = ast.parse((ROOT / page.path).read_text())
        for node in tree.body:
            if isinstance(node, ast.Import):
                for alias in node.names:
                    importlib.import_module(alias.name)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                module = importlib.import_module(node.module)
                for alias in node.names:  # `from console import history_ui` imports a module too
                    if not hasattr(module, alias.name):
                        importlib.import_module(f"{node.module}.{alias.name}")
    table = AppTest.from_string("import streamlit as st\nst.dataframe([{'a': 1}])\n", default_timeout=60)
    with_installed_components(table).run()


@functools.cache
def installed_components() -> BidiComponentManager:
    """Streamlit's registry of the components installed in this environment, scanned once.

    A served console scans the installed packages once, when its runtime starts; AppTest scans
    them again for every new AppTest (140–260 ms on a busy machine), which would land on every
    page's first open here. So each page's AppTest is given the one scan this process made."""
    components = BidiComponentManager()
    components.discover_and_register_components(start_file_watching=False)
    return components


@functools.cache
def compiled_pages() -> ScriptCache:
    """The one cache of compiled page scripts this process keeps, as a served console does.

    A served console's runtime holds one `ScriptCache` for all its sessions and reruns, so it compiles
    a page the first time anyone opens it, and never again while the file is unchanged. AppTest makes
    a new cache for every run, so every idle rerun here would compile the page again. That was 79 % of
    the Bulk payouts page's idle rerun on a 100,000-payment ledger, and no user ever waits for it."""
    return ScriptCache()


def with_installed_components(at: AppTest) -> AppTest:
    """`at` with what a served console sets up once per process: the component registry, and
    (for every AppTest of this process) the cache of compiled pages."""
    if not hasattr(at, "_bidi_component_manager"):  # AppTest's own cache of that scan, per instance
        raise RuntimeError("This Streamlit's AppTest keeps no component registry: update bench.page_speed.")
    for module in (app_test, local_script_runner):  # each makes a ScriptCache() per run
        if getattr(module, "ScriptCache", None) not in (ScriptCache, compiled_pages):
            raise RuntimeError(f"{module.__name__} no longer makes a ScriptCache: update bench.page_speed.")
        module.ScriptCache = compiled_pages  # type: ignore[attr-defined]
    at._bidi_component_manager = installed_components()
    return at


def measure(
    svc: Services,
    sandbox: StandaloneSandbox,
    page: ConsolePage,
    reruns: int,
) -> PageResult:
    title, path, role = page.title, page.path, page.first_role()
    result = PageResult(title, path, role)
    at = with_installed_components(AppTest.from_file(str(ROOT / path), default_timeout=60))
    who = Actor(f"{role.value}@example.com", role)
    at.session_state["actor"] = who
    at.session_state["signed_in_email"] = who.email
    at.session_state["last_active"] = time.time()
    runner = Counted(svc, sandbox, at, result)
    result.first_open, result.first_calls = runner.run()
    result.first_cpu = runner.cpu
    for _ in range(reruns):
        elapsed, made = runner.run(idle=True)
        result.idle.append(elapsed)
        result.idle_cpu.append(runner.cpu)
        result.idle_calls.append(made)
    interact = INTERACTIONS.get(path, _try(generic))
    result.interaction = interact(at)
    if result.interaction is not None:
        result.after, result.after_calls = runner.run()
        for _ in range(reruns):
            result.idle_after_calls.append(runner.run(idle=True)[1])
    return result


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--reruns", type=int, default=5, help="idle reruns per page (median)")
    parser.add_argument("--page", action="append", help="only this page (repeatable), e.g. pages/payout.py")
    parser.add_argument(
        "--ledger-rows",
        type=int,
        default=0,
        help="add this many finished payments to the ledger (e.g. 100000)",
    )
    args = parser.parse_args(argv)
    # Seeding and closing run outside any script run: Streamlit's warning about that is noise here.
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(
        lambda record: "missing ScriptRunContext" not in record.getMessage()
    )

    with StandaloneSandbox() as sandbox, tempfile.TemporaryDirectory(prefix="dollr-pages-") as data:
        os.environ.update(
            DOLLR_BASE_URL=sandbox.base_url,
            DOLLR_DATA_DIR=data,
            DOLLR_DATABASE_URL=f"sqlite:///{data}/ledger.db",
        )
        os.chdir(ROOT)
        from console.context import services

        services.clear()
        svc = services()
        # The console's own reconciler thread would poll the seeded payments while pages run and
        # its calls would count against them: the pages are measured at rest, everything final.
        svc.stop_workers()
        seed(svc)
        settle_all(svc, sandbox)
        if args.ledger_rows:
            fill_ledger(svc, args.ledger_rows)
        warm_up()
        results = [
            measure(svc, sandbox, page, args.reruns)
            for page in PAGES
            if not args.page or page.path in args.page
        ]
        svc.close()
        services.clear()

    print(
        f"# Page speed under AppTest ({machine()}; ledger of {args.ledger_rows:,} extra payments;"
        f" first open after the process's first imports; idle reruns: median of {args.reruns})\n"
    )
    rows = []
    for r in results:
        rows.append(
            [
                f"{r.title} ({r.path}, {r.role.value})",
                ms(r.first_open),
                ms(r.first_cpu),
                r.first_calls,
                ms(median(r.idle)),
                ms(median(r.idle_cpu)),
                max(r.idle_calls, default=0),
                ms(r.after) if r.after is not None else "—",
                r.after_calls if r.after_calls is not None else "—",
                max(r.idle_after_calls) if r.idle_after_calls else "—",
            ]
        )
    print(
        table(
            [
                "page (role)",
                "first open",
                "its CPU",
                "Dollr calls",
                "idle rerun",
                "its CPU",
                "Dollr calls per idle rerun",
                "after interaction",
                "Dollr calls",
                "per idle rerun after",
            ],
            rows,
        )
    )
    print("\nInteractions:")
    for r in results:
        print(f"- {r.title}: {r.interaction or 'none found on the page'}")
    problems = [(r.title, e) for r in results for e in r.errors]
    if problems:
        print("\nProblems seen:")
        for title, error in problems:
            print(f"- {title}: {error}")
    idle_calls = sum(max(r.idle_calls, default=0) + max(r.idle_after_calls, default=0) for r in results)
    print(f"\nDollr calls on idle reruns, all pages: {idle_calls} (target: 0)")


if __name__ == "__main__":
    main()
