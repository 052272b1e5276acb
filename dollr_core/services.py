"""The long-lived parts a console process or a job needs: settings, ledger engine, Dollr client,
and, in sandbox mode without a base URL, the embedded sandbox they talk to."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine

from dollr_core.client import DollrClient
from dollr_core.config import Settings
from dollr_core.ledger import open_ledger
from dollr_core.lookups import Lookups

if TYPE_CHECKING:
    from dollr_core.sandbox import Sandbox

log = logging.getLogger("dollr_core.services")


@dataclass
class Services:
    settings: Settings
    engine: Engine
    client: DollrClient
    lookups: Lookups
    sandbox: Sandbox | None = field(default=None)

    @property
    def base_url(self) -> str:
        return self.settings.resolved_base_url()

    def close(self) -> None:
        self.client.close()
        self.engine.dispose()
        if self.sandbox is not None:
            self.sandbox.stop()


def start_services(settings: Settings) -> Services:
    """Open the ledger, start the embedded sandbox when no Dollr address is configured, connect."""
    sandbox = None
    if not settings.is_live and settings.base_url is None:
        from dollr_core.sandbox import Sandbox, SandboxConfig

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
