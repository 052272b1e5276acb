"""I1–I12 invoices and O1–O12 orders (same tests for both), the state table, and K1 checkout create."""

from __future__ import annotations

import re
from typing import Any

import pytest

from dollr_sandbox import Sandbox

from .support import Api, dec, locs

KINDS = [
    pytest.param(("INVOICE", "invoices", "invoice_number", "invoice_items"), id="invoice"),
    pytest.param(("ORDER", "orders", "order_number", "order_items"), id="order"),
]
Kind = tuple[str, str, str, str]


def _create(api: Api, plural: str, **overrides: Any) -> dict[str, Any]:
    counterparty = api.counterparty(api.party()["id"])
    body = {
        "counterparty_id": counterparty["id"],
        "currency": "USD",
        "note": "Consulting services",
        "fee_bearer": "PAYER",
        "as_payment_link": True,
        **overrides,
    }
    return api.ok("POST", f"/v1/{plural}/create", json=body)  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", KINDS)
def test_create_update_items_publish(api: Api, kind: Kind) -> None:
    source_type, plural, number_field, items_field = kind
    created = _create(api, plural, reference_id="my-ref-1")
    assert created["status"] == "IDLE"
    prefix = "INV" if source_type == "INVOICE" else "ORD"
    assert re.fullmatch(rf"{prefix}-\d{{4}}-\d{{5}}", created[number_field])
    assert created["total_amount"] == 0 and created["reference_id"] == "my-ref-1"

    updated = api.ok(
        "PUT", f"/v1/{plural}/update/{created['id']}", json={"note": "New note", "fee_bearer": "PAYEE"}
    )
    assert updated["note"] == "New note" and updated["fee_bearer"] == "PAYEE"

    first = api.ok(
        "POST",
        f"/v1/{plural}/{created['id']}/items/add",
        json={"name": "Strategy Session", "currency": "USD", "qty": 2, "amount": 250.10},
    )
    assert first == {
        "id": first["id"],
        "name": "Strategy Session",
        "currency": "USD",
        "qty": 2,
        "amount": 250.1,
    }
    second = api.ok(
        "POST",
        f"/v1/{plural}/{created['id']}/items/add",
        json={"name": "Extra", "currency": "USD", "qty": 1, "amount": 5},
    )
    changed = api.ok("PUT", f"/v1/{plural}/{created['id']}/items/{second['id']}/update", json={"qty": 3})
    assert changed["qty"] == 3
    assert api.ok("DELETE", f"/v1/{plural}/{created['id']}/items/{second['id']}/remove") == {}

    detail = api.ok("GET", f"/v1/{plural}/retrieve/{created['id']}")
    assert [i["id"] for i in detail[items_field]] == [first["id"]]
    assert dec(detail["total_amount"]) == dec("500.20")
    assert detail["counterparty"]["id"] == created["counterparty_id"]
    assert api.ok("GET", f"/v1/{plural}/retrieve/number/{created[number_field]}") == detail

    published = api.ok("PUT", f"/v1/{plural}/publish/{created['id']}")
    assert published["status"] == "ACTIVE"
    assert (
        api.ok("GET", f"/v1/status/source?source_type={source_type}&source_id={created['id']}")["status"]
        == "ACTIVE"
    )


@pytest.mark.parametrize("kind", KINDS)
def test_list_filters(api: Api, kind: Kind) -> None:
    _source_type, plural, _, _ = kind
    a = _create(api, plural)
    b = _create(api, plural, currency="LRD")
    api.ok(
        "POST",
        f"/v1/{plural}/{a['id']}/items/add",
        json={"name": "x", "currency": "USD", "qty": 1, "amount": 1},
    )
    api.ok("PUT", f"/v1/{plural}/publish/{a['id']}")
    assert {s["id"] for s in api.ok("GET", f"/v1/{plural}/list")} == {a["id"], b["id"]}
    assert [s["id"] for s in api.ok("GET", f"/v1/{plural}/list", params={"currency": "LRD"})] == [b["id"]]
    assert [s["id"] for s in api.ok("GET", f"/v1/{plural}/list", params={"status": "ACTIVE"})] == [a["id"]]
    assert locs(api.get(f"/v1/{plural}/list", params={"status": "DONE"})) == [["query", "status"]]


