"""Getting paid: a customer's mobile-money wallet pays a published invoice or order, or the
customer pays on Dollr's hosted page.

Embedded collection: document → operator detection → quote → (confirm) checkout session →
payment account → execute → status → receipt. Every step before the execution is repeatable and
stored; the execution itself goes through `protocol.submit`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from pydantic import BaseModel
from sqlmodel import Session, col, select

from dollr_core.api.models import (
    AmountAndFeePrediction,
    CheckoutCreate,
    CheckoutItem,
    CheckoutSessionCreate,
    CollectionExecute,
    DocumentDetail,
    PaymentSourceQuery,
)
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import (
    FeeBearer,
    OperationType,
    PaymentMethod,
    Provider,
    RelationshipType,
    SourceStatus,
    SourceType,
)
from dollr_core.basics.phone import normalize_phone
from dollr_core.basics.validation import NOTE_LENGTH, check_text
from dollr_core.errors import InputRefused
from dollr_core.flows import documents
from dollr_core.flows.directory import (
    KnownCustomer,
    Person,
    customer_for_counterparty,
    ensure_account,
    ensure_party,
    known_customer,
    remember_customer,
)
from dollr_core.flows.payment_links import checkout_lines
from dollr_core.ledger.intents import born_held, get_intent, holding, open_intent, open_new_intent
from dollr_core.ledger.tables import Attempt, Customer, DocumentRecord, Intent, IntentKind, IntentState
from dollr_core.payments import protocol
from dollr_core.services import Services


class CollectionRefused(InputRefused):
    """The collection cannot go ahead as asked; the message says why in plain words."""


@dataclass(frozen=True)
class CollectionQuote:
    intent_key: str
    document_number: str
    phone: str
    carrier: str
    method: PaymentMethod
    payer_amount: Decimal  # what the customer's wallet is charged
    payer_currency: str
    payee_amount: Decimal  # what we receive
    payee_currency: str
    platform_fee: Decimal
    gateway_fee: Decimal
    fx_fee: Decimal
    fx_rate: Decimal | None
    state: IntentState


def prepare_collection(
    svc: Services,
    actor: Actor,
    intent_key: str,
    *,
    record: DocumentRecord,
    phone: str,
    payer_currency: str | None = None,
    just_made: Customer | None = None,
) -> CollectionQuote:
    """Detect the operator, register the wallet, and quote what the customer pays.

    `just_made` is the customer of a document this same flow has just made payable (the checkout
    shortcut, or draft → items → publish): then the document's state is that answer, not read again.
    """
    return _quote(*_quoted_intent(svc, actor, intent_key, record, phone, payer_currency, just_made))


def _quoted_intent(
    svc: Services,
    actor: Actor,
    intent_key: str,
    record: DocumentRecord,
    phone: str,
    payer_currency: str | None,
    just_made: Customer | None,
    *,
    as_left: Intent | None = None,
) -> tuple[Intent, str, AmountAndFeePrediction]:
    """`prepare_collection`'s work: the intent as written, the carrier's name and the quote.
    `as_left`: the intent as this caller wrote it (`open_intent`'s)."""
    require(actor, Permission.COLLECT)
    number = normalize_phone(phone)
    if just_made is None:
        # The document may have been paid or be in flight by a way the ledger does not see (the
        # hosted page, another console), and Dollr accepts a second collection on a PROCESSING
        # document: so its state is read from Dollr, never taken from our mirror.
        current = documents.detail(svc, actor, record.source_type, record.dollr_id)
        if current.status != SourceStatus.ACTIVE:
            raise CollectionRefused(_not_payable(str(current.status)))
        payer = _payer(svc, current)
        counterparty_id, total = current.counterparty_id, current.total_amount
        document_currency = current.currency
        document_number: str | None = current.number
    else:
        # Dollr's answer to the create (or publish) in this same flow already said all of it.
        if record.status != SourceStatus.ACTIVE:
            raise CollectionRefused(_not_payable(str(record.status)))
        payer = just_made
        counterparty_id, total = record.dollr_counterparty_id, record.total_amount
        document_currency, document_number = record.currency, record.number
    info = svc.lookups.operator(number, OperationType.COLLECTION)
    currencies = info.currencies or [document_currency]
    currency = payer_currency or (document_currency if document_currency in currencies else currencies[0])
    if currency not in currencies:
        raise CollectionRefused(f"{info.carrier} wallets pay in {', '.join(currencies)}, not {currency}.")
    if info.payment_method is None:
        raise CollectionRefused("Dollr could not tell which mobile network serves this number.")
    method = PaymentMethod(info.payment_method)
    provider = Provider(info.gateway_provider or method.provider)
    account = ensure_account(
        svc.engine,
        svc.client,
        customer=payer,
        operation=OperationType.COLLECTION,
        method=method,
        provider=provider,
        number=number,
        country_code=info.country,
    )
    prediction = svc.lookups.prediction(
        PaymentSourceQuery(
            source_type=SourceType(record.source_type),
            source_id=record.dollr_id,
            target_currency=currency,
            payment_method=method,
            provider=provider,
        )
    )
    intent = open_intent(
        svc.engine,
        intent_key,
        kind=IntentKind.DOCUMENT_COLLECTION,
        operation_type=OperationType.COLLECTION,
        operator=actor.email,
        state=IntentState.READY,
        terms={"source": [record.source_type, record.dollr_id], "phone": number, "currency": currency},
        party_name=payer.fullname,
        phone=number,
        dollr_party_id=payer.dollr_party_id,
        dollr_counterparty_id=counterparty_id,
        method=method,
        provider=provider,
        account_id=account.dollr_account_id,
        source_type=record.source_type,
        source_id=record.dollr_id,
        source_number=document_number,
        amount=total,
        currency=document_currency,
        payer_currency=currency,
        step="quoted",
        as_left=as_left,
        predicted_payer_amount=prediction.payer_amount,
        predicted_payee_amount=prediction.payee_amount,
        predicted_platform_fee=prediction.platform_fee,
        predicted_gateway_fee=prediction.gateway_fee,
        predicted_fx_fee=prediction.fx_fee,
    )
    return intent, info.carrier or method.value, prediction


def _not_payable(status: str) -> str:
    reasons: dict[str, str] = {
        SourceStatus.IDLE: "This document is still a draft: publish it before collecting.",
        SourceStatus.PROCESSING: "A payment for this document is already in progress.",
        SourceStatus.PAID: "This document is already paid.",
        SourceStatus.CANCELED: "This document was cancelled; create a new one.",
    }
    return reasons.get(status, f"This document cannot be paid now (it is {status}).")


def _payer(svc: Services, current: DocumentDetail) -> Customer:
    """The customer the document was made for (the wallet may be another of their numbers)."""
    party = current.counterparty.party if current.counterparty else None
    if party is None and current.counterparty_id is not None:
        known = customer_for_counterparty(svc.engine, current.counterparty_id)
        if known is not None:
            return known
        party = svc.client.counterparties.retrieve(current.counterparty_id).party
    if party is None:
        raise CollectionRefused("This document has no customer attached; create it again with a customer.")
    person = Person.checked(party.fullname, party.phone, party.email, party.country_code)
    if current.counterparty is not None:
        # Dollr named the party itself (a checkout may have made it): keep that one, never a copy.
        kind = current.counterparty.relationship_type
        return remember_customer(
            svc.engine,
            person,
            party.id,
            current.counterparty.id,
            RelationshipType(kind) if kind in set(RelationshipType) else RelationshipType.CUSTOMER,
        )
    return ensure_party(svc.engine, svc.client, person)


def _quote(intent: Intent, carrier: str, prediction: AmountAndFeePrediction) -> CollectionQuote:
    zero = Decimal(0)
    return CollectionQuote(
        intent_key=intent.intent_key,
        document_number=intent.source_number or "",
        phone=intent.phone,
        carrier=carrier,
        method=PaymentMethod(str(intent.method)),
        payer_amount=prediction.payer_amount,
        payer_currency=prediction.payer_currency,
        payee_amount=prediction.payee_amount,
        payee_currency=prediction.payee_currency,
        platform_fee=prediction.platform_fee or zero,
        gateway_fee=prediction.gateway_fee or zero,
        fx_fee=prediction.fx_fee or zero,
        fx_rate=prediction.fx_rate,
        state=IntentState(intent.state),
    )


def exchange_rate(quote: CollectionQuote) -> Decimal | None:
    """Units of the customer's currency per unit of ours; None when no exchange happens.

    Dollr's quote may leave the rate out. Fees are in our currency and the customer's amount is
    the converted sum of what we receive and the fees, whoever bears them, so the rate follows.
    """
    if quote.payer_currency == quote.payee_currency:
        return None
    if quote.fx_rate is not None:
        return quote.fx_rate
    converted = quote.payee_amount + quote.platform_fee + quote.gateway_fee + quote.fx_fee
    if converted <= 0:
        return None
    return (quote.payer_amount / converted).quantize(Decimal("0.0001"))


def collection_attempt(svc: Services, intent_key: str) -> Attempt | None:
    """The attempt this form's intent already made, if any: then the page shows it, never confirm."""
    intent = get_intent(svc.engine, intent_key)
    if intent is None or intent.current_attempt_id is None:
        return None
    with Session(svc.engine) as db:
        return db.get(Attempt, intent.current_attempt_id)


def latest_collection(svc: Services, record: DocumentRecord) -> Attempt | None:
    """The newest collection attempt for the document, from any window or person (ledger only)."""
    with Session(svc.engine) as db:
        return db.exec(
            select(Attempt)
            .where(
                Attempt.operation_type == OperationType.COLLECTION,
                Attempt.source_type == record.source_type,
                Attempt.source_id == record.dollr_id,
            )
            .order_by(col(Attempt.id).desc())
        ).first()


@dataclass
class CollectionPlan:
    svc: Services
    intent: Intent
    operation_type: OperationType = OperationType.COLLECTION

    def open_session(self) -> protocol.OpenedSession:
        assert self.intent.source_id is not None and self.intent.source_type is not None
        session = self.svc.client.sessions.checkout(
            CheckoutSessionCreate(
                source_id=self.intent.source_id, source_type=SourceType(self.intent.source_type)
            )
        )
        return protocol.OpenedSession(session.id, session.expires_at)

    def build(self, session_id: int, reference_id: str) -> BaseModel:
        return CollectionExecute(
            session_id=str(session_id),
            payment_account_id=str(self.intent.account_id),
            currency=self.intent.payer_currency or self.intent.currency,
            reference_id=reference_id,
        )


def confirm_collection(svc: Services, actor: Actor, intent_key: str) -> Attempt:
    """Ask the customer's wallet to pay, once; a repeat call reports on the attempt already made."""
    require(actor, Permission.COLLECT)
    intent = get_intent(svc.engine, intent_key)
    if intent is None:
        raise protocol.IntentNotReady("This collection was not prepared; start again from the form.")
    return _submit(svc, actor, intent)


def _submit(svc: Services, actor: Actor, intent: Intent) -> Attempt:
    """Claim and send `intent`, as the caller read or wrote it (`protocol.submit`'s `as_left`)."""
    plan = CollectionPlan(svc, intent)
    return protocol.submit(svc.engine, svc.client, intent.intent_key, plan, actor=actor.email, as_left=intent)


# --------------------------------------------------------------------------- document-first, end to end


@dataclass(frozen=True)
class NewCollection:
    """Everything to bill a customer and collect it from a wallet in one go."""

    customer: Person
    currency: str
    items: Sequence[documents.LineItem]
    wallet_phone: str
    source_type: SourceType = SourceType.INVOICE
    fee_bearer: FeeBearer = FeeBearer.PAYER
    note: str = ""
    payer_currency: str | None = None


def collect_new_document(svc: Services, actor: Actor, intent_key: str, order: NewCollection) -> Attempt:
    """Party → counterparty → document → items → publish → quote → execute, resumable at every step.

    Run it again with the same key after any interruption: each step finds what the previous run
    stored (or what Dollr already holds) instead of creating it again.
    """
    require(actor, Permission.MANAGE_INVOICES)
    require(actor, Permission.COLLECT)
    owner = protocol.owner_id()
    intent, made = open_new_intent(
        svc.engine,
        intent_key,
        kind=IntentKind.DOCUMENT_COLLECTION,
        operation_type=OperationType.COLLECTION,
        operator=actor.email,
        state=IntentState.OPEN,
        terms={"new_document": intent_key},
        party_name=order.customer.fullname,
        phone=order.customer.phone,
        currency=order.currency,
        **born_held(owner),  # a new intent is ours to prepare from its first statement
    )
    if not made and IntentState(intent.state) not in (IntentState.OPEN, IntentState.READY):
        return confirm_collection(svc, actor, intent_key)  # reports on it, or takes over a dead sender
    with holding(svc.engine, intent_key, owner, made=intent if made else None):
        # A fresh intent cannot have left anything on Dollr yet: no need to look for it there;
        # and it is as this run wrote it, so the quote changes it without reading it first.
        intent = _prepare_new_document(svc, actor, intent_key, order, opened=intent if made else None)
    return _submit(svc, actor, intent)  # the intent as the quote wrote it: not read again


def _prepare_new_document(
    svc: Services, actor: Actor, intent_key: str, order: NewCollection, *, opened: Intent | None
) -> Intent:
    """The document, then the quote; `opened`: the intent this run opened just now (None: resuming)."""
    recovering = opened is None
    # Checkout items have no quantity: a line of several would reach the receipt as one priced line,
    # so only payer-pays sales of single-quantity lines take the shortcut.
    made = None
    if order.fee_bearer is FeeBearer.PAYER and all(item.qty == 1 for item in order.items):
        made = _checkout_new_document(svc, actor, intent_key, order, recovering=recovering)
    if made is not None:
        record, payer = made
    else:
        # A returning customer's records, read once for the document and the quote (a read: a
        # first-time customer is made at Dollr only once the sale's input has been checked).
        known = None if recovering else known_customer(svc.engine, order.customer, RelationshipType.CUSTOMER)
        record = publish_new_document(
            svc,
            actor,
            intent_key,
            source_type=order.source_type,
            customer=order.customer,
            currency=order.currency,
            items=order.items,
            fee_bearer=order.fee_bearer,
            note=order.note,
            recovering=recovering,
            records=known,
        )
        # Made and published by this very run: the publish answer said it is payable, for whom,
        # and for the sum of the lines we added (anything else, and it is read from Dollr after all).
        payer = None
        answered = record.total_amount == documents.lines_total(order.items)
        made_for = record.dollr_counterparty_id
        if not recovering and answered and made_for is not None:
            if known is not None and known.relationship.dollr_counterparty_id == made_for:
                payer = known.customer  # in hand: not read again
            else:
                payer = customer_for_counterparty(svc.engine, made_for)
    intent, _, _ = _quoted_intent(
        svc, actor, intent_key, record, order.wallet_phone, order.payer_currency, payer, as_left=opened
    )
    protocol.checkpoint("after_quote")
    return intent


def _checkout_new_document(
    svc: Services, actor: Actor, draft_key: str, order: NewCollection, *, recovering: bool
) -> tuple[DocumentRecord, Customer | None] | None:
    """The checkout shortcut (K1): party, counterparty and the payable document with its items in
    one call, the draft key as the document's reference. Checkout sources are payer-pays, so only
    such sales come here.

    A rerun looks for the document by its reference (ours, then Dollr's IDLE and ACTIVE lists):
    an ACTIVE one is this shortcut's and is reused; an IDLE one is a draft an older run began item
    by item, and None sends the caller on that way to finish it.
    """
    require(actor, Permission.MANAGE_INVOICES)
    if not order.items:
        raise ValueError("Add at least one item.")
    lines = checkout_lines(order.items, order.currency)
    check_text(order.note, "note", max_length=NOTE_LENGTH, multiline=True)
    # A run whose intent was opened just now (not recovering) has made nothing under its key yet.
    found = (
        documents.find_by_reference(
            svc, order.source_type, draft_key, statuses=(SourceStatus.IDLE, SourceStatus.ACTIVE)
        )
        if recovering
        else None
    )
    if found is not None:
        # Found again after an interruption: the caller finishes an IDLE draft item by item, and
        # a payable one is read from Dollr before it is quoted (no answer of this run vouches).
        return None if found.status == SourceStatus.IDLE else (found, None)
    known = known_customer(svc.engine, order.customer, RelationshipType.CUSTOMER)
    created = svc.client.checkouts.create(
        CheckoutCreate(
            source_kind=order.source_type,
            party_name=order.customer.fullname,
            party_phone=order.customer.phone,
            party_email=order.customer.email,
            party_relationship=RelationshipType.CUSTOMER,
            counterparty_id=known.relationship.dollr_counterparty_id if known is not None else None,
            currency=order.currency,
            items=[CheckoutItem(name=name, currency=order.currency, amount=amount) for name, amount in lines],
            reference_id=draft_key,
            note=order.note or "Payment",
        )
    )
    protocol.checkpoint("after_document")
    if created.party_id is None or created.counterparty_id is None or created.source_number is None:
        raise CollectionRefused("Dollr's checkout answer left out the customer or the number; try again.")
    payer = remember_customer(
        svc.engine,
        order.customer,
        created.party_id,
        created.counterparty_id,
        RelationshipType.CUSTOMER,
        known=known,
    )
    protocol.checkpoint("after_items")  # the shortcut's document has its items and is published
    record = documents.mirror_checkout(svc.engine, created, order.note or "Payment", payer, actor.email)
    protocol.checkpoint("after_publish")
    return record, payer


def publish_new_document(
    svc: Services,
    actor: Actor,
    draft_key: str,
    *,
    source_type: SourceType,
    customer: Person,
    currency: str,
    items: Sequence[documents.LineItem],
    fee_bearer: FeeBearer = FeeBearer.PAYER,
    note: str = "",
    recovering: bool = True,
    records: KnownCustomer | None = None,
) -> DocumentRecord:
    """Draft → items → publish in one go (a sale billed at the counter), ready to be collected.

    Resumable like `collect_new_document`: the same draft key finds the document and the items
    Dollr already holds, so a rerun or a second click never bills twice. `records`: as for
    `documents.create_document`.
    """
    require(actor, Permission.MANAGE_INVOICES)
    if not items:
        raise InputRefused("Add at least one item.")
    checked = [documents.LineItem.checked(i.name, i.qty, i.unit_amount, currency) for i in items]
    record = documents.create_document(
        svc,
        actor,
        draft_key=draft_key,
        source_type=source_type,
        customer=customer,
        currency=currency,
        note=note or "Payment",
        fee_bearer=fee_bearer,
        recovering=recovering,
        records=records,
    )
    protocol.checkpoint("after_document")
    if record.status == SourceStatus.IDLE:
        _ensure_items(svc, actor, record, checked, recovering=recovering)
        protocol.checkpoint("after_items")
        record = documents.publish(svc, actor, record, itemised_now=not recovering)
        protocol.checkpoint("after_publish")
    return record


def _ensure_items(
    svc: Services,
    actor: Actor,
    record: DocumentRecord,
    wanted: Sequence[documents.LineItem],
    *,
    recovering: bool,
) -> None:
    """Add the items Dollr does not hold yet (an earlier run may have added some before a crash)."""
    held = documents.detail(svc, actor, record.source_type, record.dollr_id).items if recovering else []
    present = Counter((item.name, item.qty, item.amount.normalize()) for item in held)
    missing = []
    for item in wanted:
        key = (item.name, item.qty, item.unit_amount.normalize())
        if present[key] > 0:
            present[key] -= 1
            continue
        missing.append(item)
    documents.add_items(svc, actor, record, missing)


# --------------------------------------------------------------------------- checkout sources
