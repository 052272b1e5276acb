"""Shared widgets: what a person typed never turns into a link, an image or emphasis; wide tables
read on a phone."""

from __future__ import annotations

from collections.abc import Callable

from streamlit.testing.v1 import AppTest

from console.tables import phone_text
from console.widgets import plain
from dollr_core.basics.access import Role
from dollr_core.ledger import audit
from dollr_core.services import Services


def test_typed_text_stays_plain_in_markdown() -> None:
    typed = "![track](http://evil.example/p.png) [click](http://evil.example) **Boss** a_b"
    shown = plain(typed)
    for construct in ("![", "](", "**", " a_b"):
        assert construct not in shown
    assert shown.replace("\\", "") == typed  # nothing lost, only escaped


def test_a_wide_table_reads_on_a_phone_as_one_short_block_per_row() -> None:
    rows = [
        {
            "E-mail": "ana@example.com",
            "Role": "admin",
            "Locked until": "",
            "Last sign-in": "2026-12-01 09:00 UTC",
        },
        {"E-mail": "bo@example.com", "Role": "operator", "Locked until": "", "Last sign-in": "never"},
    ]
    assert phone_text(rows, ("E-mail", "Role")) == (
        "**ana\u200b@example\\.com** · **admin**  \nLast sign\\-in: 2026\\-12\\-01 09:00 UTC\n\n"
        "**bo\u200b@example\\.com** · **operator**  \nLast sign\\-in: never"
    )
    rule = {"Rule": "One manager approves above", "USD": "USD 500.00", "LRD": "no limit"}
    assert phone_text([rule], ("Rule",)) == "**One manager approves above**  \nUSD 500\\.00 · LRD: no limit"


def test_the_audit_trail_has_a_phone_view_of_the_same_rows(
    page: Callable[..., AppTest], console: Services
) -> None:
    audit.record(console.engine, "admin@example.com", "sign_in", outcome="ok")
    at = page("pages/audit.py", role=Role.ADMIN).run()
    assert not at.exception
    assert len(at.dataframe[0].value) == 1  # the desktop table
    [phone] = [m.value for m in at.markdown if "Action code: sign\\_in" in m.value]
    assert phone.startswith("**") and "admin\u200b@example\\.com" in phone