@pytest.mark.parametrize("kind", KINDS)
def test_editing_is_locked_after_publish(api: Api, kind: Kind) -> None:
    source_type, plural, _, _ = kind
    source = api.source(source_type)
    sid = source["id"]
    detail = api.ok("GET", f"/v1/{plural}/retrieve/{sid}")
    item_id = detail[kind[3]][0]["id"]
    assert locs(api.put(f"/v1/{plural}/update/{sid}", json={"note": "x"})) == [["path", "id"]]
    parent = "invoice_id" if source_type == "INVOICE" else "order_id"
    item = {"name": "x", "currency": "USD", "qty": 1, "amount": 1}
    assert locs(api.post(f"/v1/{plural}/{sid}/items/add", json=item)) == [["path", parent]]
    assert locs(api.put(f"/v1/{plural}/{sid}/items/{item_id}/update", json={"qty": 2})) == [["path", parent]]
    assert locs(api.delete(f"/v1/{plural}/{sid}/items/{item_id}/remove")) == [["path", parent]]
    assert locs(api.put(f"/v1/{plural}/publish/{sid}")) == [["path", "id"]]


@pytest.mark.parametrize("kind", KINDS)
def test_cancel_rules(sb: Sandbox, api: Api, kind: Kind) -> None:
    source_type, plural, _, _ = kind
    idle = api.source(source_type, publish=False)
    assert api.ok("DELETE", f"/v1/{plural}/cancel/{idle['id']}")["status"] == "CANCELED"
    assert locs(api.delete(f"/v1/{plural}/cancel/{idle['id']}")) == [["path", "id"]]
    assert locs(api.put(f"/v1/{plural}/publish/{idle['id']}")) == [["path", "id"]]

    active = api.source(source_type)
    api.collect(active)
    # PROCESSING: cancel is forbidden until the outcome.
    r = api.delete(f"/v1/{plural}/cancel/{active['id']}")
    assert locs(r) == [["path", "id"]]
    assert "PROCESSING" in r.json()["detail"][0]["msg"]
    api.advance(10)
    assert (
        api.ok("GET", f"/v1/status/source?source_type={source_type}&source_id={active['id']}")["status"]
        == "PAID"
    )
    assert locs(api.delete(f"/v1/{plural}/cancel/{active['id']}")) == [["path", "id"]]

    other = api.source(source_type)
    assert api.ok("DELETE", f"/v1/{plural}/cancel/{other['id']}")["status"] == "CANCELED"
    r = api.post("/v1/sessions/checkout", json={"source_id": other["id"], "source_type": source_type})
    assert locs(r) == [["body", "source_id"]]


@pytest.mark.parametrize("kind", KINDS)
def test_receipts_only_once_paid(api: Api, kind: Kind) -> None:
    source_type, plural, number_field, items_field = kind
    source = api.source(source_type)
    assert locs(api.get(f"/v1/{plural}/receipt/{source['id']}")) == [["path", "id"]]
    assert locs(api.get(f"/v1/{plural}/receipt/number/{source[number_field]}")) == [["path", number_field]]
    params = {"source_type": source_type, "source_number": source[number_field]}
    assert locs(api.get("/v1/links/receipt", params=params)) == [["query", "source_number"]]
    execution = api.collect(source)
    assert locs(api.get(f"/v1/{plural}/receipt/{source['id']}")) == [["path", "id"]]
    api.advance(10)
    receipt = api.ok("GET", f"/v1/{plural}/receipt/{source['id']}")
    assert receipt == api.ok("GET", f"/v1/{plural}/receipt/number/{source[number_field]}")
    assert receipt["reference_id"] == execution["reference_id"]
    assert receipt[number_field] == source[number_field]
    assert [i["name"] for i in receipt[items_field]] == ["Strategy Session"]
    for field in ("payer_amount", "payee_amount", "platform_fee", "gateway_fee", "fx_rate", "total_amount"):
        assert isinstance(receipt[field], int | float), field
    assert receipt["provider"] == "PAWAPAY" and receipt["payment_method"] == "MTN_MOMO_LBR"
    assert receipt["provider_transaction_id"] and receipt["paid_at"]
    url = api.ok("GET", "/v1/links/receipt", params=params)["url"]
    assert api.http.get(url).json()["reference_id"] == execution["reference_id"]


@pytest.mark.parametrize("kind", KINDS)
def test_unknown_ids_and_numbers_are_404(api: Api, kind: Kind) -> None:
    source_type, plural, _, _ = kind
    prefix = "INV" if source_type == "INVOICE" else "ORD"
    for method, path in [
        ("GET", f"/v1/{plural}/retrieve/999"),
        ("GET", f"/v1/{plural}/retrieve/number/{prefix}-2025-99999"),
        ("PUT", f"/v1/{plural}/publish/999"),
        ("DELETE", f"/v1/{plural}/cancel/999"),
        ("GET", f"/v1/{plural}/receipt/999"),
        ("GET", f"/v1/{plural}/receipt/number/{prefix}-2025-99999"),
        ("DELETE", f"/v1/{plural}/999/items/1/remove"),
    ]:
        assert api.request(method, path).status_code == 404, path
    source = api.source(source_type, publish=False)
    assert api.delete(f"/v1/{plural}/{source['id']}/items/999/remove").status_code == 404


