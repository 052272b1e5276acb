"""No page shows a secret: every page of the console, rendered for a role that may open it after
real payments, holds neither the client secret nor the bearer token in anything it displays."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from console.navigation import PAGES
from dollr_core.basics.access import Actor, Role
from dollr_core.services import Services
from tests.flows.helpers import collect, pay_out, settle

from .conftest import ROOT


def _texts(at: AppTest) -> Iterator[str]:
    """Everything the page shows as text: messages, captions, metrics, tables, inputs."""
    for kind in (
        "title",
        "header",
        "subheader",
        "markdown",
        "caption",
        "text",
        "code",
        "latex",
        "info",
        "success",
        "warning",
        "error",
        "exception",
        "json",
    ):
        for element in getattr(at, kind):
            yield str(getattr(element, "value", element))
    for element in at.metric:
        yield f"{element.label} {element.value}"
    for element in [*at.dataframe, *at.table]:
        yield element.value.to_string()
    for element in [*at.text_input, *at.text_area]:
        yield f"{element.label} {element.value}"
    for element in at.button:
        yield element.label


def test_no_page_displays_a_secret(console: Services, fresh_sandbox: object) -> None:
    pay_out(console, Actor("operator@example.com", Role.OPERATOR), uuid.uuid4().hex)
    collect(console, Actor("finance@example.com", Role.FINANCE), uuid.uuid4().hex)
    settle(console, fresh_sandbox)  # type: ignore[arg-type]
    secrets = [console.settings.client_secret.get_secret_value(), console.client._tokens.get()]
    for page in PAGES:
        path, role = page.path, page.first_role()
        at = AppTest.from_file(str(ROOT / path), default_timeout=30)
        who = Actor(f"{role.value}@example.com", role)
        at.session_state["actor"] = who
        at.session_state["signed_in_email"] = who.email
        at.session_state["last_active"] = time.time()
        at.run()
        assert not at.exception, path
        shown = "\n".join(_texts(at))
        assert len(shown) > 60, path  # the page rendered something
        for secret in secrets:
            assert secret not in shown, f"{path} displays a secret"


@pytest.fixture(autouse=True)
def _root(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(Path(ROOT))
