"""Sandbox test fixtures: one running sandbox for the module run, reset before every test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dollr_sandbox import Sandbox, SandboxConfig

from .support import Api

_RUNTIME_DEFAULTS = {
    "refuse_collection_while_processing": False,
    "check_operator": True,
    "check_account_party": True,
    "verified": True,
    "latency_ms": 0,
    "rate_limit_per_minute": 0,
    "token_rate_limit_per_minute": 60,
    "lenient": False,
    "data_envelope": False,
}


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[Sandbox]:
    with Sandbox(SandboxConfig(rate_limit_per_minute=0)) as sb:
        yield sb


@pytest.fixture
def sb(shared_sandbox: Sandbox) -> Iterator[Sandbox]:
    """The running sandbox in its initial state, with default run-time switches."""
    shared_sandbox.reset()
    shared_sandbox.configure(**_RUNTIME_DEFAULTS)
    yield shared_sandbox
    shared_sandbox.clear_faults()


@pytest.fixture
def api(sb: Sandbox) -> Iterator[Api]:
    client = Api(sb.base_url)
    yield client
    client.close()
