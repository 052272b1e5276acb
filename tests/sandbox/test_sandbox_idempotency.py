"""§7: reference_id is the idempotency key, unique per merchant across all operations."""

from __future__ import annotations

from typing import Any

from dollr_sandbox import Sandbox

from .support import Api, locs, passcode, ref


def _collection_body(api: Api) -> dict[str, Any]:
    source = api.source()
    session = api.checkout_session(source)
    account = api.payer_account(source)
    return {
        "session_id": str(session["id"]),
        "payment_account_id": str(account["id"]),
        "currency": "USD",
        "reference_id": ref(),
    }


def test_identical_replay_returns_the_stored_execution_without_side_effects(sb: Sandbox, api: Api) -> None:
    body = _collection_body(api)
    first = api.ok("POST", "/v1/executions/collection", json=body)
    second = api.ok("POST", "/v1/executions/collection", json=body)
    assert first == second
    assert len(sb.executions()) == 1
    api.advance(5)
    replayed = api.ok("POST", "/v1/executions/collection", json=body)
    assert replayed["status"] == "COMPLETED" and replayed["payment_intent_id"] == first["payment_intent_id"]
    assert len(sb.executions()) == 1


def test_same_key_different_payload_is_422(api: Api) -> None:
    body = _collection_body(api)
    api.ok("POST", "/v1/executions/collection", json=body)
    changed = {**body, "currency": "LRD"}
    r = api.post("/v1/executions/collection", json=changed)
    assert locs(r) == [["body", "reference_id"]]
    other = _collection_body(api)
    other["reference_id"] = body["reference_id"]
    assert locs(api.post("/v1/executions/collection", json=other)) == [["body", "reference_id"]]


def test_key_is_unique_across_operations(api: Api) -> None:
    collection = api.collect(api.source())
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 5, "currency": "USD"},
    )
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": account["id"],
        "reference_id": collection["reference_id"],
        "passcode": passcode(),
    }
    assert locs(api.post("/v1/executions/payout", json=body)) == [["body", "reference_id"]]


def test_payout_replay_does_not_debit_twice(sb: Sandbox, api: Api) -> None:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 100, "currency": "USD"},
    )
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": account["id"],
        "reference_id": ref(),
        "passcode": passcode(),
    }
    before = sb.wallets()["USD"]
    responses = [api.ok("POST", "/v1/executions/payout", json=body) for _ in range(3)]
    assert len({r["reference_id"] for r in responses}) == 1
    assert before - sb.wallets()["USD"] == 102
    assert [row["operation_type"] for row in sb.executions()] == ["PAYOUT"]


def test_replay_of_a_failed_passcode_attempt_stays_failed(api: Api) -> None:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 5, "currency": "USD"},
    )
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": account["id"],
        "reference_id": ref(),
        "passcode": passcode("999999"),
    }
    assert api.ok("POST", "/v1/executions/payout", json=body)["status"] == "FAILED"
    assert api.ok("POST", "/v1/executions/payout", json=body)["status"] == "FAILED"
    fixed = {**body, "passcode": passcode()}
    assert locs(api.post("/v1/executions/payout", json=fixed)) == [["body", "reference_id"]]


def test_validation_failures_are_not_stored(sb: Sandbox, api: Api) -> None:
    body = _collection_body(api)
    bad = {**body, "currency": "EUR"}
    assert locs(api.post("/v1/executions/collection", json=bad)) == [["body", "currency"]]
    assert api.get(f"/v1/status/collection/{body['reference_id']}").status_code == 404
    assert api.ok("POST", "/v1/executions/collection", json=body)["status"] == "PENDING"


def test_reference_lookup_is_case_insensitive(api: Api) -> None:
    body = _collection_body(api)
    api.ok("POST", "/v1/executions/collection", json=body)
    assert api.status("collection", body["reference_id"].upper())["reference_id"] == body["reference_id"]
