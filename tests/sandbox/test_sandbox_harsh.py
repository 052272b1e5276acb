"""Where the sandbox is as hard as Dollr, not kinder (issues 12 and 17).

An integration that passes here must not break live, so each test pins a behaviour the docs give
Dollr and that a lenient simulator would hide.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from dollr_sandbox import Sandbox
from dollr_sandbox.__main__ import parse_args

from .support import Api, locs, passcode, pay_by_card_on_hosted_page, ref

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


def test_the_customer_receipt_is_a_page_in_a_browser_and_json_for_programs(api: Api) -> None:
    out = api.ok("POST", "/v1/checkouts/create", json=_hosted_checkout())
    token = out["hosted_path_or_token"]
    browser = {"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
    not_yet = api.http.get(f"/_sandbox/receipts/{token}", headers=browser)
    assert not_yet.headers["content-type"].startswith("text/html") and "No receipt yet" in not_yet.text
    assert locs(api.http.get(f"/_sandbox/receipts/{token}")) == [["path", "token"]]
    paid = api.http.post(f"/_sandbox/hosted/{token}/form", data={"account_number": "231880001234"})
    assert paid.status_code == 303
    api.advance(5)
    page = api.http.get(f"/_sandbox/hosted/{token}", headers=browser)
    assert f"/_sandbox/receipts/{token}" in page.text  # the paid page leads to the receipt
    receipt = api.http.get(f"/_sandbox/receipts/{token}", headers=browser)
    assert receipt.status_code == 200 and receipt.headers["content-type"].startswith("text/html")
    assert out["source_number"] in receipt.text and "T-Shirt" in receipt.text and "USD 25.00" in receipt.text
    assert "window.print()" in receipt.text and "{" not in receipt.text.split("<style>")[0]
    data = api.http.get(f"/_sandbox/receipts/{token}").json()
    assert data["order_number"] == out["source_number"] and data["order_items"][0]["name"] == "T-Shirt"


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


# --- operator vs number, account vs party (issue 17 #2) -------------------------------------

_ACCOUNTS = "/v1/payment-accounts/create?operation_type=COLLECTION"


def _momo_body(party_id: int, method: str, number: str) -> dict[str, Any]:
    return {
        "account_name": "Wallet",
        "provider": "PAWAPAY",
        "method": method,
        "party_id": party_id,
        "insensitive_account_number": number,
    }


def test_a_wallet_number_of_another_operator_is_refused(sb: Sandbox, api: Api) -> None:
    party = api.party()["id"]
    for method, number in [
        ("MTN_MOMO_LBR", "231771234567"),  # Orange Liberia
        ("ORANGE_MONEY_LBR", "231881234567"),  # MTN Liberia
        ("MTN_MOMO_LBR", "250781234567"),  # MTN Rwanda
        ("AIRTEL_RWA", "250781234567"),
    ]:
        r = api.post(_ACCOUNTS, json=_momo_body(party, method, number))
        assert locs(r) == [["body", "method"]], (method, number)
        assert r.json()["detail"][0]["type"] == "value_error.combination"
        assert "invalid combination" in r.json()["detail"][0]["msg"]
    assert api.ok("POST", _ACCOUNTS, json=_momo_body(party, "ORANGE_MONEY_LBR", "231771234567"))["id"]
    assert api.ok(
        "POST",
        "/v1/payment-accounts/create?operation_type=PAYOUT",
        json=_momo_body(party, "MTN_MOMO_RWA", "250791234567"),
    )
    sb.configure(check_operator=False)
    assert api.ok("POST", _ACCOUNTS, json=_momo_body(party, "MTN_MOMO_LBR", "231771234567"))["id"]


def test_a_collection_from_another_partys_account_is_refused(sb: Sandbox, api: Api) -> None:
    source = api.source()
    session = api.checkout_session(source)
    stranger = api.account(api.party(phone="231889999999", fullname="Someone Else")["id"])
    r = _execute(api, session, stranger)
    assert locs(r) == [["body", "payment_account_id"]] and "belongs to party" in r.json()["detail"][0]["msg"]
    assert api.executions() == []
    # Nothing was used up: the payer's own account pays on the same session.
    assert _execute(api, session, api.payer_account(source)).status_code == 200
    sb.configure(check_account_party=False)
    other = api.source()
    assert _execute(api, api.checkout_session(other), stranger).status_code == 200


def test_the_command_line_can_switch_the_checks_off() -> None:
    defaults = parse_args([])
    assert (defaults.no_operator_check, defaults.no_party_check) == (False, False)
    switched = parse_args(["--no-operator-check", "--no-party-check"])
    assert (switched.no_operator_check, switched.no_party_check) == (True, True)


# --- hosted checkout expiry (issue 17 #3) ---------------------------------------------------


def _in(sb: Sandbox, seconds: int) -> str:
    return (sb.now() + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%SZ")


def test_an_expired_hosted_checkout_cannot_be_paid(sb: Sandbox, api: Api) -> None:
    out = api.ok("POST", "/v1/checkouts/create", json=_hosted_checkout(expires_at=_in(sb, 600)))
    token = out["hosted_path_or_token"]
    assert api.http.get(out["url"]).json()["expired"] is False
    api.advance(601)
    page = api.http.get(out["url"]).json()
    assert page["expired"] is True and page["status"] == "ACTIVE"
    r = api.http.post(f"/_sandbox/hosted/{token}/pay", json={"account_number": "231880001234"})
    assert locs(r) == [["path", "token"]] and "expired" in r.json()["detail"][0]["msg"]
    browser = api.http.get(out["url"], headers={"Accept": "text/html"}).text
    assert "expired" in browser and ">Pay</button>" not in browser
    assert api.executions() == []
    # The docs: after expires_at, re-fetch the pay link while the source is still ACTIVE.
    link = api.ok(
        "GET", "/v1/links/pay", params={"source_type": "ORDER", "source_number": out["source_number"]}
    )["url"]
    assert link != out["url"]
    paid = api.http.post(f"{link}/pay", json={"account_number": "231880001234"})
    assert paid.status_code == 200 and paid.json()["status"] == "PENDING"


def test_a_checkout_cannot_be_created_already_expired(sb: Sandbox, api: Api) -> None:
    r = api.post("/v1/checkouts/create", json=_hosted_checkout(expires_at=_in(sb, -60)))
    assert locs(r) == [["body", "expires_at"]]
    assert api.get("/v1/orders/list").json() == []


def test_a_checkout_without_expiry_stays_payable(sb: Sandbox, api: Api) -> None:
    out = api.ok("POST", "/v1/checkouts/create", json=_hosted_checkout())
    api.advance(30 * 86400)
    api.login()
    assert sb.pay_hosted(out["hosted_path_or_token"], account_number="231880001234")["status"] == "PENDING"


# --- rate limits (issue 17 #4) --------------------------------------------------------------


def test_a_fresh_token_does_not_escape_the_merchants_rate_limit(sb: Sandbox, api: Api) -> None:
    sb.configure(rate_limit_per_minute=3)
    assert [api.get("/v1/fees/tiers").status_code for _ in range(3)] == [200] * 3
    api.login()  # a new token, same merchant
    r = api.get("/v1/fees/tiers")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert api.http.get("/_sandbox/config").status_code == 200  # the controls are never limited


def test_the_token_endpoint_is_limited_per_client_id(sb: Sandbox, api: Api) -> None:
    sb.configure(rate_limit_per_minute=1000, token_rate_limit_per_minute=3)
    good = {"client_id": "sandbox", "client_secret": "sandbox-secret"}
    bad = {"client_id": "sandbox", "client_secret": "wrong"}
    codes = [
        api.http.post("/v1/jwt/client/obtain/token", json=body).status_code for body in (good, bad, good)
    ]
    assert codes == [200, 401, 200]
    r = api.http.post("/v1/jwt/client/obtain/token", json=good)
    assert r.status_code == 429 and r.json() == {"detail": "Too Many Requests: rate limit exceeded"}
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    other = {"client_id": "someone-else", "client_secret": "x"}
    assert api.http.post("/v1/jwt/client/obtain/token", json=other).status_code == 401


def test_the_rate_limit_switches_and_command_line() -> None:
    assert parse_args([]).token_rate_limit == 60
    assert parse_args(["--token-rate-limit", "5"]).token_rate_limit == 5


# --- onboarding, passcodes, bearer headers, 422 spelling (issue 17 #5) ----------------------


def test_payment_links_and_hosted_checkout_need_a_verified_merchant(sb: Sandbox, api: Api) -> None:
    source = api.source()
    link = {"source_type": "INVOICE", "source_number": source["invoice_number"]}
    sb.set_verified(False)
    r = api.get("/v1/links/pay", params=link)
    assert r.status_code == 403 and "verified merchant" in r.json()["detail"]
    assert api.post("/v1/checkouts/create", json=_hosted_checkout()).status_code == 403
    assert api.get("/v1/orders/list").json() == []
    sb.set_verified(True)
    assert api.get("/v1/links/pay", params=link).status_code == 200


def _payout_attempt(api: Api, code: str) -> tuple[dict[str, Any], dict[str, Any]]:
    account = api.account(api.party()["id"], operation="PAYOUT", number="231880001234", name="Payee")
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": 5, "currency": "USD"},
    )
    body = {
        "session_id": str(session["id"]),
        "payout_account_id": account["id"],
        "reference_id": ref(),
        "passcode": passcode(code),
    }
    return body, session


def test_a_wrong_passcode_can_be_answered_403_or_422(sb: Sandbox, api: Api) -> None:
    sb.configure(wrong_passcode="403")
    body, _ = _payout_attempt(api, "000000")
    r = api.post("/v1/executions/payout", json=body)
    assert r.status_code == 403 and "Passcode" in r.json()["detail"]
    assert api.get(f"/v1/status/payout/{body['reference_id']}").status_code == 404
    # Nothing was used up: the right passcode goes through on the same session.
    right = {**body, "passcode": passcode()}
    assert api.ok("POST", "/v1/executions/payout", json=right)["status"] == "PENDING"

    sb.configure(wrong_passcode="422")
    body, _ = _payout_attempt(api, "000000")
    r = api.post("/v1/executions/payout", json=body)
    assert locs(r) == [["body", "passcode", "token", "code"]]
    assert [row["reference_id"] for row in api.executions()] == [right["reference_id"]]

    sb.configure(wrong_passcode="failed")
    body, _ = _payout_attempt(api, "000000")
    assert api.ok("POST", "/v1/executions/payout", json=body)["status"] == "FAILED"
    assert parse_args(["--wrong-passcode", "422"]).wrong_passcode == "422"


def test_padded_bearer_tokens_are_refused(api: Api) -> None:
    token = api.login()
    assert api.http.get("/v1/fees/tiers", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    # Padding after the token never reaches the server: HTTP strips it from header values.
    for header in (f"Bearer  {token}", f"Bearer   {token}", f"Bearer \t{token}"):
        r = api.http.get("/v1/fees/tiers", headers={"Authorization": header})
        assert r.status_code == 401, repr(header)
        assert r.json() == {"detail": "Could not validate credentials"}
    assert api.http.get("/v1/fees/tiers", headers={"Authorization": f"Bearer\t{token}"}).json() == {
        "detail": "Not authenticated"
    }


def test_a_missing_field_is_spelled_as_the_docs_show(api: Api) -> None:
    documented = {"msg": "field required", "type": "value_error.missing"}
    r = api.post(
        "/v1/executions/collection",
        json={"session_id": "55", "payment_account_id": "18", "reference_id": ref()},
    )
    assert r.status_code == 422 and r.json() == {"detail": [{"loc": ["body", "currency"], **documented}]}
    r = api.get("/v1/status/source", params={"source_type": "INVOICE"})
    assert r.json() == {"detail": [{"loc": ["query", "source_id"], **documented}]}
    r = api.post("/v1/parties/create", content=b"", headers={"Content-Type": "application/json"})
    assert r.json() == {"detail": [{"loc": ["body"], **documented}]}
    # The other documented example keeps its own shape.
    r = api.post(
        "/v1/executions/collection",
        json={"session_id": "55", "payment_account_id": "18", "currency": "USD", "reference_id": "x"},
    )
    assert r.json()["detail"][0]["msg"].startswith("invalid uuid")
    assert r.json()["detail"][0]["type"] == "value_error"
