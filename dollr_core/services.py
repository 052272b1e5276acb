"""The long-lived parts every flow is handed: settings, ledger engine, Dollr client and its caches.

A plain container, so any layer above the ledger can take it; building one (and starting the
embedded sandbox and the background loops) is `dollr_core.runtime`'s job.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.config import Settings


@dataclass
class Services:
    settings: Settings
    engine: Engine
    client: DollrClient
    lookups: Lookups
    # Set only when these services started the embedded sandbox: its control API's address, for
    # the sandbox-only figures (dollr_core.api.sandbox_controls).
    sandbox_url: str | None = None
    on_close: list[Callable[[], None]] = field(default_factory=list, repr=False)
    stopping: threading.Event = field(default_factory=threading.Event, repr=False)
    workers: list[threading.Thread] = field(default_factory=list, repr=False)

    @property
    def base_url(self) -> str:
        return self.settings.resolved_base_url()

    def stop_workers(self) -> None:
        """Stop the background loops started for these services (see dollr_core.runtime)."""
        self.stopping.set()
        for worker in self.workers:
            worker.join(timeout=10)
        self.workers.clear()

    def close(self) -> None:
        self.stop_workers()
        self.client.close()
        self.engine.dispose()
        for closing in self.on_close:
            closing()
        self.on_close.clear()
