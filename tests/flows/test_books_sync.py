"""Issue 18 parts 2 and 8: documents made outside the console come in; the history export CLI."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import Session, select

from dollr_core.__main__ import main
from dollr_core.explain import NETWORK_TRANSACTION_ID
from dollr_core.flows.sync import sync_once
from dollr_core.ledger.tables import Attempt, AuditRecord, DocumentItem, DocumentRecord
from dollr_core.services import Services
from dollr_sandbox import Sandbox


def dollr_portal(sandbox: Sandbox) -> httpx.Client:
    """Someone working in Dollr's own portal: straight to the API, nothing through the console."""
    api = httpx.Client(base_url=sandbox.base_url)
    token = api.post(
        "/v1/jwt/client/obtain/token", json={"client_id": "sandbox", "client_secret": "sandbox-secret"}
    ).json()["access_token"]
    api.headers["Authorization"] = f"Bearer {token}"
    return api


def hosted_checkout(api: httpx.Client, name: str = "Walk-in customer") -> dict[str, Any]:
    created = api.post(
        "/v1/checkouts/create",
        json={
            "mode": "HOSTED",
            "source_kind": "ORDER",
            "party_name": name,
            "party_phone": "231880004321",
            "currency": "USD",
            "items": [
                {"name": "T-Shirt", "currency": "USD", "amount": 25},
                {"name": "Cap", "currency": "USD", "amount": 10},
            ],
        },
    )
    assert created.status_code == 200, created.text
    body: dict[str, Any] = created.json()
    return body


def test_portal_document_paid_on_its_hosted_page_is_in_the_history_export_after_one_reconcile(
    services: Services,
    fresh_sandbox: Sandbox,
    cli_env: None,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    api = dollr_portal(fresh_sandbox)
    checkout = hosted_checkout(api)
    fresh_sandbox.pay_hosted(checkout["hosted_path_or_token"], account_number="231880005678")
    fresh_sandbox.advance_clock(10)
    api.get("/v1/status/source", params={"source_type": "ORDER", "source_id": checkout["source_id"]})

    assert main(["reconcile", "--once"]) == 0

    day = fresh_sandbox.now().date()
    out = tmp_path / "history.csv"
    assert (
        main(
            [
                "history",
                "export",
                "--from",
                str(day - timedelta(days=1)),
                "--to",
                str(day),
                "--output",
                str(out),
            ]
        )
        == 0
    )
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert len(rows) == 1
    row = rows[0]
    paid = next(e for e in fresh_sandbox.executions() if e["reference_id"] == row["Payment reference"])
    assert row["Document"] == checkout["source_number"]
    assert row["Outcome"] == "Completed" and row["Type"] == "COLLECTION"
    assert row["Started by"] == "outside the console"
    assert row["Payee received"] == f"{paid['payee_amount']:.2f}"
    assert row[NETWORK_TRANSACTION_ID] == paid["provider_transaction_id"]

    with Session(services.engine) as db:
        record = db.exec(select(DocumentRecord)).one()
        items = db.exec(select(DocumentItem)).all()
        audits = db.exec(select(AuditRecord).where(AuditRecord.action == "history_exported")).all()
    assert record.made_outside and record.status == "PAID" and record.customer_name == "Walk-in customer"
    assert sorted(i.name for i in items) == ["Cap", "T-Shirt"]
    assert len(audits) == 1 and audits[0].actor.startswith("os:")

    # stdout by default, and the same rows as a spreadsheet
    capsys.readouterr()
    assert main(["history", "export", "--from", str(day), "--to", str(day)]) == 0
    assert checkout["source_number"] in capsys.readouterr().out
    sheet = tmp_path / "history.xlsx"
    assert (
        main(
            [
                "history",
                "export",
                "--from",
                str(day),
                "--to",
                str(day),
                "--format",
                "xlsx",
                "--output",
                str(sheet),
            ]
        )
        == 0
    )
    from openpyxl import load_workbook

    cells = [[c.value for c in r] for r in load_workbook(sheet).active.iter_rows()]  # type: ignore[union-attr]
    assert cells[1][1] == row["Payment reference"] and len(cells) == 2


def test_sync_is_idempotent_and_creates_nothing_at_dollr(services: Services, fresh_sandbox: Sandbox) -> None:
    api = dollr_portal(fresh_sandbox)
    paid = hosted_checkout(api, "Paid customer")
    hosted_checkout(api, "Unpaid customer")
    fresh_sandbox.pay_hosted(paid["hosted_path_or_token"], account_number="231880005678")
    fresh_sandbox.advance_clock(10)
    api.get("/v1/status/source", params={"source_type": "ORDER", "source_id": paid["source_id"]})

    first = sync_once(services)
    assert len(first.added) == 2 and first.payments_booked == 1
    posts_before = {p: n for p, n in fresh_sandbox.requests_by_path().items()}
    second = sync_once(services)
    assert second.added == [] and second.payments_booked == 0 and second.updated == 0
    after = fresh_sandbox.requests_by_path()
    assert not [p for p in after if "create" in p and after[p] != posts_before.get(p)]  # no create at Dollr
    with Session(services.engine) as db:
        assert len(db.exec(select(DocumentRecord)).all()) == 2
        assert len(db.exec(select(Attempt)).all()) == 1


def run_cli(args: list[str]) -> int:
    """The exit status the shell would see (argparse exits; our own checks return)."""
    try:
        return main(args)
    except SystemExit as exc:
        return int(exc.code or 0)


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["history", "export", "--from", "2026-13-01", "--to", "2026-12-01"], "--from must be a date"),
        (["history", "export", "--from", "2026-12-02", "--to", "2026-12-01"], "is before --from"),
        (["history", "export", "--to", "2026-12-01"], "arguments are required: --from"),
        (
            ["history", "export", "--from", "2026-12-01", "--to", "2026-12-01", "--format", "pdf"],
            "invalid choice",
        ),
        (
            ["history", "export", "--from", "2026-12-01", "--to", "2026-12-01", "--output", "/nope/x.csv"],
            "does not exist",
        ),
    ],
)
def test_bad_arguments_stop_with_one_sentence(
    args: list[str], words: str, cli_env: None, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli(args) == 2
    err = capsys.readouterr().err.strip()
    assert words in err and len(err.splitlines()) == 1
