"""S1–S4 sessions, PA1 payment accounts, E1–E4 executions, ST1–ST5 and the mobile-money behaviour."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from dollr_sandbox import Sandbox

from .support import Api, dec, locs, passcode, ref

# --- payment accounts -----------------------------------------------------------------------


def test_payment_account_echoes_request(api: Api) -> None:
    party = api.party()
    account = api.account(party["id"])
    assert isinstance(account["id"], int) and account["is_active"] is True
    assert account["method"] == "MTN_MOMO_LBR" and account["provider"] == "PAWAPAY"
    assert (
        account["operation_type"] == "COLLECTION" and account["insensitive_account_number"] == "231881234567"
    )


def test_momo_account_accepts_the_method_name_as_provider(api: Api) -> None:
    account = api.account(api.party()["id"], provider="MTN_MOMO_LBR")
    assert account["provider"] == "MTN_MOMO_LBR"


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"method": "MTN_MOMO_LBR", "provider": "ORANGE_MONEY_LBR"}, ["body", "provider"]),
        ({"method": "MTN_MOMO_LBR", "provider": "STRIPE"}, ["body", "provider"]),
        (
            {"method": "CREDIT_CARD", "provider": "PAWAPAY", "insensitive_account_number": None},
            ["body", "provider"],
        ),
        ({"method": "MTN_MOMO_LBR", "provider": "MPESA"}, ["body", "provider"]),
        ({"method": "MPESA_KEN"}, ["body", "method"]),
        ({"insensitive_account_number": None}, ["body", "insensitive_account_number"]),
        ({"insensitive_account_number": "+231771234567"}, ["body", "insensitive_account_number"]),
        ({"method": "CREDIT_CARD", "provider": "STRIPE"}, ["body", "insensitive_account_number"]),
        ({"country_code": "RW"}, ["body", "country_code"]),
        ({"party_id": 999}, ["body", "party_id"]),
        ({"party_id": "1"}, ["body", "party_id"]),
        ({"method": "WALLET", "provider": "PLATFORM"}, ["body", "method"]),
    ],
)
def test_payment_account_validation(api: Api, body: dict[str, Any], loc: list[str]) -> None:
    party = api.party()
    full = {
        "account_name": "Wallet",
        "provider": "PAWAPAY",
        "method": "MTN_MOMO_LBR",
        "party_id": party["id"],
        "country_code": "LR",
        "insensitive_account_number": "231771234567",
        **body,
    }
    full = {k: v for k, v in full.items() if v is not None}
    assert loc in locs(api.post("/v1/payment-accounts/create?operation_type=COLLECTION", json=full))


def test_payment_account_needs_operation_type(api: Api) -> None:
    body = {
        "account_name": "W",
        "provider": "PAWAPAY",
        "method": "MTN_MOMO_LBR",
        "party_id": api.party()["id"],
        "insensitive_account_number": "231771234567",
    }
    assert locs(api.post("/v1/payment-accounts/create", json=body)) == [["query", "operation_type"]]
    assert locs(api.post("/v1/payment-accounts/create?operation_type=SUBSCRIPTION", json=body)) == [
        ["query", "operation_type"]
    ]


def test_the_contract_sample_number_is_checked_unless_switched_off(sb: Sandbox, api: Api) -> None:
    # 23177… is Orange by prefix, yet the docs call it an MTN wallet: only the switch accepts it.
    body = {
        "account_name": "Amara MTN Wallet",
        "provider": "PAWAPAY",
        "method": "MTN_MOMO_LBR",
        "party_id": api.party()["id"],
        "insensitive_account_number": "231771234567",
    }
    path = "/v1/payment-accounts/create?operation_type=COLLECTION"
    assert locs(api.post(path, json=body)) == [["body", "method"]]
    sb.configure(check_operator=False)
    assert api.ok("POST", path, json=body)["method"] == "MTN_MOMO_LBR"


# --- checkout sessions and collections ------------------------------------------------------


def test_checkout_session_shape_and_expiry(sb: Sandbox, api: Api) -> None:
    source = api.source()
    session = api.checkout_session(source)
    assert session["status"] == "ACTIVE" and session["payment_account_id"] is None
    assert session["source_id"] == source["id"] and session["source_type"] == "INVOICE"
    assert session["expires_at"] > session["created_at"]


@pytest.mark.parametrize("publish", [False])
def test_checkout_session_needs_an_active_source(api: Api, publish: bool) -> None:
    source = api.source(publish=publish)
    r = api.post("/v1/sessions/checkout", json={"source_id": source["id"], "source_type": "INVOICE"})
    assert locs(r) == [["body", "source_id"]]
    assert locs(api.post("/v1/sessions/checkout", json={"source_id": 999, "source_type": "INVOICE"})) == [
        ["body", "source_id"]
    ]


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"source_kind": "INVOICE"}, ["body", "source_kind"]),
        ({"source_type": "SUBSCRIPTION"}, ["body", "source_type"]),
        ({"source_id": "1"}, ["body", "source_id"]),
    ],
)
def test_checkout_session_validation(api: Api, body: dict[str, Any], loc: list[str]) -> None:
    source = api.source()
    full = {"source_id": source["id"], "source_type": "INVOICE", **body}
    assert loc in locs(api.post("/v1/sessions/checkout", json=full))


def test_collection_lifecycle_moves_source_and_wallet(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()
    source = api.source(items=[("Strategy Session", 1, 250.0)])
    execution = api.collect(source)
    assert execution["status"] == "PENDING" and execution["operation_type"] == "COLLECTION"
    assert isinstance(execution["payment_intent_id"], int)
    assert execution["requires_action"] is False and execution["client_secret"] is None
    status = api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]})
    assert status["status"] == "PROCESSING" and status["paid_at"] is None

    api.advance(1.5)
    processing = api.status("collection", execution["reference_id"])
    assert processing["status"] == "PROCESSING" and processing["provider_transaction_id"]
    api.advance(3)
    done = api.status("collection", execution["reference_id"])
    assert done["status"] == "COMPLETED"
    status = api.ok("GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]})
    assert status["status"] == "PAID" and status["paid_at"]
    assert sb.wallets()["USD"] - before["USD"] == dec(done["payee_amount"]) == Decimal("250.00")
    row = api.execution(execution["reference_id"])
    assert row["status"] == "COMPLETED" and row["account_number"] == "231881234567"


@pytest.mark.parametrize(
    "number,status,seconds,message",
    [
        ("231880000001", "FAILED", 5, "declined"),
        ("231880000002", "FAILED", 5, "insufficient funds"),
        ("231880000003", "COMPLETED", 182, None),
        ("231880000004", "FAILED", 122, "did not approve"),
        ("231880009999", "COMPLETED", 5, None),
    ],
)
def test_test_numbers_decide_the_outcome(
    sb: Sandbox, api: Api, number: str, status: str, seconds: float, message: str | None
) -> None:
    before = sb.wallets()["USD"]
    source = api.source()
    execution = api.collect(source, number=number)
    api.advance(seconds - 3)
    assert api.status("collection", execution["reference_id"])["status"] in ("PENDING", "PROCESSING")
    api.advance(3)
    final = api.status("collection", execution["reference_id"])
    assert final["status"] == status
    if message:
        assert message in final["gateway_message"]
    source_status = api.ok(
        "GET", "/v1/status/source", params={"source_type": "INVOICE", "source_id": source["id"]}
    )
    expected_source = "PAID" if status == "COMPLETED" else "ACTIVE"
    assert source_status["status"] == expected_source
    moved = sb.wallets()["USD"] - before
    assert moved == (dec(final["payee_amount"]) if status == "COMPLETED" else 0)


def test_failed_collection_can_be_retried_with_a_new_session(api: Api) -> None:
    source = api.source()
    first = api.collect(source, number="231880000001")
    api.advance(10)
    assert api.status("collection", first["reference_id"])["status"] == "FAILED"
    second = api.collect(source)
    api.advance(10)
    assert api.status("collection", second["reference_id"])["status"] == "COMPLETED"


def test_card_3ds_requires_action_then_completes_once_authenticated(sb: Sandbox, api: Api) -> None:
    source = api.source()
    execution = api.collect(source, number=None, method="CREDIT_CARD", card="pm_card_threeDSecure2Required")
    assert execution["status"] == "PROCESSING" and execution["requires_action"] is True
    secret = execution["client_secret"]
    assert secret.startswith("pi_") and "_secret_" in secret
    sb.authenticate_card(execution["reference_id"])
    api.advance(3.5)
    done = api.status("collection", execution["reference_id"])
    assert done["status"] == "COMPLETED" and done["requires_action"] is False


def test_card_plain_and_declined(api: Api) -> None:
    ok = api.collect(api.source(), number=None, method="CREDIT_CARD", name="Customer Card")
    assert ok["status"] == "PENDING" and ok["requires_action"] is False
    declined = api.collect(api.source(), number=None, method="CREDIT_CARD", card="pm_card_chargeDeclined")
    api.advance(5)
    assert api.status("collection", ok["reference_id"])["status"] == "COMPLETED"
    failed = api.status("collection", declined["reference_id"])
    assert failed["status"] == "FAILED" and "declined" in failed["gateway_message"]


def _execute_body(api: Api, session_id: Any, account_id: Any, currency: str = "USD") -> dict[str, Any]:
    return {
        "session_id": session_id,
        "payment_account_id": account_id,
        "currency": currency,
        "reference_id": ref(),
    }


def test_collection_execute_errors(sb: Sandbox, api: Api) -> None:
    source = api.source()
    session = api.checkout_session(source)
    account = api.payer_account(source)
    sid, aid = str(session["id"]), str(account["id"])
    # Ids are JSON strings here (§1.3).
    assert locs(api.post("/v1/executions/collection", json=_execute_body(api, session["id"], aid))) == [
        ["body", "session_id"]
    ]
    assert locs(api.post("/v1/executions/collection", json=_execute_body(api, sid, account["id"]))) == [
        ["body", "payment_account_id"]
    ]
    assert locs(api.post("/v1/executions/collection", json=_execute_body(api, "999", aid))) == [
        ["body", "session_id"]
    ]
    assert locs(api.post("/v1/executions/collection", json=_execute_body(api, sid, "999"))) == [
        ["body", "payment_account_id"]
    ]
    # MTN Liberia settles in USD or LRD only.
    assert locs(api.post("/v1/executions/collection", json=_execute_body(api, sid, aid, "RWF"))) == [
        ["body", "currency"]
    ]
    body = _execute_body(api, sid, aid)
    body["reference_id"] = "550e8400-e29b-11d4-a716-446655440000"  # a v1 UUID
    assert locs(api.post("/v1/executions/collection", json=body)) == [["body", "reference_id"]]
    body["reference_id"] = "not-a-uuid"
    r = api.post("/v1/executions/collection", json=body)
    assert r.json()["detail"][0]["msg"].startswith("invalid uuid")
    # A payout account cannot collect, and an inactive one cannot be used at all.
    payout_account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    assert locs(
        api.post("/v1/executions/collection", json=_execute_body(api, sid, str(payout_account["id"])))
    ) == [["body", "payment_account_id"]]
    sb.set_payment_account_active(account["id"], False)
    r = api.post("/v1/executions/collection", json=_execute_body(api, sid, aid))
    assert locs(r) == [["body", "payment_account_id"]] and "inactive" in r.json()["detail"][0]["msg"]


def test_session_is_single_use_and_expires(sb: Sandbox, api: Api) -> None:
    source = api.source()
    session = api.checkout_session(source)
    account = api.payer_account(source)
    body = _execute_body(api, str(session["id"]), str(account["id"]))
    api.ok("POST", "/v1/executions/collection", json=body)
    again = _execute_body(api, str(session["id"]), str(account["id"]))
    assert locs(api.post("/v1/executions/collection", json=again)) == [["body", "session_id"]]

    other = api.source()
    stale = api.checkout_session(other)
    api.advance(901)
    api.login()
    r = api.post("/v1/executions/collection", json=_execute_body(api, str(stale["id"]), str(account["id"])))
    assert locs(r) == [["body", "session_id"]] and "expired" in r.json()["detail"][0]["msg"]


def test_session_type_must_match_execution_type(api: Api) -> None:
    source = api.source()
    session = api.checkout_session(source)
    payout_account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": payout_account["id"],
        "reference_id": ref(),
        "passcode": passcode(),
    }
    r = api.post("/v1/executions/payout", json=body)
    assert locs(r) == [["body", "session_id"]] and "checkout session" in r.json()["detail"][0]["msg"]
    r = api.post("/v1/executions/transfer", json={"session_id": str(session["id"]), "reference_id": ref()})
    assert locs(r) == [["body", "session_id"]]


# --- payouts --------------------------------------------------------------------------------


def test_payout_debits_amount_plus_fees(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    execution = api.payout(100.0)
    assert execution["status"] == "PENDING" and execution["operation_type"] == "PAYOUT"
    assert dec(execution["payee_amount"]) == Decimal("100.00")
    # Gateway 1.5 % + platform 0.5 %.
    assert dec(execution["payer_amount"]) == Decimal("102.00")
    assert "payment_intent_id" not in execution
    assert before - sb.wallets()["USD"] == Decimal("102.00")  # held at once
    api.advance(5)
    assert api.status("payout", execution["reference_id"])["status"] == "COMPLETED"
    assert before - sb.wallets()["USD"] == Decimal("102.00")
    wallet = next(w for w in sb.wallet_details() if w["currency"] == "USD")
    assert wallet["held"] == 0 and wallet["balance"] == before - Decimal("102.00")


def test_payout_session_shape(api: Api) -> None:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 100.0, "currency": "USD"},
    )
    assert {"id", "payout_account_id", "amount", "currency", "wallet_id", "expires_at"} <= set(session)
    assert session["amount"] == 100 and isinstance(session["wallet_id"], int)


def test_failed_payout_releases_the_hold(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    execution = api.payout(50, number="231880000001")
    assert sb.wallets()["USD"] < before
    api.advance(5)
    final = api.status("payout", execution["reference_id"])
    assert final["status"] == "FAILED" and final["gateway_message"]
    assert sb.wallets()["USD"] == before


def test_payout_with_a_short_wallet_fails_with_a_wallet_message(sb: Sandbox, api: Api) -> None:
    execution = api.payout(9999.0)
    assert execution["status"] == "FAILED"
    assert execution["wallet_message"].startswith("Insufficient wallet balance: USD 10000.00 available, USD ")
    assert sb.wallets()["USD"] == Decimal("10000.00")
    assert api.execution(execution["reference_id"])["status"] == "FAILED"


def test_wrong_passcode_fails_at_once(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    execution = api.payout(10, code="000000")
    assert execution["status"] == "FAILED" and "Passcode" in execution["gateway_message"]
    assert sb.wallets()["USD"] == before


def test_payout_passcode_by_user_id(api: Api) -> None:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 5, "currency": "USD"},
    )
    code = passcode()
    code["token"] = {"user_id": 1, "code": "123456"}
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": str(account["id"]),
        "reference_id": ref(),
        "passcode": code,
    }
    assert api.ok("POST", "/v1/executions/payout", json=body)["status"] == "PENDING"


@pytest.mark.parametrize(
    "mutate,loc",
    [
        (lambda b: b.pop("passcode"), ["body", "passcode"]),
        (lambda b: b["passcode"]["device"].pop("client_ip"), ["body", "passcode", "device", "client_ip"]),
        (lambda b: b["passcode"]["token"].pop("code"), ["body", "passcode", "token", "code"]),
        (lambda b: b["passcode"]["token"].pop("phone"), ["body", "passcode", "token"]),
        (lambda b: b.update(payout_account_id=12345), ["body", "payout_account_id"]),
        (lambda b: b.update(session_id=int(b["session_id"])), ["body", "session_id"]),
    ],
)
def test_payout_execute_validation(api: Api, mutate: Any, loc: list[str]) -> None:
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
        "passcode": passcode(),
    }
    mutate(body)
    assert locs(api.post("/v1/executions/payout", json=body)) == [loc]


@pytest.mark.parametrize(
    "body,loc",
    [
        ({"currency": "RWF"}, ["body", "currency"]),
        ({"amount": 0}, ["body", "amount"]),
        ({"amount": 1.234}, ["body", "amount"]),
        ({"payout_account_id": "ACCOUNT"}, ["body", "payout_account_id"]),
        ({"wallet_id": 1}, ["body", "wallet_id"]),
        ({"expires_at": "2030-01-01T00:00:00Z"}, ["body", "expires_at"]),
    ],
)
def test_payout_session_validation(api: Api, body: dict[str, Any], loc: list[str]) -> None:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    full = {"payout_account_id": account["id"], "amount": 5, "currency": "USD", **body}
    assert locs(api.post("/v1/sessions/payout", json=full)) == [loc]


def test_payout_account_must_be_a_payout_account(api: Api) -> None:
    collection_account = api.account(api.party()["id"])
    r = api.post(
        "/v1/sessions/payout",
        json={"payout_account_id": collection_account["id"], "amount": 5, "currency": "USD"},
    )
    assert locs(r) == [["body", "payout_account_id"]] and "PAYOUT" in r.json()["detail"][0]["msg"]


def test_unverified_merchant_gets_403_on_money_out(sb: Sandbox, api: Api) -> None:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 5, "currency": "USD"},
    )
    sb.set_verified(False)
    assert (
        api.post(
            "/v1/sessions/payout", json={"payout_account_id": account["id"], "amount": 5, "currency": "USD"}
        ).status_code
        == 403
    )
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": account["id"],
        "reference_id": ref(),
        "passcode": passcode(),
    }
    r = api.post("/v1/executions/payout", json=body)
    assert r.status_code == 403 and isinstance(r.json()["detail"], str)
    transfer = {
        "from_wallet_id": 1,
        "to_counterparty_id": 1,
        "amount": 5,
        "currency": "USD",
        "expires_at": "2099-01-01T00:00:00Z",
    }
    assert api.post("/v1/sessions/transfer", json=transfer).status_code == 403
    assert (
        api.post("/v1/executions/transfer", json={"session_id": "1", "reference_id": ref()}).status_code
        == 403
    )
    refund = {"original_payment_intent_id": 1, "amount": 5, "expires_at": "2099-01-01T00:00:00Z"}
    assert api.post("/v1/sessions/refund", json=refund).status_code == 403
    assert (
        api.post("/v1/executions/refund", json={"session_id": "1", "reference_id": ref()}).status_code == 403
    )
    # Collections still work before verification.
    assert api.collect(api.source())["status"] == "PENDING"
    # And the HTTP switch flips it back.
    assert api.http.post("/_sandbox/config", json={"verified": True}).json()["verified"] is True
    assert api.ok("POST", "/v1/executions/payout", json=body)["status"] == "PENDING"


def test_payout_to_a_slow_number_holds_until_it_completes(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    execution = api.payout(10, number="231880000003")
    api.advance(100)
    assert api.status("payout", execution["reference_id"])["status"] == "PROCESSING"
    api.advance(100)
    assert api.status("payout", execution["reference_id"])["status"] == "COMPLETED"
    assert before - sb.wallets()["USD"] == dec(execution["payer_amount"])


def test_each_execution_moves_when_its_own_step_falls_due(sb: Sandbox, api: Api) -> None:
    # The sandbox queues every open execution's next step by time (`state._due`): executions made
    # at different times, one of them slow, each move at their own moment and no sooner.
    before = sb.wallets()["USD"]
    slow = api.payout(10, number="231880000003")
    first = api.payout(11)
    api.advance(1.5)
    later = api.payout(12)

    def states() -> list[str]:
        return [api.status("payout", e["reference_id"])["status"] for e in (slow, first, later)]

    assert states() == ["PROCESSING", "PROCESSING", "PENDING"]
    api.advance(3)  # 4.5 s: the first is final (4 s), the later one processing (due 5.5 s)
    assert states() == ["PROCESSING", "COMPLETED", "PROCESSING"]
    api.advance(2)
    assert states() == ["PROCESSING", "COMPLETED", "COMPLETED"]
    api.advance(200)
    assert states() == ["COMPLETED", "COMPLETED", "COMPLETED"]
    paid = sum(dec(e["payer_amount"]) for e in (slow, first, later))
    assert before - sb.wallets()["USD"] == paid


def test_wallet_payout(sb: Sandbox, api: Api) -> None:
    execution = api.payout(20, method="WALLET", number=None)
    assert dec(execution["payer_amount"]) == Decimal("20.10")  # platform 0.5 %, no gateway fee
    api.advance(5)
    assert api.status("payout", execution["reference_id"])["status"] == "COMPLETED"


# --- transfers and refunds ------------------------------------------------------------------


def _transfer_session(api: Api, **overrides: Any) -> dict[str, Any]:
    counterparty = api.counterparty(api.party()["id"], "PARTNER")
    body = {
        "from_wallet_id": 1,
        "to_counterparty_id": counterparty["id"],
        "amount": 40,
        "currency": "USD",
        "expires_at": "2099-01-01T00:00:00Z",
        **overrides,
    }
    return api.ok("POST", "/v1/sessions/transfer", json=body)  # type: ignore[no-any-return]


def test_transfer(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    session = _transfer_session(api)
    assert isinstance(session["id"], int)
    execution = api.ok(
        "POST", "/v1/executions/transfer", json={"session_id": str(session["id"]), "reference_id": ref()}
    )
    assert execution["operation_type"] == "TRANSFER" and dec(execution["payer_amount"]) == Decimal("40.20")
    api.advance(5)
    assert api.status("transfer", execution["reference_id"])["status"] == "COMPLETED"
    assert before - sb.wallets()["USD"] == Decimal("40.20")


@pytest.mark.parametrize(
    "overrides,loc",
    [
        ({"from_wallet_id": 99}, ["body", "from_wallet_id"]),
        ({"currency": "LRD"}, ["body", "currency"]),
        ({"to_counterparty_id": 99}, ["body", "to_counterparty_id"]),
        ({"expires_at": "2001-01-01T00:00:00Z"}, ["body", "expires_at"]),
        ({"amount": -1}, ["body", "amount"]),
    ],
)
def test_transfer_session_validation(api: Api, overrides: dict[str, Any], loc: list[str]) -> None:
    counterparty = api.counterparty(api.party()["id"], "PARTNER")
    body = {
        "from_wallet_id": 1,
        "to_counterparty_id": counterparty["id"],
        "amount": 40,
        "currency": "USD",
        "expires_at": "2099-01-01T00:00:00Z",
        **overrides,
    }
    assert locs(api.post("/v1/sessions/transfer", json=body)) == [loc]


def test_transfer_with_a_short_wallet_fails(api: Api) -> None:
    session = _transfer_session(api, amount=20000)
    execution = api.ok(
        "POST", "/v1/executions/transfer", json={"session_id": str(session["id"]), "reference_id": ref()}
    )
    assert execution["status"] == "FAILED" and "Insufficient wallet balance" in execution["wallet_message"]


def _paid_collection(api: Api, amount: float = 100.0) -> dict[str, Any]:
    source = api.source(items=[("x", 1, amount)])
    execution = api.collect(source)
    api.advance(5)
    return execution


def test_refund_partial_then_rest_then_too_much(sb: Sandbox, api: Api) -> None:
    execution = _paid_collection(api)
    intent = execution["payment_intent_id"]
    before = sb.wallets()["USD"]
    session = api.ok(
        "POST",
        "/v1/sessions/refund",
        json={
            "original_payment_intent_id": intent,
            "amount": 60,
            "expires_at": "2099-01-01T00:00:00Z",
            "reason": "Partial",
        },
    )
    refund = api.ok(
        "POST", "/v1/executions/refund", json={"session_id": str(session["id"]), "reference_id": ref()}
    )
    assert refund["operation_type"] == "REFUND" and dec(refund["payer_amount"]) == 60
    api.advance(5)
    assert api.status("refund", refund["reference_id"])["status"] == "COMPLETED"
    assert before - sb.wallets()["USD"] == 60
    r = api.post(
        "/v1/sessions/refund",
        json={"original_payment_intent_id": intent, "amount": 40.01, "expires_at": "2099-01-01T00:00:00Z"},
    )
    assert locs(r) == [["body", "amount"]]
    api.ok(
        "POST",
        "/v1/sessions/refund",
        json={"original_payment_intent_id": intent, "amount": 40, "expires_at": "2099-01-01T00:00:00Z"},
    )


def test_refund_needs_a_completed_collection(api: Api) -> None:
    pending = api.collect(api.source())
    body = {
        "original_payment_intent_id": pending["payment_intent_id"],
        "amount": 1,
        "expires_at": "2099-01-01T00:00:00Z",
    }
    assert locs(api.post("/v1/sessions/refund", json=body)) == [["body", "original_payment_intent_id"]]
    body["original_payment_intent_id"] = 9999
    assert locs(api.post("/v1/sessions/refund", json=body)) == [["body", "original_payment_intent_id"]]


# --- status ---------------------------------------------------------------------------------


def test_status_by_reference_is_per_operation_type(api: Api) -> None:
    collection = api.collect(api.source())
    payout = api.payout(5)
    assert api.status("collection", collection["reference_id"])["reference_id"] == collection["reference_id"]
    assert api.status("payout", payout["reference_id"])["operation_type"] == "PAYOUT"
    for operation in ("payout", "transfer", "refund"):
        assert api.get(f"/v1/status/{operation}/{collection['reference_id']}").status_code == 404
    assert api.get(f"/v1/status/collection/{payout['reference_id']}").status_code == 404
    assert api.get(f"/v1/status/collection/{ref()}").status_code == 404


def test_source_status_errors(api: Api) -> None:
    source = api.source()
    assert (
        api.get("/v1/status/source", params={"source_type": "ORDER", "source_id": source["id"]}).status_code
        == 404
    )
    assert (
        api.get("/v1/status/source", params={"source_type": "INVOICE", "source_id": 999}).status_code == 404
    )
    assert locs(api.get("/v1/status/source", params={"source_type": "SUBSCRIPTION", "source_id": 1})) == [
        ["query", "source_type"]
    ]
    assert locs(api.get("/v1/status/source", params={"source_kind": "INVOICE", "source_id": 1})) == [
        ["query", "source_kind"]
    ]
    both = {"source_type": "INVOICE", "source_kind": "INVOICE", "source_id": source["id"]}
    assert locs(api.get("/v1/status/source", params=both)) == [["query", "source_kind"]]


def test_execution_response_has_the_full_field_set(api: Api) -> None:
    execution = api.collect(api.source())
    assert set(execution) == {
        "reference_id",
        "status",
        "operation_type",
        "payer_amount",
        "payer_currency",
        "payee_amount",
        "payee_currency",
        "provider_transaction_id",
        "gateway_message",
        "wallet_message",
        "requires_action",
        "client_secret",
        "payment_intent_id",
    }


# --- lenient mode and the data envelope -----------------------------------------------------


def test_lenient_mode_accepts_ids_both_ways_and_the_legacy_payout_body(sb: Sandbox, api: Api) -> None:
    sb.configure(lenient=True)
    party = api.party()
    counterparty = api.ok(
        "POST",
        "/v1/counterparties/create",
        json={"relationship_type": "CUSTOMER", "party_id": str(party["id"])},
    )
    assert counterparty["party_id"] == party["id"]
    source = api.source(counterparty_id=counterparty["id"])
    session = api.checkout_session(source)
    account = api.account(party["id"])
    body = {
        "session_id": session["id"],
        "payment_account_id": account["id"],
        "currency": "USD",
        "reference_id": ref(),
    }
    assert api.ok("POST", "/v1/executions/collection", json=body)["status"] == "PENDING"
    # A retry that spells the ids the other way is the same request.
    body.update(session_id=str(session["id"]), payment_account_id=str(account["id"]))
    assert api.ok("POST", "/v1/executions/collection", json=body)["status"] == "PENDING"

    payout_account = api.account(party["id"], operation="PAYOUT", number="231880001234")
    legacy = {
        "wallet_id": 1,
        "payment_account_id": payout_account["id"],
        "amount": 12.5,
        "currency": "USD",
        "expires_at": "2099-01-01T00:00:00Z",
    }
    session = api.ok("POST", "/v1/sessions/payout", json=legacy)
    assert (
        session["payout_account_id"] == payout_account["id"]
        and session["expires_at"] != "2099-01-01T00:00:00Z"
    )
    sb.configure(lenient=False)
    assert locs(api.post("/v1/sessions/payout", json=legacy)) == [
        ["body", "payout_account_id"],
        ["body", "wallet_id"],
        ["body", "expires_at"],
        ["body", "payment_account_id"],
    ]


def test_data_envelope_wraps_every_v1_success(sb: Sandbox, api: Api) -> None:
    sb.configure(data_envelope=True)
    party = api.ok("POST", "/v1/parties/create", json={"fullname": "A", "phone": "231771234567"})["data"]
    assert isinstance(party["id"], int)
    assert api.ok("GET", "/v1/parties/list")["data"][0]["id"] == party["id"]
    assert (
        "data"
        in api.http.post(
            "/v1/jwt/client/obtain/token", json={"client_id": "sandbox", "client_secret": "sandbox-secret"}
        ).json()
    )
    # Errors and the sandbox's own endpoints stay bare.
    assert "detail" in api.get("/v1/parties/retrieve/99").json()
    assert isinstance(api.http.get("/_sandbox/executions").json(), list)
