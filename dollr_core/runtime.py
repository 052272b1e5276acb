"""Starting a console process or a job: services built from settings, the embedded sandbox when no
Dollr address is configured, and the background loops (reconciler, notifier).

The top of dollr_core: it may import any layer, and it is the one place that imports the simulator
(`dollr_sandbox`), only to start it embedded; nothing else in dollr_core knows it exists.
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable

from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.config import Settings, SettingsError
from dollr_core.flows.books import follow_books
from dollr_core.ledger import open_ledger
from dollr_core.payments.reconcile import reconcile_once
from dollr_core.services import Services
from dollr_core.team import notify

log = logging.getLogger("dollr_core.runtime")


def start_services(settings: Settings) -> Services:
    """Open the ledger, start the embedded sandbox when no Dollr address is configured, connect."""
    svc = _services(settings)
    freeze_start_up()
    return svc


_start_up_frozen = threading.Lock()  # taken once, by the first start


def freeze_start_up() -> None:
    """Keep what the process built to start (modules, tables, models) out of the cyclic garbage
    collector's passes, once per process (`gc.freeze`).

    A console process holds some 200,000 such objects, and a full pass over them took 150 ms,
    in which no session of the console runs a line; those objects live as long as the process.
    Garbage made before goes first, so it is not kept for ever.
    """
    if _start_up_frozen.acquire(blocking=False):
        gc.collect()
        gc.freeze()


def _services(settings: Settings) -> Services:
    stop_sandbox: Callable[[], None] | None = None
    if not settings.is_live and settings.base_url is None:
        try:
            from dollr_sandbox import Sandbox, SandboxConfig
        except ImportError as exc:
            raise SettingsError(
                "The embedded Dollr sandbox is not installed (pip install 'dollr-ops-console[sandbox]'):"
                " install it, set DOLLR_BASE_URL to a running sandbox, or configure live mode."
            ) from exc

        settings.data_dir.mkdir(parents=True, exist_ok=True)
        sandbox = Sandbox(
            SandboxConfig(
                state_file=settings.sandbox_state_file,
                client_id=settings.client_id,
                client_secret=settings.client_secret.get_secret_value(),
                passcode_phone=settings.passcode_phone,
            )
        )
        settings = settings.model_copy(update={"base_url": sandbox.start()})
        stop_sandbox = sandbox.stop
        log.info("embedded sandbox at %s", settings.base_url)
    engine = open_ledger(settings.ledger_url)
    client = DollrClient(settings)
    svc = Services(settings=settings, engine=engine, client=client, lookups=Lookups(client))
    if stop_sandbox is not None:
        svc.sandbox_url = settings.base_url
        svc.on_close.append(stop_sandbox)
    return svc


def run_sandbox(argv: list[str]) -> None:
    """`python -m dollr_core sandbox …`: the simulator as a standalone server (same as
    `python -m dollr_sandbox …`)."""
    from dollr_sandbox.__main__ import main

    main(argv)


def run_reconciler(
    svc: Services, *, interval: float = 2.0, stop: threading.Event | None = None, sync_every: float = 300.0
) -> None:
    """Follow every unfinished payment, the published documents, and (every `sync_every` seconds)
    the documents made outside the console, until `stop` is set."""
    stop = stop or threading.Event()
    next_sync = 0.0
    while not stop.is_set():
        try:
            busy = reconcile_once(svc)
        except Exception:  # the ledger or Dollr is briefly unreachable: keep going
            log.exception("reconcile pass failed")
            busy = 0
        sync_due = time.monotonic() >= next_sync
        busy += follow_books(svc, sync=sync_due)
        if sync_due:
            next_sync = time.monotonic() + sync_every
        stop.wait(0.2 if busy else interval)


def start_reconciler(svc: Services, interval: float = 2.0) -> None:
    """Follow every unfinished payment in the background, even when no page is watching it.

    The console starts one per process; extra reconcilers (`python -m dollr_core reconcile
    --loop`) may run beside it: they share the work through leases and never poll one
    payment at the same moment.
    """
    _start(svc, "dollr-reconciler", lambda: run_reconciler(svc, interval=interval, stop=svc.stopping))


def start_notifier(svc: Services, interval: float = 15.0) -> None:
    """Send queued notifications in the background, beside the reconciler.

    Several may run (one per console process, `python -m dollr_core notify --loop`): each row
    is claimed before it is sent, so none is sent twice.
    """
    _start(svc, "dollr-notifier", lambda: notify.run_loop(svc, interval=interval, stop=svc.stopping))


def _start(svc: Services, name: str, loop: Callable[[], None]) -> None:
    worker = threading.Thread(target=loop, name=name, daemon=True)
    worker.start()
    svc.workers.append(worker)
