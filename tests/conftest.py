"""Shared fixtures: a live in-process sandbox, a fresh ledger on SQLite or PostgreSQL, services.

PostgreSQL tests use the server at 127.0.0.1:5432 (database `test`), each in a schema of its own,
and are skipped only when that server cannot be reached.
"""

from __future__ import annotations

import dataclasses
import os
import time
import uuid
from collections.abc import Iterator

import psycopg
import pytest
from sqlalchemy import create_engine, text

from dollr_core.api.caches import Lookups
from dollr_core.api.client import DollrClient
from dollr_core.basics.access import Actor, Role
from dollr_core.config import Settings
from dollr_core.ledger import open_ledger
from dollr_core.services import Services
from dollr_core.team import sign_in
from dollr_sandbox import Sandbox, SandboxConfig
from tests.support.relay_control import RelayControl

PG_DSN = os.environ.get("DOLLR_TEST_PG_DSN", "host=127.0.0.1 port=5432 dbname=test user=postgres")
PG_URL = os.environ.get("DOLLR_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def postgres_reachable() -> bool:
    try:
        with psycopg.connect(PG_DSN, connect_timeout=2):
            return True
    except psycopg.Error:
        return False


_PG = postgres_reachable()


@pytest.fixture(scope="session")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(SandboxConfig(rate_limit_per_minute=0))
    sb.start()
    yield sb
    sb.stop()


@pytest.fixture(scope="session")
def relay(sandbox: Sandbox) -> Iterator[RelayControl]:
    """The misbehaving network (a real process on loopback) in front of the session's sandbox."""
    control = RelayControl(sandbox.base_url)
    yield control
    control.stop()


@pytest.fixture
def fresh_relay(relay: RelayControl, fresh_sandbox: Sandbox) -> Iterator[RelayControl]:
    relay.clear()
    yield relay
    relay.wait_until_delivered()  # no late copy may land in the next test's sandbox
    relay.clear()


@pytest.fixture
def fresh_sandbox(sandbox: Sandbox) -> Iterator[Sandbox]:
    sandbox.reset()
    sandbox.clear_faults()
    yield sandbox
    sandbox.clear_faults()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose connections live in a brand-new schema, dropped afterwards."""
    if not _PG:
        pytest.skip("PostgreSQL at 127.0.0.1:5432 is not reachable")
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(PG_URL)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with admin.begin() as conn:
        conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def ledger_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path_factory.mktemp('ledger') / 'ledger.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def _short_sleep(seconds: float) -> None:
    """Backoff and Retry-After waits, compressed: the sandbox's clock is ours to move."""
    time.sleep(min(seconds, 0.02))


def make_services(
    sandbox: Sandbox, ledger_url: str, data_dir: str, *, via: str | None = None, **overrides: object
) -> Services:
    """Services on `ledger_url` talking to the sandbox, directly or through the relay at `via`.

    The warning on a repeat payout to the same number is off unless a test asks for it: most tests
    pay the same test recipient many times on purpose."""
    overrides.setdefault("duplicate_window_hours", 0)
    settings = Settings(
        base_url=via or sandbox.base_url,
        database_url=ledger_url,
        data_dir=data_dir,  # type: ignore[arg-type]
        **overrides,  # type: ignore[arg-type]
    )
    client = DollrClient(settings, sleep=_short_sleep)
    return Services(settings=settings, engine=open_ledger(ledger_url), client=client, lookups=Lookups(client))


def impatient(svc: Services, read_timeout: float = 1.0) -> Services:
    """`svc` with a client that stops waiting for an answer after `read_timeout` seconds.

    Only the step that should time out goes through it (pair it with a sandbox latency fault well
    above `read_timeout`); everything else keeps the patient client, so a loaded machine cannot
    turn an ordinary request into a timeout."""
    settings = svc.settings.model_copy(update={"read_timeout": read_timeout})
    client = DollrClient(settings, sleep=_short_sleep)
    return dataclasses.replace(svc, settings=settings, client=client, lookups=Lookups(client))


@pytest.fixture
def services(fresh_sandbox: Sandbox, ledger_url: str, tmp_path: object) -> Iterator[Services]:
    svc = make_services(fresh_sandbox, ledger_url, str(tmp_path))
    yield svc
    svc.client.close()
    svc.engine.dispose()


@pytest.fixture
def sqlite_services(fresh_sandbox: Sandbox, tmp_path: object) -> Iterator[Services]:
    svc = make_services(fresh_sandbox, f"sqlite:///{tmp_path}/ledger.db", str(tmp_path))
    yield svc
    svc.client.close()
    svc.engine.dispose()


@pytest.fixture
def operator() -> Actor:
    return Actor("olivia.operator@example.com", Role.OPERATOR)


@pytest.fixture
def finance() -> Actor:
    return Actor("fred.finance@example.com", Role.FINANCE)


@pytest.fixture
def manager() -> Actor:
    return Actor("mia.manager@example.com", Role.MANAGER)


@pytest.fixture
def admin() -> Actor:
    return Actor("ada.admin@example.com", Role.ADMIN)


@pytest.fixture(autouse=True)
def _fresh_sign_in_throttle() -> Iterator[None]:
    """Each test starts with no sign-in attempts counted against its (shared, in-process) clients."""
    sign_in.client_throttle.clear()
    yield
