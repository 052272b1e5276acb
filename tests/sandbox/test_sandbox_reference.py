"""PR1–PR4 predictions, F1–F4 fees, L1–L2 links, M1 merchant info, R1 realtime keys."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from .support import Api, dec, locs, ref

PR1 = "/v1/predictions/amount-and-fees"


def _pr1(**overrides: Any) -> dict[str, Any]:
    return {
        "base_amount": "100",
        "base_currency": "USD",
        "target_currency": "LRD",
        "payment_method": "MTN_MOMO_LBR",
        "operation_type": "COLLECTION",
        "provider": "PAWAPAY",
        "fee_bearer": "PAYER",
        **overrides,
    }


def test_pr1_reproduces_the_contract_example_fees(api: Api) -> None:
    out = api.ok("GET", PR1, params=_pr1())
    assert out == {
        "payer_amount": "19617.50",  # (100 + 3.25) × 190
        "payer_currency": "LRD",
        "payee_amount": "100.00",
        "payee_currency": "USD",
        "platform_fee": "1.50",
        "platform_currency": "USD",
        "gateway_fee": "1.00",
        "gateway_currency": "USD",
        "fx_fee": "0.75",
    }


def test_pr1_payee_bears_and_same_currency_has_no_fx_fee(api: Api) -> None:
    out = api.ok("GET", PR1, params=_pr1(target_currency="USD", fee_bearer="PAYEE"))
    assert (out["payer_amount"], out["payee_amount"], out["fx_fee"]) == ("100.00", "97.50", None)


def test_pr1_rwf_has_no_decimals(api: Api) -> None:
    out = api.ok(
        "GET",
        PR1,
        params=_pr1(
            base_amount="10000", base_currency="RWF", target_currency="RWF", payment_method="MTN_MOMO_RWA"
        ),
    )
    assert out["payer_amount"] == "10250" and out["platform_fee"] == "150"


def test_pr1_card_fee_has_a_fixed_part(api: Api) -> None:
    out = api.ok(
        "GET", PR1, params=_pr1(target_currency="USD", payment_method="CREDIT_CARD", provider="STRIPE")
    )
    assert out["gateway_fee"] == "3.20"  # 2.9 % + 0.30


@pytest.mark.parametrize(
    "overrides,loc",
    [
        ({"provider": "STRIPE"}, ["query", "provider"]),
        ({"base_amount": "0"}, ["query", "base_amount"]),
        ({"base_amount": "-1"}, ["query", "base_amount"]),
        ({"base_amount": "1.001"}, ["query", "base_amount"]),
        ({"base_amount": "abc"}, ["query", "base_amount"]),
        ({"base_currency": "usd"}, ["query", "base_currency"]),
        ({"target_currency": "EUR"}, ["query", "target_currency"]),
        ({"target_currency": "RWF"}, ["query", "target_currency"]),
        ({"payment_method": "MPESA"}, ["query", "payment_method"]),
        ({"operation_type": "TRANSFER"}, ["query", "payment_method"]),
        ({"fee_bearer": "BOTH"}, ["query", "fee_bearer"]),
        (  # the card's fixed fee eats more than the whole amount
            {
                "base_amount": "0.25",
                "target_currency": "USD",
                "fee_bearer": "PAYEE",
                "payment_method": "CREDIT_CARD",
                "provider": "STRIPE",
            },
            ["query", "base_amount"],
        ),
    ],
)
def test_pr1_validation(api: Api, overrides: dict[str, Any], loc: list[str]) -> None:
    assert locs(api.get(PR1, params=_pr1(**overrides))) == [loc]


def test_pr1_missing_parameter(api: Api) -> None:
    params = _pr1()
    params.pop("fee_bearer")
    assert locs(api.get(PR1, params=params)) == [["query", "fee_bearer"]]


def test_pr2_uses_the_source_total_and_fee_bearer(api: Api) -> None:
    source = api.source(items=[("a", 2, 50.0)], fee_bearer="PAYEE")
    params = {
        "source_type": "INVOICE",
        "source_id": source["id"],
        "target_currency": "USD",
        "payment_method": "MTN_MOMO_LBR",
        "provider": "PAWAPAY",
    }
    out = api.ok("GET", "/v1/predictions/payment-source/amount-and-fees", params=params)
    assert (out["payer_amount"], out["payee_amount"]) == ("100.00", "97.50")
    assert (
        api.get(
            "/v1/predictions/payment-source/amount-and-fees", params={**params, "source_type": "ORDER"}
        ).status_code
        == 404
    )
    idle = api.source(publish=False)
    r = api.get("/v1/predictions/payment-source/amount-and-fees", params={**params, "source_id": idle["id"]})
    assert locs(r) == [["query", "source_id"]]


@pytest.mark.parametrize(
    "phone,method,carrier,country,currencies",
    [
        ("231880000000", "MTN_MOMO_LBR", "MTN", "LR", ["USD", "LRD"]),
        ("231551234567", "MTN_MOMO_LBR", "MTN", "LR", ["USD", "LRD"]),
        ("231771234567", "ORANGE_MONEY_LBR", "Orange", "LR", ["USD", "LRD"]),
        ("250781234567", "MTN_MOMO_RWA", "MTN", "RW", ["RWF"]),
        ("250791234567", "MTN_MOMO_RWA", "MTN", "RW", ["RWF"]),
        ("250721234567", "AIRTEL_RWA", "Airtel", "RW", ["RWF"]),
        ("250731234567", "AIRTEL_RWA", "Airtel", "RW", ["RWF"]),
    ],
)
def test_pr3_operator_detection(
    api: Api, phone: str, method: str, carrier: str, country: str, currencies: list[str]
) -> None:
    out = api.ok(
        "GET", "/v1/predictions/mmo-provider-info", params={"phone": phone, "operation_type": "COLLECTION"}
    )
    assert out == {
        "carrier": carrier,
        "country": country,
        "currencies": currencies,
        "phone": phone,
        "payment_method": method,
        "gateway_provider": "PAWAPAY",
        "operation_type": "COLLECTION",
    }


@pytest.mark.parametrize("phone", ["231661234567", "254712345678", "+231881234567", "2318"])
def test_pr3_unknown_or_malformed_numbers(api: Api, phone: str) -> None:
    r = api.get("/v1/predictions/mmo-provider-info", params={"phone": phone, "operation_type": "PAYOUT"})
    assert locs(r) == [["query", "phone"]]


def test_pr4_card_info(api: Api) -> None:
    out = api.ok(
        "GET",
        "/v1/predictions/card-provider-info",
        params={
            "payment_method_id": "pm_card_mastercard",
            "operation_type": "COLLECTION",
            "provider": "STRIPE",
        },
    )
    assert (
        out["brand"] == "mastercard"
        and out["payment_method"] == "CREDIT_CARD"
        and out["gateway_provider"] == "STRIPE"
    )
    assert out["currencies"] == ["USD"]
    r = api.get(
        "/v1/predictions/card-provider-info",
        params={"payment_method_id": "card_123", "operation_type": "COLLECTION", "provider": "STRIPE"},
    )
    assert locs(r) == [["query", "payment_method_id"]]
    r = api.get(
        "/v1/predictions/card-provider-info",
        params={"payment_method_id": "pm_x", "operation_type": "COLLECTION", "provider": "PAWAPAY"},
    )
    assert locs(r) == [["query", "provider"]]


def test_fees_endpoints_come_from_the_same_engine(api: Api) -> None:
    gateway = api.ok(
        "GET", "/v1/fees/gateway", params={"payment_method": "MTN_MOMO_LBR", "operation_type": "PAYOUT"}
    )
    assert dec(gateway["percent"]) == Decimal("1.5") and gateway["provider"] == "PAWAPAY"
    card = api.ok(
        "GET", "/v1/fees/gateway", params={"payment_method": "CREDIT_CARD", "operation_type": "COLLECTION"}
    )
    assert (dec(card["percent"]), dec(card["fixed_amount"]), card["fixed_currency"]) == (
        Decimal("2.9"),
        Decimal("0.3"),
        "USD",
    )
    assert locs(
        api.get("/v1/fees/gateway", params={"payment_method": "CREDIT_CARD", "operation_type": "TRANSFER"})
    ) == [["query", "payment_method"]]
    tier = api.ok("GET", "/v1/fees/merchant-tier", params={"owner_type": "ORGANIZATION", "owner_id": 1})
    assert tier["name"] == "default" and tier["is_default"] is True
    platform = api.ok(
        "GET", "/v1/fees/platform", params={"operation_type": "COLLECTION", "fee_tier_name": tier["name"]}
    )
    assert dec(platform["percent"]) == Decimal("1.5")
    assert (
        api.get(
            "/v1/fees/platform", params={"operation_type": "COLLECTION", "fee_tier_name": "gold"}
        ).status_code
        == 404
    )
    tiers = api.ok("GET", "/v1/fees/tiers")
    assert [(t["name"], t["is_default"]) for t in tiers] == [("default", True), ("growth", False)]
    assert all(set(t) == {"name", "is_default", "created_at", "updated_at"} for t in tiers)
    pricing = api.http.get("/_sandbox/pricing").json()
    assert pricing["usd_rates"] == {"USD": 1, "LRD": 190, "RWF": 1400}
    assert pricing["fx_fee_percent"] == 0.75


def test_pay_link_rules(api: Api) -> None:
    idle = api.source(publish=False)
    params = {"source_type": "INVOICE", "source_number": idle["invoice_number"]}
    assert locs(api.get("/v1/links/pay", params=params)) == [["query", "source_number"]]
    active = api.source()
    url = api.ok(
        "GET", "/v1/links/pay", params={"source_type": "INVOICE", "source_number": active["invoice_number"]}
    )["url"]
    assert api.http.get(url).json()["source_number"] == active["invoice_number"]
    no_link = api.source(as_payment_link=False)
    assert locs(
        api.get(
            "/v1/links/pay", params={"source_type": "INVOICE", "source_number": no_link["invoice_number"]}
        )
    ) == [["query", "source_number"]]
    assert (
        api.get(
            "/v1/links/pay", params={"source_type": "INVOICE", "source_number": "INV-2025-99999"}
        ).status_code
        == 404
    )
    assert (
        api.get(
            "/v1/links/pay", params={"source_type": "ORDER", "source_number": active["invoice_number"]}
        ).status_code
        == 404
    )
    assert locs(api.get("/v1/links/pay", params={"source_type": "SUBSCRIPTION", "source_number": "x"})) == [
        ["query", "source_type"]
    ]
    # Still available while PROCESSING and once PAID.
    api.collect(active)
    assert (
        api.get(
            "/v1/links/pay", params={"source_type": "INVOICE", "source_number": active["invoice_number"]}
        ).status_code
        == 200
    )


def test_merchant_info(api: Api) -> None:
    out = api.ok(
        "GET", "/v1/merchants/merchant-info", params={"merchant_id": 1, "merchant_type": "ORGANIZATION"}
    )
    assert out["id"] == 1 and out["type"] == "ORGANIZATION" and out["name"]
    assert (
        api.get(
            "/v1/merchants/merchant-info", params={"merchant_id": 2, "merchant_type": "ORGANIZATION"}
        ).status_code
        == 404
    )
    assert locs(
        api.get("/v1/merchants/merchant-info", params={"merchant_id": 1, "merchant_type": "USER"})
    ) == [["query", "merchant_type"]]


def test_realtime_key(api: Api) -> None:
    session = api.checkout_session(api.source())
    body = {"session_id": session["id"], "source_type": "INVOICE", "reference_id": ref()}
    out = api.ok("POST", "/v1/realtime-keys/collection", json=body)
    assert out["expires_in"] == 300 and out["access_token"].count(".") == 2
    assert locs(
        api.post("/v1/realtime-keys/collection", json={**body, "session_id": str(session["id"])})
    ) == [["body", "session_id"]]
    assert locs(api.post("/v1/realtime-keys/collection", json={**body, "reference_id": "x"})) == [
        ["body", "reference_id"]
    ]
    assert locs(api.post("/v1/realtime-keys/collection", json={**body, "source_type": "ORDER"})) == [
        ["body", "source_type"]
    ]
    assert locs(api.post("/v1/realtime-keys/collection", json={**body, "session_id": 999})) == [
        ["body", "session_id"]
    ]
    assert locs(api.post("/v1/realtime-keys/collection", json={**body, "source_kind": "INVOICE"})) == [
        ["body", "source_kind"]
    ]
