"""Dollr calls per flow, start to one final status read, pinned against the sandbox's own request
log, so a change that adds a call fails here (issue 16; bench/requests_per_flow.py prints them)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from decimal import Decimal

import pytest
from sqlmodel import Session, select

from dollr_core.basics.access import Actor
from dollr_core.basics.enums import SourceStatus, SourceType
from dollr_core.errors import InputRefused
from dollr_core.flows.collect import (
    NewCollection,
    collect_new_document,
    confirm_collection,
    prepare_collection,
    publish_new_document,
)
from dollr_core.flows.directory import Person
from dollr_core.flows.documents import LineItem
from dollr_core.flows.payment_links import create_checkout
from dollr_core.flows.payouts import confirm_payout, prepare_payout
from dollr_core.ledger.intents import new_intent_key
from dollr_core.ledger.tables import Attempt, AttemptState, DocumentRecord
from dollr_core.payments.follow_up import refresh_payment
from dollr_core.services import Services
from dollr_sandbox import Sandbox

PASSCODE = "123456"
TOKEN = "/v1/jwt/client/obtain/token"
ITEMS = (LineItem("Strategy session", 1, Decimal("250.00")), LineItem("Report", 1, Decimal("25.00")))
CUSTOMER = Person.checked("Amara Kamara", "231771231234", None, "LR")
WALLET = "231880015678"


def _calls(sandbox: Sandbox, svc: Services, actor: Actor, flow: Callable[[], Attempt]) -> Counter[str]:
    """The calls the sandbox saw (token requests aside) from the flow's start to its final status."""
    before = Counter(sandbox.state.stats.by_path())
    attempt = flow()
    sandbox.advance_clock(10)
    attempt = refresh_payment(svc, attempt.reference_id, actor=actor.email, force=True)
    assert attempt.local_state == AttemptState.COMPLETED, attempt.last_error
    seen = Counter(sandbox.state.stats.by_path()) - before
    del seen[TOKEN]
    return Counter({_short(path): n for path, n in seen.items()})


def _short(path: str) -> str:
    parts = [p for p in path.removeprefix("/v1/").split("/") if p]
    return "/".join(p for p in parts if not (p.isdigit() or len(p) == 36 or p.startswith(("INV-", "ORD-"))))


#: A line of quantity 2: checkout items have no quantity, so draft → items → publish.
SEVERAL = (ITEMS[0], LineItem("Report", 2, Decimal("12.50")))
#: What such a sale to a returning customer sends, start to one final status read.
ITEM_BY_ITEM = Counter(
    {
        "invoices/create": 1,
        "invoices/items/add": 2,
        "invoices/publish": 1,
        "predictions/payment-source/amount-and-fees": 1,
        "sessions/checkout": 1,
        "executions/collection": 1,
        "status/collection": 1,
    }
)


def _sale_item_by_item(
    sandbox: Sandbox, svc: Services, actor: Actor, customer: Person, wallet: str
) -> Counter[str]:
    order = NewCollection(customer=customer, currency="USD", items=SEVERAL, wallet_phone=wallet)
    return _calls(sandbox, svc, actor, lambda: collect_new_document(svc, actor, new_intent_key(), order))


def _sale(svc: Services, actor: Actor) -> Callable[[], Attempt]:
    order = NewCollection(customer=CUSTOMER, currency="USD", items=ITEMS, wallet_phone=WALLET)
    return lambda: collect_new_document(svc, actor, new_intent_key(), order)


