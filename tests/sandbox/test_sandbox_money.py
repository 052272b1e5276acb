"""Property tests: prediction, execution, wallet movement and receipt agree to the minor unit.

The expected numbers are also recomputed here from the documented model and the live price list
(``GET /_sandbox/pricing``), so the engine is checked against its description, not only against
itself.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dollr_core.basics.enums import CURRENCY_MINOR_UNITS, METHOD_CURRENCIES, PaymentMethod
from dollr_sandbox import Sandbox

from .support import Api, dec, passcode, ref, wallet

SETTINGS = settings(
    max_examples=50, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
COLLECTION_METHODS = [m for m in PaymentMethod if m is not PaymentMethod.WALLET]
#: Smallest base amounts that cover a card's fixed fee even when the payee bears it.
MINIMUM = {"USD": Decimal("1"), "LRD": Decimal("100"), "RWF": Decimal("1000")}


def _round(amount: Decimal, currency: str) -> Decimal:
    return amount.quantize(Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[currency]), rounding=ROUND_HALF_UP)


def amounts(currency: str, top: Decimal) -> st.SearchStrategy[Decimal]:
    places = CURRENCY_MINOR_UNITS[currency]
    low, high = int(MINIMUM[currency].scaleb(places)), int(top.scaleb(places))
    return st.integers(low, high).map(lambda minor: Decimal(minor).scaleb(-places))


@st.composite
def collections(draw: st.DrawFn) -> dict[str, Any]:
    method = draw(st.sampled_from(COLLECTION_METHODS))
    base = draw(st.sampled_from(list(CURRENCY_MINOR_UNITS)))
    return {
        "method": method.value,
        "provider": method.provider.value,
        "payer_currency": draw(st.sampled_from(METHOD_CURRENCIES[method])),
        "base": base,
        "items": draw(
            st.lists(
                st.tuples(st.integers(1, 3), amounts(base, MINIMUM[base] * 5000)), min_size=1, max_size=3
            )
        ),
        "fee_bearer": draw(st.sampled_from(["PAYER", "PAYEE"])),
    }


def expected_quote(
    pricing: dict[str, Any], total: Decimal, base: str, target: str, method: str, operation: str, bearer: str
) -> dict[str, Decimal]:
    """The documented model, from the published price list."""
    rates = {c: dec(r) for c, r in pricing["usd_rates"].items()}
    gateway = next(
        g for g in pricing["gateway"] if g["payment_method"] == method and g["operation_type"] == operation
    )
    tier = next(t for t in pricing["tiers"] if t["is_default"])
    gateway_fee = _round(total * dec(gateway["percent"]) / 100, base)
    if dec(gateway["fixed"]):
        gateway_fee += _round(dec(gateway["fixed"]) * rates[base] / rates[gateway["fixed_currency"]], base)
    platform_fee = _round(total * dec(tier["percent"][operation]) / 100, base)
    fx_fee = _round(total * dec(pricing["fx_fee_percent"]) / 100, base) if base != target else Decimal(0)
    fees = gateway_fee + platform_fee + fx_fee

    def convert(amount: Decimal) -> Decimal:
        return _round(amount * rates[target] / rates[base], target)

    if bearer == "PAYER":
        payer, payee = convert(total + fees), total
    else:
        payer, payee = convert(total), total - fees
    return {"payer": payer, "payee": payee, "gateway": gateway_fee, "platform": platform_fee, "fx": fx_fee}


@SETTINGS
@given(case=collections())
def test_collection_numbers_agree_everywhere(sb: Sandbox, api: Api, case: dict[str, Any]) -> None:
    base, target = case["base"], case["payer_currency"]
    items = [("item", qty, float(amount)) for qty, amount in case["items"]]
    total = sum((qty * amount for qty, amount in case["items"]), Decimal(0))
    source = api.source(currency=base, items=items, fee_bearer=case["fee_bearer"])
    assert dec(source["total_amount"]) == total

    prediction = api.ok(
        "GET",
        "/v1/predictions/payment-source/amount-and-fees",
        params={
            "source_type": "INVOICE",
            "source_id": source["id"],
            "target_currency": target,
            "payment_method": case["method"],
            "provider": case["provider"],
        },
    )
    expected = expected_quote(
        api.http.get("/_sandbox/pricing").json(),
        total,
        base,
        target,
        case["method"],
        "COLLECTION",
        case["fee_bearer"],
    )
    assert dec(prediction["payer_amount"]) == expected["payer"]
    assert dec(prediction["payee_amount"]) == expected["payee"]
    assert dec(prediction["gateway_fee"]) == expected["gateway"]
    assert dec(prediction["platform_fee"]) == expected["platform"]
    assert dec(prediction["fx_fee"] or 0) == expected["fx"]
    # Strings carry exactly the currency's minor units.
    places = CURRENCY_MINOR_UNITS[target]
    assert len(prediction["payer_amount"].partition(".")[2]) == places

    before = sb.wallets()[base]
    card = case["method"] == "CREDIT_CARD"
    execution = api.collect(
        source,
        number=None if card else wallet(case["method"]),
        currency=target,
        method=case["method"],
        name="Card" if card else "Wallet",
    )
    assert dec(execution["payer_amount"]) == dec(prediction["payer_amount"])
    assert dec(execution["payee_amount"]) == dec(prediction["payee_amount"])
    assert (execution["payer_currency"], execution["payee_currency"]) == (target, base)

    api.advance(5)
    assert api.status("collection", execution["reference_id"])["status"] == "COMPLETED"
    assert sb.wallets()[base] - before == dec(prediction["payee_amount"])

    receipt = api.ok("GET", f"/v1/invoices/receipt/{source['id']}")
    for field in ("payer_amount", "payee_amount", "platform_fee", "gateway_fee"):
        assert dec(receipt[field]) == dec(prediction[field]), field
    assert dec(receipt["fx_fee"] or 0) == dec(prediction["fx_fee"] or 0)
    assert (receipt["fx_currency_from"], receipt["fx_currency_to"]) == (base, target)
    fees = dec(receipt["platform_fee"]) + dec(receipt["gateway_fee"]) + dec(receipt["fx_fee"] or 0)
    charged = total + fees if case["fee_bearer"] == "PAYER" else total
    assert dec(receipt["payee_amount"]) == (total if case["fee_bearer"] == "PAYER" else total - fees)
    # A decimal fx_rate of a non-terminating quotient (1/1400) cannot land every half-unit boundary
    # exactly, so recomputing from the receipt alone is allowed one minor unit of slack.
    unit = Decimal(1).scaleb(-CURRENCY_MINOR_UNITS[target])
    assert abs(dec(receipt["payer_amount"]) - _round(charged * dec(receipt["fx_rate"]), target)) <= unit
    row = api.execution(execution["reference_id"])
    assert (dec(row["payer_amount"]), dec(row["payee_amount"])) == (
        dec(receipt["payer_amount"]),
        dec(receipt["payee_amount"]),
    )


@st.composite
def payouts(draw: st.DrawFn) -> dict[str, Any]:
    currency = draw(st.sampled_from(list(CURRENCY_MINOR_UNITS)))
    methods = [m for m in PaymentMethod if m.is_mobile_money and currency in METHOD_CURRENCIES[m]]
    method = draw(st.sampled_from([*methods, PaymentMethod.WALLET]))
    top = {"USD": Decimal("50"), "LRD": Decimal("9000"), "RWF": Decimal("60000")}[currency]
    return {
        "currency": currency,
        "method": method.value,
        "amount": draw(amounts(currency, top)),
        "fails": draw(st.booleans()) and method is not PaymentMethod.WALLET,
    }


@SETTINGS
@given(case=payouts())
def test_payout_numbers_agree_everywhere(sb: Sandbox, api: Api, case: dict[str, Any]) -> None:
    currency, method, amount = case["currency"], case["method"], case["amount"]
    provider = "PLATFORM" if method == "WALLET" else "PAWAPAY"
    prediction = api.ok(
        "GET",
        "/v1/predictions/amount-and-fees",
        params={
            "base_amount": str(amount),
            "base_currency": currency,
            "target_currency": currency,
            "payment_method": method,
            "operation_type": "PAYOUT",
            "provider": provider,
            "fee_bearer": "PAYER",
        },
    )
    expected = expected_quote(
        api.http.get("/_sandbox/pricing").json(), amount, currency, currency, method, "PAYOUT", "PAYER"
    )
    assert dec(prediction["payer_amount"]) == expected["payer"] and dec(prediction["payee_amount"]) == amount

    number = None if method == "WALLET" else wallet(method, "0001" if case["fails"] else "5555")
    account = api.account(
        api.party()["id"], method=method, number=number, operation="PAYOUT", provider=provider, name="Payee"
    )
    session = api.ok(
        "POST",
        "/v1/sessions/payout",
        json={"payout_account_id": account["id"], "amount": float(amount), "currency": currency},
    )
    before = sb.wallets()[currency]
    execution = api.ok(
        "POST",
        "/v1/executions/payout",
        json={
            "session_id": str(session["id"]),
            "payout_account_id": account["id"],
            "reference_id": ref(),
            "passcode": passcode(),
        },
    )
    assert dec(execution["payer_amount"]) == dec(prediction["payer_amount"])
    assert dec(execution["payee_amount"]) == dec(prediction["payee_amount"])
    assert before - sb.wallets()[currency] == dec(prediction["payer_amount"])
    api.advance(5)
    final = api.status("payout", execution["reference_id"])
    assert final["status"] == ("FAILED" if case["fails"] else "COMPLETED")
    moved = before - sb.wallets()[currency]
    assert moved == (0 if case["fails"] else dec(prediction["payer_amount"]))
