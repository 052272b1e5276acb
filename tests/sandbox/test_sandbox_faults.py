"""Fault injection (HTTP and Python), the clock, reset, config, request counts, and latency."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from dollr_sandbox import Sandbox

from .support import Api, locs, ref


def _execute_body(api: Api) -> dict[str, str]:
    source = api.source()
    session = api.checkout_session(source)
    account = api.payer_account(source)
    return {
        "session_id": str(session["id"]),
        "payment_account_id": str(account["id"]),
        "currency": "USD",
        "reference_id": ref(),
    }


def test_status_fault_answers_without_doing_anything(sb: Sandbox, api: Api) -> None:
    api.login()
    r = api.http.post(
        "/_sandbox/faults", json={"path": "/v1/parties", "count": 2, "action": "status", "status": 503}
    )
    assert r.status_code == 200 and r.json()["remaining"] == 2
    body = {"fullname": "A", "phone": "231771234567"}
    assert api.post("/v1/parties/create", json=body).status_code == 503
    assert api.get("/v1/parties/list").status_code == 503
    assert api.ok("GET", "/v1/parties/list") == []  # nothing was created, and the fault is used up
    assert api.http.get("/_sandbox/faults").json() == []


def test_faults_match_by_prefix_and_spare_other_paths(sb: Sandbox, api: Api) -> None:
    sb.add_fault("/v1/executions", count=1, action="status", status=500)
    assert api.get("/v1/fees/tiers").status_code == 200
    assert api.http.get("/_sandbox/executions").status_code == 200
    r = api.post("/v1/executions/collection", json={})
    assert r.status_code == 500 and isinstance(r.json()["detail"], str)
    assert sb.executions() == []


def test_rate_limit_fault(sb: Sandbox, api: Api) -> None:
    api.login()
    api.http.post(
        "/_sandbox/faults", json={"path": "/v1/", "count": 1, "action": "rate_limit", "retry_after": 2}
    )
    r = api.get("/v1/fees/tiers")
    assert r.status_code == 429 and r.headers["Retry-After"] == "2"
    assert api.get("/v1/fees/tiers").status_code == 200


def test_latency_fault_delays_then_handles(sb: Sandbox, api: Api) -> None:
    api.login()
    sb.add_fault("/v1/parties/create", action="latency", ms=300)
    start = time.perf_counter()
    created = api.ok("POST", "/v1/parties/create", json={"fullname": "A", "phone": "231771234567"})
    assert time.perf_counter() - start >= 0.3
    assert api.ok("GET", f"/v1/parties/retrieve/{created['id']}")["fullname"] == "A"


@pytest.mark.parametrize("via", ["http", "python"])
def test_drop_response_is_a_transport_error_after_the_work_is_done(sb: Sandbox, api: Api, via: str) -> None:
    body = _execute_body(api)
    if via == "http":
        r = api.http.post(
            "/_sandbox/faults",
            json={"path": "/v1/executions/collection", "count": 1, "action": "drop_response"},
        )
        assert r.status_code == 200
    else:
        sb.add_fault("/v1/executions/collection", action="drop_response")
    with pytest.raises((httpx.RemoteProtocolError, httpx.ReadError)):
        api.post("/v1/executions/collection", json=body)
    # The execution landed: the sandbox has it, and the status endpoint says so (§7 rule 2).
    assert [row["reference_id"] for row in sb.executions()] == [body["reference_id"]]
    assert api.status("collection", body["reference_id"])["status"] == "PENDING"
    # Resending the identical request is a replay, not a second charge.
    assert api.ok("POST", "/v1/executions/collection", json=body)["reference_id"] == body["reference_id"]
    assert len(sb.executions()) == 1


def test_delete_clears_faults(sb: Sandbox, api: Api) -> None:
    sb.add_fault("/v1/", count=5, action="status", status=502)
    assert len(api.http.get("/_sandbox/faults").json()) == 1
    assert api.http.delete("/_sandbox/faults").status_code == 200
    assert api.get("/v1/fees/tiers").status_code == 200
    sb.add_fault("/v1/", count=5, action="status", status=502)
    sb.clear_faults()
    assert sb.faults() == []


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"path": "/v1/x", "action": "explode"}, ["body", "action"]),
        ({"path": "v1/x", "action": "status"}, ["body"]),
        ({"path": "/v1/x", "action": "status", "count": 0}, ["body", "count"]),
        ({"path": "/v1/x", "action": "status", "status": 200}, ["body", "status"]),
    ],
)
def test_fault_validation(api: Api, body: dict[str, object], loc: list[str]) -> None:
    assert locs(api.http.post("/_sandbox/faults", json=body)) == [loc]


def test_clock_advance_over_http(api: Api) -> None:
    before = api.http.get("/_sandbox/clock").json()
    out = api.http.post("/_sandbox/clock/advance", json={"seconds": 3600}).json()
    assert out["offset_seconds"] == before["offset_seconds"] + 3600 and out["now"] > before["now"]
    assert locs(api.http.post("/_sandbox/clock/advance", json={"seconds": -1})) == [["body", "seconds"]]


def test_executions_listing_has_the_documented_fields(api: Api) -> None:
    execution = api.collect(api.source())
    rows = api.executions()
    assert len(rows) == 1
    row = rows[0]
    for field in (
        "reference_id",
        "operation_type",
        "status",
        "payer_amount",
        "payee_amount",
        "currency",
        "payer_currency",
        "payee_currency",
        "session_id",
        "account_number",
        "created_at",
    ):
        assert field in row
    assert row["reference_id"] == execution["reference_id"] and row["currency"] == "USD"


def test_reset_over_http_restores_the_initial_state(sb: Sandbox, api: Api) -> None:
    api.payout(100)
    api.advance(10)
    assert sb.wallets()["USD"] < 10000
    assert api.http.post("/_sandbox/reset").status_code == 200
    assert sb.wallets() == {"USD": 10000, "LRD": 2000000, "RWF": 10000000}
    assert sb.executions() == []
    assert api.http.get("/_sandbox/clock").json()["offset_seconds"] == 0
    api.login()
    assert api.ok("GET", "/v1/parties/list") == []
    assert api.party()["id"] == 1


def test_config_over_http(api: Api) -> None:
    assert api.http.get("/_sandbox/config").json()["verified"] is True
    out = api.http.post("/_sandbox/config", json={"verified": False, "latency_ms": 0}).json()
    assert out["verified"] is False
    assert locs(api.http.post("/_sandbox/config", json={"verified": "no"})) == [["body", "verified"]]


def test_inactive_account_switch_over_http(api: Api) -> None:
    account = api.account(api.party()["id"])
    out = api.http.post(
        f"/_sandbox/payment-accounts/{account['id']}/active", json={"is_active": False}
    ).json()
    assert out["is_active"] is False
    assert (
        api.http.post("/_sandbox/payment-accounts/999/active", json={"is_active": False}).status_code == 404
    )


def test_request_counts(sb: Sandbox, api: Api) -> None:
    before = sb.request_count
    by_path = sb.requests_by_path().get("/v1/fees/tiers", 0)
    api.login()
    for _ in range(3):
        api.get("/v1/fees/tiers")
    assert sb.request_count - before == 4
    assert sb.requests_by_path()["/v1/fees/tiers"] - by_path == 3
    assert api.http.get("/_sandbox/requests").json()["total"] >= sb.request_count - 1


def test_global_latency_is_served_concurrently(sb: Sandbox, api: Api) -> None:
    token = api.login()
    sb.configure(latency_ms=200)
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(
        base_url=sb.base_url, limits=httpx.Limits(max_connections=60), timeout=10, verify=False
    ) as client:

        def one(_: int) -> int:
            return client.get("/v1/fees/tiers", headers=headers).status_code

        start = time.perf_counter()
        with ThreadPoolExecutor(max_workers=50) as pool:
            codes = list(pool.map(one, range(50)))
        elapsed = time.perf_counter() - start
    assert codes == [200] * 50
    assert 0.2 <= elapsed < 2.5, elapsed  # serial would take 10 s
    # The control endpoints are not slowed down.
    start = time.perf_counter()
    api.http.get("/_sandbox/clock")
    assert time.perf_counter() - start < 0.2


def test_the_app_also_runs_under_starlette_testclient() -> None:
    import warnings

    from dollr_sandbox import SandboxConfig, create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # starlette nudges towards httpx2; httpx is what we have
        from starlette.testclient import TestClient

    with TestClient(create_app(SandboxConfig(rate_limit_per_minute=0))) as client:
        token = client.post(
            "/v1/jwt/client/obtain/token", json={"client_id": "sandbox", "client_secret": "sandbox-secret"}
        ).json()["access_token"]
        r = client.post(
            "/v1/parties/create",
            json={"fullname": "A", "phone": "231771234567"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert r.status_code == 200 and r.json()["id"] == 1