def test_a_new_sale_uses_the_checkout_shortcut_and_reads_nothing_back(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    first = _calls(fresh_sandbox, services, finance, _sale(services, finance))
    assert first == Counter(
        {
            "checkouts/create": 1,
            "predictions/mmo-provider-info": 1,
            "payment-accounts/create": 1,
            "predictions/payment-source/amount-and-fees": 1,
            "sessions/checkout": 1,
            "executions/collection": 1,
            "status/collection": 1,
        }
    ), first
    returning = _calls(fresh_sandbox, services, finance, _sale(services, finance))
    assert returning == Counter(
        {
            "checkouts/create": 1,
            "predictions/payment-source/amount-and-fees": 1,
            "sessions/checkout": 1,
            "executions/collection": 1,
            "status/collection": 1,
        }
    ), returning
    assert sum(first.values()) == 7 and sum(returning.values()) == 5


def test_a_sale_with_a_line_of_several_is_billed_item_by_item_and_read_back_never(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    """Checkout items have no quantity, so draft → items → publish; the answers to those calls say
    the draft is IDLE with items, then ACTIVE for their total: no invoices/retrieve before the
    publish or the quote, and no status/source after the execution."""
    _calls(fresh_sandbox, services, finance, _sale(services, finance))  # the customer and wallet are known
    seen = _sale_item_by_item(fresh_sandbox, services, finance, CUSTOMER, WALLET)
    assert seen == ITEM_BY_ITEM, seen


def test_an_accepted_collection_marks_its_document_processing_from_dollrs_answer(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    """Dollr said it holds the collection, and a submitted collection makes its document
    PROCESSING (contract §3.3): the mirror follows that answer, with no status/source read."""
    attempt = _sale(services, finance)()
    before = Counter(fresh_sandbox.state.stats.by_path())
    attempt = refresh_payment(services, attempt.reference_id, actor=finance.email, force=True)
    seen = Counter(fresh_sandbox.state.stats.by_path()) - before
    assert attempt.local_state == AttemptState.ACCEPTED, attempt.last_error
    assert {_short(path) for path in seen} == {"status/collection"}, seen
    assert attempt.source_id is not None
    with Session(services.engine) as db:
        record = db.exec(select(DocumentRecord).where(DocumentRecord.dollr_id == attempt.source_id)).one()
    assert record.status == SourceStatus.PROCESSING


def test_a_payment_link_is_one_call_and_its_document_is_not_read_back(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    before = Counter(fresh_sandbox.state.stats.by_path())
    made = create_checkout(
        services,
        finance,
        new_intent_key(),
        source_type=SourceType.INVOICE,
        customer=CUSTOMER,
        currency="USD",
        items=[("Strategy session", Decimal("250.00"))],
    )
    seen = Counter(fresh_sandbox.state.stats.by_path()) - before
    del seen[TOKEN]
    calls = Counter({_short(path): n for path, n in seen.items()})
    # K1's answer is mirrored as it is: no invoices/retrieve; and no invoices/list before it (Dollr
    # is searched only after a click whose create may have landed unstored: test_late_copies)
    assert calls == Counter({"checkouts/create": 1}), calls
    assert made.url and made.record.status == SourceStatus.ACTIVE
    assert made.record.customer_name == CUSTOMER.fullname and made.record.total_amount == Decimal("250.00")


def test_collecting_a_published_document_reads_its_state_from_dollr_once(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    _calls(fresh_sandbox, services, finance, _sale(services, finance))  # the customer and wallet are known
    record = publish_new_document(
        services,
        finance,
        new_intent_key(),
        source_type=SourceType.INVOICE,
        customer=CUSTOMER,
        currency="USD",
        items=ITEMS,
        recovering=False,
    )

    def collect() -> Attempt:
        key = new_intent_key()
        prepare_collection(services, finance, key, record=record, phone=WALLET)
        return confirm_collection(services, finance, key)

    seen = _calls(fresh_sandbox, services, finance, collect)
    assert seen == Counter(
        {
            "invoices/retrieve": 1,  # its state, which only Dollr knows (see prepare_collection)
            "predictions/payment-source/amount-and-fees": 1,
            "sessions/checkout": 1,
            "executions/collection": 1,
            "status/collection": 1,
        }
    ), seen


def test_payouts_create_each_record_once_and_repeat_with_three_calls(
    services: Services, fresh_sandbox: Sandbox, operator: Actor
) -> None:
    def payout(amount: str) -> Callable[[], Attempt]:
        def run() -> Attempt:
            key = new_intent_key()
            prepare_payout(
                services,
                operator,
                key,
                name="Musa Kollie",
                phone="231550014321",
                amount=amount,
                currency="USD",
            )
            return confirm_payout(services, operator, key, PASSCODE)

        return run

    first = _calls(fresh_sandbox, services, operator, payout("40"))
    assert first == Counter(
        {
            "parties/create": 1,  # no list first: nothing can have been created before
            "counterparties/create": 1,
            "predictions/mmo-provider-info": 1,
            "payment-accounts/create": 1,
            "predictions/amount-and-fees": 1,
            "sessions/payout": 1,
            "executions/payout": 1,
            "status/payout": 1,
        }
    ), first
    repeat = _calls(fresh_sandbox, services, operator, payout("40"))
    assert repeat == Counter({"sessions/payout": 1, "executions/payout": 1, "status/payout": 1}), repeat


def test_a_first_time_customers_sale_item_by_item_is_made_once_and_quoted_to_them(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    """No records in the ledger: the party and counterparty are made with the draft, and the
    customer the document was made for is the one quoted (one read of the ledger, no call)."""
    newcomer = Person.checked("Musa Kollie", "231771239876", None, "LR")
    seen = _sale_item_by_item(fresh_sandbox, services, finance, newcomer, "231880019876")
    made = {
        "parties/create",
        "counterparties/create",
        "predictions/mmo-provider-info",
        "payment-accounts/create",
    }
    assert seen == ITEM_BY_ITEM + Counter(dict.fromkeys(made, 1)), seen


def test_a_sale_refused_for_its_input_sends_nothing(
    services: Services, fresh_sandbox: Sandbox, finance: Actor
) -> None:
    """A first-time customer and a note too long: refused naming the note, before any call."""
    newcomer = Person.checked("Musa Kollie", "231771239876", None, "LR")
    order = NewCollection(
        customer=newcomer, currency="USD", items=SEVERAL, wallet_phone="231880019876", note="x" * 501
    )
    before = Counter(fresh_sandbox.state.stats.by_path())
    with pytest.raises(InputRefused, match="note"):
        collect_new_document(services, finance, new_intent_key(), order)
    seen = Counter(fresh_sandbox.state.stats.by_path()) - before
    del seen[TOKEN]
    assert seen == Counter()
