"""Raw-HTTP helpers for the sandbox tests: plain httpx and plain JSON, no project client."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

import httpx

PASSCODE_DEVICE = {
    "name": "Payout Server",
    "type": "SERVER",
    "platform": "NODE",
    "user_agent": "tests/1.0",
    "client_ip": "203.0.113.10",
}


def ref() -> str:
    return str(uuid.uuid4())


def passcode(code: str = "123456", phone: str = "231880000000") -> dict[str, Any]:
    return {"token": {"phone": phone, "code": code}, "device": dict(PASSCODE_DEVICE)}


#: A wallet prefix per mobile-money method, so a test number is the operator's (ORANGE_MONEY_RWA has
#: no known prefix: any number is taken for it).
_WALLET_PREFIXES = {
    "MTN_MOMO_LBR": "23188",
    "ORANGE_MONEY_LBR": "23177",
    "MTN_MOMO_RWA": "25078",
    "AIRTEL_RWA": "25072",
    "ORANGE_MONEY_RWA": "25070",
}


def wallet(method: str = "MTN_MOMO_LBR", last4: str = "9999") -> str:
    """A wallet number of ``method``'s operator whose last four digits pick the outcome."""
    return f"{_WALLET_PREFIXES[method]}000{last4}"


def dec(value: Any) -> Decimal:
    """How a careful client reads a JSON number or decimal string."""
    return Decimal(str(value))


def locs(response: httpx.Response) -> list[list[Any]]:
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert isinstance(detail, list) and detail
    for entry in detail:
        assert set(entry) == {"loc", "msg", "type"}, entry
    return [entry["loc"] for entry in detail]


def pay_by_card_on_hosted_page(
    http: httpx.Client, url: str, card: str = "pm_card_threeDSecure2Required", authenticate: bool = True
) -> str:
    """Be the customer in a browser: open Dollr's page, pay by card, answer the bank's 3-D Secure
    prompt with its button. Returns the page as it is left."""
    browser = {"Accept": "text/html"}
    page = http.get(url, headers=browser)
    assert page.status_code == 200 and ">Pay</button>" in page.text, page.text
    choice = {"payment_method": "CREDIT_CARD", "payment_method_id": card}
    page = http.post(f"{url}/form", data=choice, headers=browser, follow_redirects=True)
    assert page.status_code == 200 and "Complete authentication" in page.text, page.text
    answer = {"succeed": "true" if authenticate else "false"}
    page = http.post(f"{url}/authenticate", data=answer, headers=browser, follow_redirects=True)
    assert page.status_code == 200, page.text
    return page.text


