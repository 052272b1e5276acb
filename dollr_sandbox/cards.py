"""Test cards: the Stripe ``payment_method_id`` a card payment account carries decides its outcome.

The ids are Stripe's own test PaymentMethods, so an integration written against Stripe's test mode
reads the same here. An unknown ``pm_…`` id is a card that pays.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class TestCard:
    brand: str
    last4: str
    #: The bank asks the customer for 3-D Secure before the charge.
    authentication: bool = False
    #: Why the charge is declined (after authentication, if any); None when it goes through.
    decline: str | None = None

    @property
    def gateway_message(self) -> str | None:
        return f"{self.decline} (sandbox test card)." if self.decline else None


DEFAULT_CARD = "pm_card_visa"

TEST_CARDS: Mapping[str, TestCard] = {
    "pm_card_visa": TestCard("visa", "4242"),
    "pm_card_mastercard": TestCard("mastercard", "4444"),
    "pm_card_amex": TestCard("amex", "8431"),
    "pm_card_threeDSecure2Required": TestCard("visa", "3220", authentication=True),
    "pm_card_authenticationRequired": TestCard("visa", "3184", authentication=True),
    "pm_card_chargeDeclined": TestCard("visa", "0002", decline="Your card was declined"),
    "pm_card_chargeDeclinedInsufficientFunds": TestCard(
        "visa", "9995", decline="Your card has insufficient funds"
    ),
    "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds": TestCard(
        "visa", "9978", authentication=True, decline="Your card has insufficient funds"
    ),
}

#: Brands recognised in an id that is not one of the test cards (``pm_card_mastercard_debit``...).
_BRANDS = {"mastercard": TestCard("mastercard", "4444"), "amex": TestCard("amex", "8431")}


def card_for(payment_method_id: str | None) -> TestCard:
    """The behaviour of a card; no id at all (an account made without one) is a card that pays."""
    pm = payment_method_id or DEFAULT_CARD
    if pm in TEST_CARDS:
        return TEST_CARDS[pm]
    lowered = pm.lower()
    return next((card for name, card in _BRANDS.items() if name in lowered), TEST_CARDS[DEFAULT_CARD])
