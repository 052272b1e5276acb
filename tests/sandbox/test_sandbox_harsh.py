"""Where the sandbox is as hard as Dollr, not kinder (issues 12 and 17).

An integration that passes here must not break live, so each test pins a behaviour the docs give
Dollr and that a lenient simulator would hide.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dollr_core.sandbox import Sandbox
from dollr_core.sandbox.__main__ import parse_args

from .support import Api, locs, ref

# --- a second collection while the first is PROCESSING (issue 12) ---------------------------


def _execute(api: Api, session: dict[str, Any], account: dict[str, Any]) -> Any:
    body = {
        "session_id": str(session["id"]),
        "payment_account_id": str(account["id"]),
        "currency": "USD",
        "reference_id": ref(),
    }
    return api.post("/v1/executions/collection", json=body)


def test_a_second_collection_on_a_processing_document_is_charged(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    source = api.source(items=[("Strategy Session", 1, 250.0)])
    account = api.payer_account(source)
    first = _execute(api, api.checkout_session(source), account)
    assert first.status_code == 200
    # The document is PROCESSING: Dollr live may still take a new session and a new reference.
    second = _execute(api, api.checkout_session(source), account)
    assert second.status_code == 200, second.text
    api.advance(10)
    for response in (first, second):
        assert api.status("collection", response.json()["reference_id"])["status"] == "COMPLETED"
    charged = [row for row in api.executions() if row["source_id"] == source["id"]]
    assert [row["status"] for row in charged] == ["COMPLETED", "COMPLETED"]
    assert sb.wallets()["USD"] - before == 2 * Decimal("250.00")
    status = api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]})
    assert status["status"] == "PAID"
    receipt = api.ok("GET", f"/v1/invoices/receipt/{source['id']}")
    assert receipt["reference_id"] == first.json()["reference_id"]


def test_a_failed_first_collection_leaves_the_document_processing_while_a_second_runs(api: Api) -> None:
    source = api.source()
    declined = api.payer_account(source, number="231880000001")
    slow = api.payer_account(source, number="231880000003")
    assert _execute(api, api.checkout_session(source), declined).status_code == 200
    assert _execute(api, api.checkout_session(source), slow).status_code == 200
    api.advance(10)
    status = api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]})
    assert status["status"] == "PROCESSING"
    api.advance(200)
    status = api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]})
    assert status["status"] == "PAID"


def test_the_switch_restores_the_refusal(sb: Sandbox, api: Api) -> None:
    sb.configure(refuse_collection_while_processing=True)
    source = api.source()
    account = api.payer_account(source)
    spare = api.checkout_session(source)  # taken while the document was still ACTIVE
    assert _execute(api, api.checkout_session(source), account).status_code == 200
    r = api.post("/v1/sessions/checkout", json={"source_id": source["id"], "source_type": "INVOICE"})
    assert locs(r) == [["body", "source_id"]] and "in flight" in r.json()["detail"][0]["msg"]
    r = _execute(api, spare, account)
    assert locs(r) == [["body", "session_id"]] and "in flight" in r.json()["detail"][0]["msg"]
    assert len([row for row in api.executions() if row["source_id"] == source["id"]]) == 1
    assert api.http.get("/_sandbox/config").json()["refuse_collection_while_processing"] is True


def test_the_command_line_can_restore_the_refusal() -> None:
    assert parse_args([]).refuse_second_collection is False
    assert parse_args(["--refuse-second-collection"]).refuse_second_collection is True
