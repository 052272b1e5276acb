"""Ledger statements and transactions per payment flow, pinned on SQLite and PostgreSQL, so a
change that adds a read-back or a transaction fails here (issue 16: our CPU per Dollr call is
mostly the ledger's statements; bench/vs_documented.py and bench/load.py print the time)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from sqlalchemy import event
from sqlmodel import Session, col, select

from dollr_core.basics.access import Actor
from dollr_core.flows.collect import NewCollection, collect_new_document
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import AttemptState, ConsoleSetting
from dollr_core.services import Services

CUSTOMER = Person.checked("Amara Kamara", "231771231234", None, "LR")
WALLET = "231880015678"
SINGLE = (LineItem("Strategy session", 1, Decimal("250.00")), LineItem("Report", 1, Decimal("25.00")))
SEVERAL = (SINGLE[0], LineItem("Report", 2, Decimal("12.50")))


@contextmanager
def _counted(svc: Services) -> Iterator[Counter[str]]:
    """Statements run and transactions begun on the ledger while the block runs."""
    seen: Counter[str] = Counter()

    def statement(*_: Any) -> None:
        seen["statements"] += 1

    def begun(*_: Any) -> None:
        seen["transactions"] += 1

    event.listen(svc.engine, "before_cursor_execute", statement)
    event.listen(svc.engine, "begin", begun)
    try:
        yield seen
    finally:
        event.remove(svc.engine, "before_cursor_execute", statement)
        event.remove(svc.engine, "begin", begun)


def _sale(svc: Services, actor: Actor, items: tuple[LineItem, ...]) -> Callable[[], None]:
    order = NewCollection(customer=CUSTOMER, currency="USD", items=list(items), wallet_phone=WALLET)

    def run() -> None:
        attempt = collect_new_document(svc, actor, new_intent_key(), order)
        assert attempt.local_state == AttemptState.ACCEPTED, attempt.last_error

    return run


def _payout(svc: Services, actor: Actor) -> Callable[[], None]:
    def run() -> None:
        key = new_intent_key()
        prepare_payout(svc, actor, key, name="Musa Kollie", phone="231550014321", amount="12", currency="USD")
        attempt = confirm_payout(svc, actor, key, "123456")
        assert attempt.local_state == AttemptState.ACCEPTED, attempt.last_error

    return run


def _work(svc: Services, flow: Callable[[], None]) -> dict[str, int]:
    flow()  # the customer, counterparty and wallet account are known from here on
    with _counted(svc) as seen:
        flow()
    return dict(seen)


def test_a_returning_customers_sale_by_the_checkout_shortcut(services: Services, finance: Actor) -> None:
    """The customer and their counterparty are read in one statement (`known_customer`); the
    intent this run opened is quoted, and then claimed, by a compare-and-set on it as written
    (`open_intent`'s and `protocol.submit`'s `as_left`): neither reads it first."""
    assert _work(services, _sale(services, finance, SINGLE)) == {"statements": 19, "transactions": 9}


def test_a_returning_customers_sale_billed_item_by_item(services: Services, finance: Actor) -> None:
    """As the shortcut, and the customer the document was made for is the payer quoted: not
    read again after the publish."""
    assert _work(services, _sale(services, finance, SEVERAL)) == {"statements": 21, "transactions": 10}


def test_a_repeat_payout(services: Services, operator: Actor) -> None:
    """The recipient, their counterparty and account are read in one statement (`known_payee`),
    and the approval rules and the operator's day in one transaction (`approval_rules.with_allowance`);
    the new intent is one INSERT, not read first (`open_intent`); the claim takes the intent as
    `confirm_payout` read it, by a compare-and-set."""
    assert _work(services, _payout(services, operator)) == {"statements": 19, "transactions": 8}


def test_a_first_payout_to_a_new_recipient(services: Services, operator: Actor) -> None:
    """The recipient's three records are looked for in one read (`directory.payee_records`);
    the new party's create marker is one INSERT … RETURNING committed before the creates (what
    it returns says whether an earlier create left the marker: no read first),
    and the party, counterparty and account are stored, and the marker removed, in one
    transaction after the three creates (on PostgreSQL in the party's advisory lock's
    transaction), each record by one INSERT … ON CONFLICT DO NOTHING (no savepoint around it)."""
    with _counted(services) as seen:
        _payout(services, operator)()
    expected = {
        "sqlite": {"statements": 25, "transactions": 11},
        "postgresql": {"statements": 26, "transactions": 10},
    }
    assert dict(seen) == expected[services.engine.dialect.name]
    with Session(services.engine) as db:
        left = db.exec(select(ConsoleSetting).where(col(ConsoleSetting.key).startswith("creating:"))).all()
    assert left == []