def test_an_order_is_not_an_invoice(api: Api) -> None:
    order = api.source("ORDER")
    assert api.get(f"/v1/invoices/retrieve/{order['id']}").status_code == 404
    assert api.get(f"/v1/invoices/retrieve/number/{order['order_number']}").status_code == 404
    r = api.post("/v1/sessions/checkout", json={"source_id": order["id"], "source_type": "INVOICE"})
    assert locs(r) == [["body", "source_type"]]


@pytest.mark.parametrize(
    "overrides,loc",
    [
        ({"counterparty_id": None}, "counterparty_id"),
        ({"counterparty_id": "1"}, "counterparty_id"),
        ({"counterparty_id": 999}, "counterparty_id"),
        ({"currency": "usd"}, "currency"),
        ({"currency": "EUR"}, "currency"),
        ({"fee_bearer": "BOTH"}, "fee_bearer"),
        ({"as_payment_link": "yes"}, "as_payment_link"),
        ({"note": None}, "note"),
    ],
)
def test_invoice_create_validation(api: Api, overrides: dict[str, Any], loc: str) -> None:
    counterparty = api.counterparty(api.party()["id"])
    body = {
        "counterparty_id": counterparty["id"],
        "currency": "USD",
        "note": "n",
        "fee_bearer": "PAYER",
        "as_payment_link": True,
        **overrides,
    }
    assert locs(api.post("/v1/invoices/create", json=body)) == [["body", loc]]


def test_missing_counterparty_says_required(api: Api) -> None:
    r = api.post(
        "/v1/invoices/create",
        json={"currency": "USD", "note": "n", "fee_bearer": "PAYER", "as_payment_link": True},
    )
    assert r.json()["detail"] == [
        {"loc": ["body", "counterparty_id"], "msg": "field required", "type": "value_error.missing"}
    ]


@pytest.mark.parametrize(
    "currency,item,loc",
    [
        ("USD", {"amount": 0}, ["body", "amount"]),
        ("USD", {"amount": -5}, ["body", "amount"]),
        ("USD", {"amount": 1.001}, ["body", "amount"]),
        ("USD", {"amount": "10.00"}, ["body", "amount"]),
        ("RWF", {"amount": 100.5, "currency": "RWF"}, ["body", "amount"]),
        ("USD", {"qty": 0}, ["body", "qty"]),
        ("USD", {"qty": 1.5}, ["body", "qty"]),
        ("USD", {"currency": "LRD"}, ["body", "currency"]),
    ],
)
def test_item_validation(api: Api, currency: str, item: dict[str, Any], loc: list[str]) -> None:
    source = _create(api, "invoices", currency=currency)
    body = {"name": "x", "currency": currency, "qty": 1, "amount": 10, **item}
    assert locs(api.post(f"/v1/invoices/{source['id']}/items/add", json=body)) == [loc]


def test_rwf_amounts_are_whole(api: Api) -> None:
    source = _create(api, "invoices", currency="RWF")
    item = api.ok(
        "POST",
        f"/v1/invoices/{source['id']}/items/add",
        json={"name": "x", "currency": "RWF", "qty": 1, "amount": 1500.0},
    )
    assert dec(item["amount"]) == 1500
    r = api.put(f"/v1/invoices/{source['id']}/items/{item['id']}/update", json={"amount": 10.5})
    assert locs(r) == [["body", "amount"]]


def test_publish_needs_items(api: Api) -> None:
    source = _create(api, "invoices")
    assert locs(api.put(f"/v1/invoices/publish/{source['id']}")) == [["path", "id"]]


def test_invoice_due_date_round_trips(api: Api) -> None:
    created = _create(api, "invoices", due_date="2025-12-31T23:59:59Z")
    assert created["due_date"] == "2025-12-31T23:59:59Z"
    cleared = api.ok(
        "PUT", f"/v1/invoices/update/{created['id']}", json={"due_date": None, "reference_id": "R-9"}
    )
    assert cleared["due_date"] is None and cleared["reference_id"] == "R-9"


# --- K1 checkout create ---------------------------------------------------------------------