class Api:
    """A thin authenticated httpx client with builders for the usual records."""

    def __init__(
        self, base_url: str, client_id: str = "sandbox", client_secret: str = "sandbox-secret"
    ) -> None:
        # Plain HTTP on loopback: skipping certificate loading saves ~20 ms per client.
        self.http = httpx.Client(base_url=base_url, timeout=10, verify=False)
        self.client_id = client_id
        self.client_secret = client_secret
        self.token: str | None = None

    def close(self) -> None:
        self.http.close()

    def login(self) -> str:
        r = self.http.post(
            "/v1/jwt/client/obtain/token",
            json={"client_id": self.client_id, "client_secret": self.client_secret},
        )
        assert r.status_code == 200, r.text
        body = r.json()
        self.token = str(body.get("data", body)["access_token"])
        return self.token

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        if self.token is None:
            self.login()
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.http.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def ok(self, method: str, path: str, **kwargs: Any) -> Any:
        r = self.request(method, path, **kwargs)
        assert r.status_code == 200, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json()

    # --- the sandbox's own view -----------------------------------------------------------

    def executions(self) -> list[dict[str, Any]]:
        r = self.http.get("/_sandbox/executions")
        assert r.status_code == 200
        rows: list[dict[str, Any]] = r.json()
        return rows

    def execution(self, reference_id: str) -> dict[str, Any]:
        return next(row for row in self.executions() if row["reference_id"] == reference_id)

    def wallets(self) -> dict[str, Decimal]:
        r = self.http.get("/_sandbox/wallets")
        return {w["currency"]: dec(w["available"]) for w in r.json()}

    def advance(self, seconds: float) -> None:
        r = self.http.post("/_sandbox/clock/advance", json={"seconds": seconds})
        assert r.status_code == 200, r.text

    # --- builders -------------------------------------------------------------------------

    def party(
        self, phone: str = "231771234567", fullname: str = "Amara Kamara", **extra: Any
    ) -> dict[str, Any]:
        result: dict[str, Any] = self.ok(
            "POST", "/v1/parties/create", json={"fullname": fullname, "phone": phone, **extra}
        )
        return result

    def counterparty(self, party_id: int, relationship: str = "CUSTOMER") -> dict[str, Any]:
        body = {"relationship_type": relationship, "party_id": party_id}
        result: dict[str, Any] = self.ok("POST", "/v1/counterparties/create", json=body)
        return result

    def source(
        self,
        kind: str = "INVOICE",
        currency: str = "USD",
        items: list[tuple[str, int, Any]] | None = None,
        fee_bearer: str = "PAYER",
        publish: bool = True,
        as_payment_link: bool = True,
        counterparty_id: int | None = None,
    ) -> dict[str, Any]:
        """An invoice or order with items, published unless told otherwise."""
        if counterparty_id is None:
            counterparty_id = self.counterparty(self.party()["id"])["id"]
        plural = "invoices" if kind == "INVOICE" else "orders"
        body = {
            "counterparty_id": counterparty_id,
            "currency": currency,
            "note": "Consulting services",
            "fee_bearer": fee_bearer,
            "as_payment_link": as_payment_link,
        }
        created = self.ok("POST", f"/v1/{plural}/create", json=body)
        for name, qty, amount in items if items is not None else [("Strategy Session", 1, 250.0)]:
            self.ok(
                "POST",
                f"/v1/{plural}/{created['id']}/items/add",
                json={"name": name, "currency": currency, "qty": qty, "amount": amount},
            )
        path = (
            f"/v1/{plural}/publish/{created['id']}" if publish else f"/v1/{plural}/retrieve/{created['id']}"
        )
        result: dict[str, Any] = self.ok("PUT" if publish else "GET", path)
        return result

    def account(
        self,
        party_id: int,
        method: str = "MTN_MOMO_LBR",
        number: str | None = "231881234567",
        operation: str = "COLLECTION",
        provider: str | None = None,
        name: str = "Amara MTN Wallet",
        card: str | None = None,
    ) -> dict[str, Any]:
        providers = {"CREDIT_CARD": "STRIPE", "WALLET": "PLATFORM"}
        body: dict[str, Any] = {
            "account_name": name,
            "provider": provider or providers.get(method, "PAWAPAY"),
            "method": method,
            "party_id": party_id,
        }
        if number is not None:
            body["insensitive_account_number"] = number
        if card is not None:
            body["payment_method_id"] = card
        result: dict[str, Any] = self.ok(
            "POST", f"/v1/payment-accounts/create?operation_type={operation}", json=body
        )
        return result

    def payer_account(
        self, source: dict[str, Any], number: str = "231881234567", method: str = "MTN_MOMO_LBR"
    ) -> dict[str, Any]:
        """A collection account owned by the party the document bills."""
        return self.account(self.payer_of(source), method=method, number=number)

    def payer_of(self, source: dict[str, Any]) -> int:
        """The party a document bills."""
        counterparty = self.ok("GET", f"/v1/counterparties/retrieve/{source['counterparty_id']}")
        return int(counterparty["party_id"])

    def checkout_session(self, source: dict[str, Any], source_type: str | None = None) -> dict[str, Any]:
        kind = source_type or ("INVOICE" if "invoice_number" in source else "ORDER")
        result: dict[str, Any] = self.ok(
            "POST", "/v1/sessions/checkout", json={"source_id": source["id"], "source_type": kind}
        )
        return result

    def collect(
        self,
        source: dict[str, Any],
        number: str | None = "231881234567",
        currency: str | None = None,
        method: str = "MTN_MOMO_LBR",
        name: str = "Amara MTN Wallet",
        card: str | None = None,
    ) -> dict[str, Any]:
        """Session, account and execute for one collection; returns the execution response."""
        session = self.checkout_session(source)
        account = self.account(self.payer_of(source), method=method, number=number, name=name, card=card)
        body = {
            "session_id": str(session["id"]),
            "payment_account_id": str(account["id"]),
            "currency": currency or source["currency"],
            "reference_id": ref(),
        }
        result: dict[str, Any] = self.ok("POST", "/v1/executions/collection", json=body)
        return result

    def payout(
        self,
        amount: Any,
        currency: str = "USD",
        number: str | None = "231880001234",
        method: str = "MTN_MOMO_LBR",
        code: str = "123456",
    ) -> dict[str, Any]:
        account = self.account(
            self.party()["id"], method=method, number=number, operation="PAYOUT", name="Payee"
        )
        session = self.ok(
            "POST",
            "/v1/sessions/payout",
            json={"payout_account_id": account["id"], "amount": amount, "currency": currency},
        )
        body = {
            "session_id": str(session["id"]),
            "payout_account_id": account["id"],
            "reference_id": ref(),
            "passcode": passcode(code),
        }
        result: dict[str, Any] = self.ok("POST", "/v1/executions/payout", json=body)
        return result

    def status(self, operation: str, reference_id: str) -> dict[str, Any]:
        result: dict[str, Any] = self.ok("GET", f"/v1/status/{operation}/{reference_id}")
        return result
