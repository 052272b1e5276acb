"""A new recipient's party, then their counterparty and payout account side by side, are made at
Dollr and stored in one transaction (`directory.ensure_payee`). What was made is stored even when
another create fails, so trying again makes only what is missing; a party create whose answer
was lost is found at Dollr, not made twice (SQLite and PostgreSQL)."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlmodel import Session, col, select

from dollr_core.api.errors import DollrError
from dollr_core.basics.access import Actor
from dollr_core.flows.payouts import prepare_payout
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import AccountRecord, ConsoleSetting, Customer, Relationship
from dollr_core.services import Services
from dollr_sandbox import Sandbox

NAME, PHONE = "Comfort Gbassa", "231880047777"
CREATES = ("/v1/parties/create", "/v1/counterparties/create", "/v1/payment-accounts/create")


def _pay(services: Services, operator: Actor) -> None:
    prepare_payout(services, operator, new_intent_key(), name=NAME, phone=PHONE, amount="5", currency="USD")


def _creates(sandbox: Sandbox, before: dict[str, int]) -> list[int]:
    after = sandbox.requests_by_path()
    return [after.get(path, 0) - before.get(path, 0) for path in CREATES]


def _held(services: Services) -> tuple[int, int, int, int]:
    """Records of each kind in the ledger, and create markers left."""
    with Session(services.engine) as db:
        markers = db.exec(select(ConsoleSetting).where(col(ConsoleSetting.key).startswith("creating:"))).all()
        return (
            len(db.exec(select(Customer)).all()),
            len(db.exec(select(Relationship)).all()),
            len(db.exec(select(AccountRecord)).all()),
            len(markers),
        )


@pytest.mark.parametrize(("failing", "held"), [(CREATES[1], (1, 0, 1, 0)), (CREATES[2], (1, 1, 0, 0))])
def test_what_was_made_before_a_create_failed_is_stored_and_not_made_again(
    services: Services, fresh_sandbox: Sandbox, operator: Actor, failing: str, held: tuple[int, ...]
) -> None:
    before = fresh_sandbox.requests_by_path()
    fresh_sandbox.add_fault(failing, action="status", status=422)  # refused: nothing made at Dollr
    with pytest.raises(DollrError):
        _pay(services, operator)
    assert _held(services) == held  # the other create's record too; the marker went with the party's

    _pay(services, operator)
    assert _held(services) == (1, 1, 1, 0)
    failed_once = [1 + (path == failing) for path in CREATES]
    assert _creates(fresh_sandbox, before) == failed_once  # the refused create, then only what was missing


def test_a_party_create_whose_answer_was_lost_is_found_at_dollr(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    before = fresh_sandbox.requests_by_path()
    fresh_sandbox.add_fault(CREATES[0], action="drop_response")  # made at Dollr, the answer cut
    with pytest.raises(DollrError):
        _pay(services, operator)
    assert _held(services) == (0, 0, 0, 1)  # nothing stored; the marker says a party may exist

    _pay(services, operator)
    assert _held(services) == (1, 1, 1, 0)
    assert _creates(fresh_sandbox, before) == [1, 1, 1]
    assert fresh_sandbox.requests_by_path().get("/v1/parties/list", 0) > before.get("/v1/parties/list", 0)


def test_the_counterparty_and_the_account_are_made_side_by_side(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    """The account's create reaches Dollr while the counterparty's is still being handled: one
    round trip where there were two in a row."""
    before = fresh_sandbox.requests_by_path()
    fresh_sandbox.add_fault(CREATES[1], action="latency", ms=3000)  # the counterparty create is slow
    with ThreadPoolExecutor(1) as pool:
        paying = pool.submit(_pay, services, operator)
        deadline = time.monotonic() + 30
        while _creates(fresh_sandbox, before)[2] == 0 and not paying.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _creates(fresh_sandbox, before) == [1, 1, 1]  # the account's create has arrived …
        assert services.client.counterparties.list() == []  # … and the counterparty is not made yet
        paying.result()
    assert _held(services) == (1, 1, 1, 0)