def _checkout(**overrides: Any) -> dict[str, Any]:
    return {
        "mode": "HOSTED",
        "source_kind": "ORDER",
        "party_name": "Amara Kamara",
        "party_phone": "231771234567",
        "currency": "USD",
        "items": [
            {"name": "T-Shirt", "currency": "USD", "amount": 25},
            {"name": "Cap", "currency": "USD", "amount": 9.99},
        ],
        **overrides,
    }


def test_checkout_create_makes_an_active_source_with_party_and_counterparty(api: Api) -> None:
    out = api.ok(
        "POST", "/v1/checkouts/create", json=_checkout(success_url="https://s", cancel_url="https://c")
    )
    assert out["mode"] == "HOSTED" and out["source_type"] == "ORDER" and out["source_status"] == "ACTIVE"
    assert dec(out["total_amount"]) == dec("34.99")
    assert out["url"].endswith(out["hosted_path_or_token"])
    assert out["success_url"] == "https://s" and out["cancel_url"] == "https://c"
    party = api.ok("GET", f"/v1/parties/retrieve/{out['party_id']}")
    assert party["phone"] == "231771234567" and party["fullname"] == "Amara Kamara"
    counterparty = api.ok("GET", f"/v1/counterparties/retrieve/{out['counterparty_id']}")
    assert counterparty["relationship_type"] == "CUSTOMER" and counterparty["party_id"] == party["id"]
    order = api.ok("GET", f"/v1/orders/retrieve/{out['source_id']}")
    assert order["order_number"] == out["source_number"] and len(order["order_items"]) == 2
    assert all(i["qty"] == 1 for i in order["order_items"])
    # The same phone matches the same party and counterparty.
    again = api.ok("POST", "/v1/checkouts/create", json=_checkout(source_kind="INVOICE"))
    assert (again["party_id"], again["counterparty_id"]) == (out["party_id"], out["counterparty_id"])
    assert again["source_type"] == "INVOICE"


def test_checkout_with_existing_counterparty(api: Api) -> None:
    counterparty = api.counterparty(api.party(phone="231880000009")["id"], "DONOR")
    out = api.ok("POST", "/v1/checkouts/create", json=_checkout(counterparty_id=counterparty["id"]))
    assert out["counterparty_id"] == counterparty["id"]


@pytest.mark.parametrize(
    "overrides,loc",
    [
        ({"source_kind": "SUBSCRIPTION"}, ["body", "source_kind"]),
        ({"source_type": "ORDER"}, ["body", "source_type"]),
        ({"mode": "DIRECT"}, ["body", "mode"]),
        ({"party_phone": "+231771234567"}, ["body", "party_phone"]),
        ({"items": []}, ["body", "items"]),
        ({"items": [{"name": "x", "currency": "USD", "amount": 0}]}, ["body", "items", 0, "amount"]),
        ({"items": [{"name": "x", "currency": "USD", "amount": 0.001}]}, ["body", "items", 0, "amount"]),
        ({"items": [{"name": "x", "currency": "LRD", "amount": 1}]}, ["body", "items", 0, "currency"]),
        ({"party_relationship": "OTHER"}, ["body", "party_relationship"]),
        ({"counterparty_id": 404}, ["body", "counterparty_id"]),
    ],
)
def test_checkout_create_validation(api: Api, overrides: dict[str, Any], loc: list[Any]) -> None:
    assert loc in locs(api.post("/v1/checkouts/create", json=_checkout(**overrides)))


def test_checkout_source_kind_is_required_under_its_own_name(api: Api) -> None:
    body = _checkout()
    body["source_type"] = body.pop("source_kind")
    assert sorted(locs(api.post("/v1/checkouts/create", json=body))) == [
        ["body", "source_kind"],
        ["body", "source_type"],
    ]


def test_hosted_checkout_can_be_paid_on_the_sandbox_page(sb: Sandbox, api: Api) -> None:
    out = api.ok("POST", "/v1/checkouts/create", json=_checkout())
    page = api.http.get(f"/_sandbox/hosted/{out['hosted_path_or_token']}").json()
    assert page["source_number"] == out["source_number"]
    paid = sb.pay_hosted(out["hosted_path_or_token"], payment_method="ORANGE_MONEY_LBR", currency="LRD")
    assert paid["status"] == "PENDING" and paid["payer_currency"] == "LRD"
    api.advance(10)
    status = api.ok(
        "GET", "/v1/status/source", params={"source_type": "ORDER", "source_id": out["source_id"]}
    )
    assert status["status"] == "PAID" and status["paid_at"]
    assert api.ok("GET", f"/v1/orders/receipt/{out['source_id']}")["payer_currency"] == "LRD"
