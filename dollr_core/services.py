"""The long-lived parts a console process or a job needs: settings, ledger engine, Dollr client,
and, in sandbox mode without a base URL, the embedded sandbox they talk to."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.basics.background import Workers
from dollr_core.config import Settings
from dollr_core.ledger import open_ledger

if TYPE_CHECKING:
    from dollr_sandbox import Sandbox

log = logging.getLogger("dollr_core.services")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    client: DollrClient
    lookups: Lookups
    sandbox: Sandbox | None = field(default=None)
    #: The bulk payout workers of this process, one per batch (`dollr_core.bulk.worker`).
    bulk_workers: Workers[Any] = field(default_factory=Workers, repr=False)
    _stop: threading.Event = field(default_factory=threading.Event, repr=False)
    _workers: list[threading.Thread] = field(default_factory=list, repr=False)

    @property
    def base_url(self) -> str:
        return self.settings.resolved_base_url()

    def start_reconciler(self, interval: float = 2.0) -> None:
        """Follow every unfinished payment in the background, even when no page is watching it.

        The console starts one per process; extra reconcilers (`python -m dollr_core reconcile
        --loop`) may run beside it: they share the work through leases and never poll one
        payment at the same moment.
        """
        from dollr_core.payments.reconcile import run_loop

        worker = threading.Thread(
            target=run_loop,
            args=(self,),
            kwargs={"interval": interval, "stop": self._stop},
            name="dollr-reconciler",
            daemon=True,
        )
        worker.start()
        self._workers.append(worker)

    def start_notifier(self, interval: float = 15.0) -> None:
        """Send queued notifications in the background (`notify.run_loop`), beside the reconciler.

        Several may run (one per console process, `python -m dollr_core notify --loop`): each row
        is claimed before it is sent, so none is sent twice.
        """
        from dollr_core.team.notify import run_loop

        worker = threading.Thread(
            target=run_loop,
            args=(self,),
            kwargs={"interval": interval, "stop": self._stop},
            name="dollr-notifier",
            daemon=True,
        )
        worker.start()
        self._workers.append(worker)

    def stop_reconciler(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.join(timeout=10)
        self._workers.clear()

    def close(self) -> None:
        self.bulk_workers.stop()
        self.stop_reconciler()
        self.client.close()
        self.engine.dispose()
        if self.sandbox is not None:
            self.sandbox.stop()


def start_services(settings: Settings) -> Services:
    """Open the ledger, start the embedded sandbox when no Dollr address is configured, connect."""
    sandbox = None
    if not settings.is_live and settings.base_url is None:
        from dollr_sandbox import Sandbox, SandboxConfig

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
        log.info("embedded sandbox at %s", settings.base_url)
    engine = open_ledger(settings.ledger_url)
    client = DollrClient(settings)
    return Services(settings=settings, engine=engine, client=client, lookups=Lookups(client), sandbox=sandbox)
