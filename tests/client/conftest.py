"""Fixtures: a client wired to the scripted fake Dollr, with recorded sleeps and a fake clock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from dollr_core.api.client import DollrClient
from dollr_core.config import Settings

from .fakes import SECRET, FakeClock, FakeDollr


@pytest.fixture
def settings() -> Settings:
    return Settings(
        base_url="https://dollr.test",
        client_id="cid_123",
        client_secret=SecretStr(SECRET),
        max_retries=2,
        connect_timeout=1.0,
        read_timeout=2.0,
    )


@pytest.fixture
def fake() -> FakeDollr:
    return FakeDollr()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def make_client(
    settings: Settings, fake: FakeDollr, sleeps: list[float], clock: FakeClock
) -> Iterator[Callable[..., DollrClient]]:
    made: list[DollrClient] = []

    def make(**overrides: Any) -> DollrClient:
        s = settings.model_copy(update=overrides) if overrides else settings
        client = DollrClient(
            s, transport=httpx.MockTransport(fake), sleep=sleeps.append, clock=clock, rng=lambda: 1.0
        )
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def client(make_client: Callable[..., DollrClient]) -> DollrClient:
    return make_client()
