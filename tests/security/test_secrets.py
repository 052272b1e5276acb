"""Secrets hygiene: known secret values never reach logs, errors, the ledger or the audit trail."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr
from sqlalchemy import inspect, text

from dollr_core.api.errors import DollrError
from dollr_core.basics.access import Actor, Role
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.services import Services
from dollr_sandbox import Sandbox, SandboxConfig
from tests.conftest import make_services
from tests.flows.helpers import collect, settle

CLIENT_SECRET = "cs_live_K7q9Zx2mWp4v"
PASSCODE = "918273"


@pytest.fixture
def secret_sandbox() -> Iterator[Sandbox]:
    with Sandbox(
        SandboxConfig(client_secret=CLIENT_SECRET, passcode=PASSCODE, rate_limit_per_minute=0)
    ) as sb:
        yield sb


@pytest.fixture
def svc(secret_sandbox: Sandbox, tmp_path: Path) -> Iterator[Services]:
    services = make_services(
        secret_sandbox, f"sqlite:///{tmp_path}/ledger.db", str(tmp_path), client_secret=CLIENT_SECRET
    )
    yield services
    services.client.close()
    services.engine.dispose()


def _database_text(svc: Services) -> str:
    chunks: list[str] = []
    with svc.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            for row in conn.execute(text(f'SELECT * FROM "{table}"')):
                chunks.append(" ".join(str(v) for v in row))
    return "\n".join(chunks)


def test_flows_leave_no_secret_anywhere(
    svc: Services, secret_sandbox: Sandbox, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    operator = Actor("op@example.com", Role.OPERATOR)
    finance = Actor("fin@example.com", Role.FINANCE)
    seen_errors: list[str] = []

    key = uuid.uuid4().hex
    prepare_payout(svc, operator, key, name="Musa Kollie", phone="231880001234", amount="30", currency="USD")
    confirm_payout(svc, operator, key, PASSCODE)
    wrong = uuid.uuid4().hex
    prepare_payout(svc, operator, wrong, name="Musa Kollie", phone="231880001234", amount="5", currency="USD")
    confirm_payout(svc, operator, wrong, "000000")  # a wrong passcode fails; its text must not leak either
    collect(svc, finance, uuid.uuid4().hex)
    secret_sandbox.add_fault(path="/v1/status", count=3, action="status", status=503)
    settle(svc, secret_sandbox)
    token = svc.client._tokens.get()  # the bearer token the flows really used
    try:  # an authentication failure's message and body
        svc.client.close()
        bad = svc.settings.model_copy(update={"client_secret": SecretStr("wrong-" + CLIENT_SECRET)})
        from dollr_core.api.client import DollrClient

        DollrClient(bad).parties.list()
    except DollrError as exc:
        seen_errors.append(f"{exc} {exc!r} {exc.body}")

    haystacks = {
        "logs": caplog.text,
        "errors": "\n".join(seen_errors),
        "database": _database_text(svc),
        "settings repr": repr(svc.settings),
        "client repr": repr(svc.client),
    }
    for where, haystack in haystacks.items():
        for secret in (CLIENT_SECRET, PASSCODE, token):
            assert secret not in haystack, f"a secret leaked into {where}"
    assert "231880001234" not in caplog.text, "a full phone number was logged"
