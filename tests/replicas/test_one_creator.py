"""Several people in one console entering the same new recipient at once create one party, one
counterparty and one payout account at Dollr, not one each (SQLite and PostgreSQL)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.flows.payouts import prepare_payout
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import AccountRecord, Customer, Relationship
from dollr_core.services import Services
from dollr_sandbox import Sandbox

CREATES = ("/v1/parties/create", "/v1/counterparties/create", "/v1/payment-accounts/create")


def test_same_new_recipient_from_eight_threads_is_created_once(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    people = [(f"Brand New {i}", f"23188{i:03d}7777") for i in range(3)]
    before = fresh_sandbox.state.stats.by_path()

    def start_payouts(_: int) -> None:
        for name, phone in people:
            key = new_intent_key()
            prepare_payout(services, operator, key, name=name, phone=phone, amount="5", currency="USD")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(start_payouts, range(8)))

    after = fresh_sandbox.state.stats.by_path()
    assert [after.get(p, 0) - before.get(p, 0) for p in CREATES] == [len(people)] * 3
    with Session(services.engine) as db:
        for table in (Customer, Relationship, AccountRecord):
            assert len(db.exec(select(table)).all()) == len(people), table.__name__


def test_fifty_new_people_at_once_wait_for_nobody(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    """More people at once than the ledger's pool has connections: a creator holds one, not two,
    so nobody starves waiting for a connection (a pool timeout would raise here)."""
    people = [(f"Walk In {i}", f"23188{i:03d}6543") for i in range(50)]

    def start_payout(person: tuple[str, str]) -> None:
        name, phone = person
        key = new_intent_key()
        prepare_payout(services, operator, key, name=name, phone=phone, amount="5", currency="USD")

    with ThreadPoolExecutor(len(people)) as pool:
        list(pool.map(start_payout, people))

    with Session(services.engine) as db:
        assert len(db.exec(select(Customer)).all()) == len(people)
