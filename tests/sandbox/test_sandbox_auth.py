"""A1 tokens, the two 401 bodies, expiry on the sandbox clock, and the rate limit."""

from __future__ import annotations

import pytest

from dollr_sandbox import Sandbox

from .support import Api, locs


def test_token_is_issued_for_the_documented_credentials(api: Api) -> None:
    r = api.http.post(
        "/v1/jwt/client/obtain/token", json={"client_id": "sandbox", "client_secret": "sandbox-secret"}
    )
    assert r.status_code == 200
    body = r.json()
    assert body["expires_in"] == 60
    assert isinstance(body["access_token"], str) and body["access_token"].count(".") == 2


@pytest.mark.parametrize(
    "body",
    [
        {"client_id": "sandbox", "client_secret": "wrong"},
        {"client_id": "other", "client_secret": "sandbox-secret"},
    ],
)
def test_bad_client_credentials_are_401(api: Api, body: dict[str, str]) -> None:
    r = api.http.post("/v1/jwt/client/obtain/token", json=body)
    assert r.status_code == 401
    assert isinstance(r.json()["detail"], str)


def test_missing_token_fields_are_422(api: Api) -> None:
    r = api.http.post("/v1/jwt/client/obtain/token", json={"client_id": "sandbox"})
    assert locs(r) == [["body", "client_secret"]]


def test_no_authorization_header_is_not_authenticated(api: Api) -> None:
    r = api.http.get("/v1/parties/list")
    assert r.status_code == 401
    assert r.json() == {"detail": "Not authenticated"}


@pytest.mark.parametrize("header", ["Bearer nonsense", "Bearer a.b.c", "Basic abc"])
def test_bad_token(api: Api, header: str) -> None:
    r = api.http.get("/v1/parties/list", headers={"Authorization": header})
    assert r.status_code == 401
    expected = "Not authenticated" if header.startswith("Basic") else "Could not validate credentials"
    assert r.json() == {"detail": expected}


def test_token_expires_after_expires_in_minutes_of_sandbox_clock(api: Api) -> None:
    api.login()
    assert api.get("/v1/parties/list").status_code == 200
    api.advance(59 * 60)
    assert api.get("/v1/parties/list").status_code == 200
    api.advance(61)
    r = api.get("/v1/parties/list")
    assert r.status_code == 401
    assert r.json() == {"detail": "Could not validate credentials"}
    api.login()
    assert api.get("/v1/parties/list").status_code == 200


def test_reset_revokes_tokens(sb: Sandbox, api: Api) -> None:
    api.login()
    sb.reset()
    assert api.get("/v1/parties/list").status_code == 401


def test_realtime_key_is_not_an_access_token(api: Api) -> None:
    from .support import ref

    source = api.source()
    session = api.checkout_session(source)
    key = api.ok(
        "POST",
        "/v1/realtime-keys/collection",
        json={"session_id": session["id"], "source_type": "INVOICE", "reference_id": ref()},
    )
    r = api.http.get("/v1/parties/list", headers={"Authorization": f"Bearer {key['access_token']}"})
    assert r.status_code == 401


def test_rate_limit_answers_429_with_retry_after(sb: Sandbox, api: Api) -> None:
    sb.configure(rate_limit_per_minute=5)
    api.login()
    codes = [api.get("/v1/fees/tiers").status_code for _ in range(7)]
    assert codes[:5] == [200] * 5
    assert codes[5:] == [429, 429]
    r = api.get("/v1/fees/tiers")
    assert r.status_code == 429
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    # The window is the merchant's: a fresh token shares it.
    other = Api(sb.base_url)
    assert other.get("/v1/fees/tiers").status_code == 429
    other.close()


def test_rate_limit_zero_disables_it(sb: Sandbox, api: Api) -> None:
    sb.configure(rate_limit_per_minute=0)
    assert all(api.get("/v1/fees/tiers").status_code == 200 for _ in range(30))
