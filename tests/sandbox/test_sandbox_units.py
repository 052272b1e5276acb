"""The pieces under the routes: exact JSON numbers, the pricing engine, operators, the rate limiter."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from dollr_core.basics.enums import FeeBearer, OperationType, PaymentMethod
from dollr_sandbox.encoding import dumps
from dollr_sandbox.operators import OperatorTable
from dollr_sandbox.pricing import Pricing, PricingError
from dollr_sandbox.ratelimit import RateLimiter


@pytest.mark.parametrize("text", ["257.50", "0.01", "19617.50", "1400", "123456789.12", "0.005263157894"])
def test_decimals_render_as_json_numbers_with_exactly_their_digits(text: str) -> None:
    rendered = dumps({"amount": Decimal(text)})
    assert rendered == f'{{"amount":{text}}}'.encode()
    assert Decimal(str(json.loads(rendered)["amount"])) == Decimal(text)


def test_other_values_render_as_json() -> None:
    value = {
        "when": datetime(2025, 6, 1, 10, 0, 5, 123, tzinfo=UTC),
        "none": None,
        "ok": True,
        "list": [1, "é"],
        "method": PaymentMethod.WALLET,
    }
    assert json.loads(dumps(value)) == {
        "when": "2025-06-01T10:00:05Z",
        "none": None,
        "ok": True,
        "list": [1, "é"],
        "method": "WALLET",
    }
    with pytest.raises(ValueError):
        dumps(Decimal("NaN"))
    with pytest.raises(TypeError):
        dumps(object())


def test_quote_payer_and_payee_bearers() -> None:
    pricing = Pricing()
    payer = pricing.quote(
        Decimal("100"), "USD", "LRD", PaymentMethod.MTN_MOMO_LBR, OperationType.COLLECTION, FeeBearer.PAYER
    )
    assert (payer.platform_fee, payer.gateway_fee, payer.fx_fee) == (
        Decimal("1.50"),
        Decimal("1.00"),
        Decimal("0.75"),
    )
    assert payer.payer_amount == Decimal("19617.50") and payer.payee_amount == Decimal("100.00")
    payee = pricing.quote(
        Decimal("100"), "USD", "LRD", PaymentMethod.MTN_MOMO_LBR, OperationType.COLLECTION, FeeBearer.PAYEE
    )
    assert payee.payer_amount == Decimal("19000.00") and payee.payee_amount == Decimal("96.75")


def test_cross_rates_and_rounding() -> None:
    pricing = Pricing()
    assert pricing.rate("LRD", "RWF") == Decimal(1400) / Decimal(190)
    assert pricing.convert(Decimal("190"), "LRD", "RWF") == Decimal("1400")
    assert pricing.convert(Decimal("0.005"), "USD", "USD") == Decimal("0.01")  # HALF_UP
    quote = pricing.quote(
        Decimal("1000"), "RWF", "USD", PaymentMethod.CREDIT_CARD, OperationType.COLLECTION, FeeBearer.PAYER
    )
    # 2.9 % of 1000 = 29, plus USD 0.30 = 420 RWF; platform 15; FX 7.5 → 8.
    assert (quote.gateway_fee, quote.platform_fee, quote.fx_fee) == (
        Decimal("449"),
        Decimal("15"),
        Decimal("8"),
    )
    assert quote.payer_amount == Decimal("1.05")  # 1472 RWF in USD


def test_unavailable_operations_and_uncovered_fees() -> None:
    pricing = Pricing()
    with pytest.raises(PricingError) as exc:
        pricing.quote(
            Decimal("5"), "USD", "USD", PaymentMethod.CREDIT_CARD, OperationType.PAYOUT, FeeBearer.PAYER
        )
    assert exc.value.field == "payment_method"
    with pytest.raises(PricingError) as exc:
        pricing.quote(
            Decimal("0.20"),
            "USD",
            "USD",
            PaymentMethod.CREDIT_CARD,
            OperationType.COLLECTION,
            FeeBearer.PAYEE,
        )
    assert exc.value.field == "amount"
    with pytest.raises(PricingError):
        pricing.tier("platinum")


def test_operator_table_is_configurable_and_longest_prefix_wins() -> None:
    table = OperatorTable({"2318": PaymentMethod.ORANGE_MONEY_LBR, "23188": PaymentMethod.MTN_MOMO_LBR})
    assert table.detect("231881234567") is not None
    assert table.detect("231881234567").payment_method is PaymentMethod.MTN_MOMO_LBR  # type: ignore[union-attr]
    assert table.detect("231801234567").payment_method is PaymentMethod.ORANGE_MONEY_LBR  # type: ignore[union-attr]
    assert table.detect("250781234567") is None


def test_rate_limiter_sliding_window() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    assert [limiter.hit("t", 2) for _ in range(3)] == [None, None, 60]
    now[0] = 30
    assert limiter.hit("t", 2) == 30
    now[0] = 60.5
    assert limiter.hit("t", 2) is None
    assert limiter.hit("t", 0) is None


def test_rate_limit_counted_over_a_shorter_window_is_scaled_to_it() -> None:
    now = [0.0]
    limiter = RateLimiter(clock=lambda: now[0])
    # 120 a minute over a 1 s window: 2 in any second, and a wait of whole seconds (at least 1).
    assert [limiter.hit("m", 120, window=1) for _ in range(3)] == [None, None, 1]
    now[0] = 1.01
    assert limiter.hit("m", 120, window=1) is None
    assert limiter.hit("slow", 30, window=1) is None  # under one a second: still one per window
    assert limiter.hit("slow", 30, window=1) == 1


def test_conversion_that_ends_on_half_a_minor_unit_rounds_up() -> None:
    # 7 RWF is exactly 0.005 USD; dividing first would give 0.00499… and round down.
    assert Pricing().convert(Decimal("7"), "RWF", "USD") == Decimal("0.01")
