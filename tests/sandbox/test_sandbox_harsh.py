"""Where the sandbox is as hard as Dollr, not kinder (issues 12 and 17).

An integration that passes here must not break live, so each test pins a behaviour the docs give
Dollr and that a lenient simulator would hide.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from dollr_core.sandbox import Sandbox
from dollr_core.sandbox.__main__ import parse_args

from .support import Api, locs, pay_by_card_on_hosted_page, ref

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


# --- 3-D Secure waits for the customer (issue 17 #1) ----------------------------------------


def _card_collection(api: Api, card: str) -> tuple[dict[str, Any], dict[str, Any]]:
    source = api.source()
    counterparty = api.ok("GET", f"/v1/counterparties/retrieve/{source['counterparty_id']}")
    account = api.account(counterparty["party_id"], method="CREDIT_CARD", number=None, card=card)
    response = _execute(api, api.checkout_session(source), account)
    assert response.status_code == 200, response.text
    return source, response.json()


def _source_status(api: Api, source: dict[str, Any]) -> str:
    params = {"source_type": "INVOICE", "source_id": source["id"]}
    return str(api.ok("GET", "/v1/status/source", params=params)["status"])


def test_3ds_waits_for_the_customer_and_fails_unauthenticated(api: Api) -> None:
    source, execution = _card_collection(api, "pm_card_threeDSecure2Required")
    assert execution["status"] == "PROCESSING" and execution["requires_action"] is True
    api.advance(120)  # well past the processing time: nobody authenticated, so nothing is charged
    waiting = api.status("collection", execution["reference_id"])
    assert waiting["status"] == "PROCESSING" and waiting["requires_action"] is True
    api.advance(500)  # 620 s in all: past the 600 s the customer has to authenticate
    failed = api.status("collection", execution["reference_id"])
    assert failed["status"] == "FAILED" and failed["requires_action"] is False
    assert "did not complete 3-D Secure" in failed["gateway_message"]
    assert _source_status(api, source) == "ACTIVE"


def test_3ds_completed_through_the_control_call(sb: Sandbox, api: Api) -> None:
    before = sb.wallets()["USD"]
    source, execution = _card_collection(api, "pm_card_authenticationRequired")
    r = api.http.post(f"/_sandbox/authentications/{execution['reference_id']}", json={"succeed": True})
    assert r.status_code == 200 and r.json()["requires_action"] is False
    assert r.json()["status"] == "PROCESSING"
    api.advance(5)
    assert api.status("collection", execution["reference_id"])["status"] == "COMPLETED"
    assert _source_status(api, source) == "PAID"
    assert sb.wallets()["USD"] > before
    # Nothing waits any more.
    again = api.http.post(f"/_sandbox/authentications/{execution['reference_id']}", json={"succeed": True})
    assert again.status_code == 404


def test_3ds_failed_by_the_customer(sb: Sandbox, api: Api) -> None:
    source, execution = _card_collection(api, "pm_card_threeDSecure2Required")
    failed = sb.authenticate_card(execution["reference_id"], succeed=False)
    assert failed["status"] == "FAILED" and "failed 3-D Secure" in failed["gateway_message"]
    assert _source_status(api, source) == "ACTIVE"


def test_test_cards_decide_the_outcome(sb: Sandbox, api: Api) -> None:
    _, declined = _card_collection(api, "pm_card_chargeDeclined")
    _, short = _card_collection(api, "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds")
    _, plain = _card_collection(api, "pm_card_visa")
    assert plain["requires_action"] is False and short["requires_action"] is True
    sb.authenticate_card(short["reference_id"])
    api.advance(5)
    assert "declined" in api.status("collection", declined["reference_id"])["gateway_message"]
    assert "insufficient funds" in api.status("collection", short["reference_id"])["gateway_message"]
    assert api.status("collection", plain["reference_id"])["status"] == "COMPLETED"


def test_card_accounts_carry_a_stripe_payment_method(api: Api) -> None:
    party = api.party()
    account = api.account(party["id"], method="CREDIT_CARD", number=None, card="pm_card_visa")
    assert account["payment_method_id"] == "pm_card_visa"
    # The contract's own card example has none: it pays like pm_card_visa.
    assert api.account(party["id"], method="CREDIT_CARD", number=None)["payment_method_id"] is None
    base = {"account_name": "Card", "provider": "STRIPE", "method": "CREDIT_CARD", "party_id": party["id"]}
    path = "/v1/payment-accounts/create?operation_type=COLLECTION"
    assert locs(api.post(path, json={**base, "payment_method_id": "4242424242424242"})) == [
        ["body", "payment_method_id"]
    ]
    momo = {
        **base,
        "provider": "PAWAPAY",
        "method": "MTN_MOMO_LBR",
        "insensitive_account_number": "231880001234",
    }
    assert locs(api.post(path, json={**momo, "payment_method_id": "pm_card_visa"})) == [
        ["body", "payment_method_id"]
    ]


def test_the_hosted_page_lets_the_customer_pay_by_card_and_authenticate(api: Api) -> None:
    out = api.ok("POST", "/v1/checkouts/create", json=_hosted_checkout())
    token = out["hosted_path_or_token"]
    browser = {"Accept": "text/html"}
    page = api.http.get(f"/_sandbox/hosted/{token}", headers=browser)
    assert page.headers["content-type"].startswith("text/html") and ">Pay</button>" in page.text
    paid = api.http.post(
        f"/_sandbox/hosted/{token}/form",
        data={"payment_method": "CREDIT_CARD", "payment_method_id": "pm_card_threeDSecure2Required"},
    )
    assert paid.status_code == 303
    page = api.http.get(f"/_sandbox/hosted/{token}", headers=browser)
    assert "Complete authentication" in page.text
    waiting = api.http.get(f"/_sandbox/hosted/{token}").json()["awaiting_authentication"]
    assert api.status("collection", waiting)["requires_action"] is True
    api.advance(120)
    assert api.status("collection", waiting)["status"] == "PROCESSING"  # still waiting for the customer
    done = api.http.post(f"/_sandbox/hosted/{token}/authenticate", data={"succeed": "true"})
    assert done.status_code == 303
    api.advance(5)
    assert api.status("collection", waiting)["status"] == "COMPLETED"
    status = api.ok(
        "GET", "/v1/status/source", params={"source_type": "ORDER", "source_id": out["source_id"]}
    )
    assert status["status"] == "PAID"
    assert "PAID" in api.http.get(f"/_sandbox/hosted/{token}", headers=browser).text


def test_a_customer_who_fails_3ds_on_the_hosted_page_pays_nothing(api: Api) -> None:
    out = api.ok("POST", "/v1/checkouts/create", json=_hosted_checkout())
    page = pay_by_card_on_hosted_page(api.http, out["url"], authenticate=False)
    assert ">Pay</button>" in page  # the order is payable again
    assert [row["status"] for row in api.executions()] == ["FAILED"]


def test_the_hosted_page_names_a_bad_choice(api: Api) -> None:
    token = api.ok("POST", "/v1/checkouts/create", json=_hosted_checkout())["hosted_path_or_token"]
    r = api.http.post(
        f"/_sandbox/hosted/{token}/form", data={"payment_method": "CREDIT_CARD", "currency": "RWF"}
    )
    assert r.status_code == 422 and 'role="alert"' in r.text
    assert api.executions() == []


def _hosted_checkout(**overrides: Any) -> dict[str, Any]:
    return {
        "mode": "HOSTED",
        "source_kind": "ORDER",
        "party_name": "Amara Kamara",
        "party_phone": "231771234567",
        "currency": "USD",
        "items": [{"name": "T-Shirt", "currency": "USD", "amount": 25}],
        **overrides,
    }
