"""Payment links: a payable document with Dollr's hosted page, made in one call (the checkout
shortcut, K1), and made once however often the button is pressed or its answer is lost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from dollr_core.api.models import CheckoutCreate, CheckoutItem
from dollr_core.basics.access import Actor, Permission, require
from dollr_core.basics.enums import RelationshipType, SourceStatus, SourceType
from dollr_core.basics.validation import NOTE_LENGTH, check_text
from dollr_core.flows import creating, documents
from dollr_core.flows.directory import Person, remember_customer
from dollr_core.ledger.tables import DocumentRecord
from dollr_core.services import Services


@dataclass(frozen=True)
class CheckoutLink:
    record: DocumentRecord
    url: str | None


def create_checkout(
    svc: Services,
    actor: Actor,
    draft_key: str,
    *,
    source_type: SourceType,
    customer: Person,
    currency: str,
    items: Sequence[tuple[str, Decimal]],
    note: str = "",
) -> CheckoutLink:
    """One call makes the party, counterparty and a payable document with a hosted payment page.

    The draft key is the document's reference, so repeating the call finds the first document.
    """
    require(actor, Permission.COLLECT)
    check_text(note, "note", max_length=NOTE_LENGTH, multiline=True)
    for name, _amount in items:
        check_text(name, "item name", max_length=200)
    found = documents.find_by_reference(svc, source_type, draft_key, ask_dollr=False)
    if found is not None:
        return CheckoutLink(found, _pay_url(svc, found))
    # K1 has no idempotency key: Dollr is searched only when an earlier click's create may have
    # landed unstored (its marker is still in the ledger). K1 makes the document payable at once.
    marker = creating.creating_marker("checkout", source_type, draft_key)
    if not creating.mark(svc.engine, marker):
        found = documents.find_by_reference(
            svc, source_type, draft_key, statuses=(SourceStatus.ACTIVE, SourceStatus.IDLE)
        )
        if found is not None:
            creating.unmark(svc.engine, marker)
            return CheckoutLink(found, _pay_url(svc, found))
    link = _create_checkout(svc, actor, draft_key, source_type, customer, currency, items, note)
    creating.unmark(svc.engine, marker)
    return link


def _create_checkout(
    svc: Services,
    actor: Actor,
    draft_key: str,
    source_type: SourceType,
    customer: Person,
    currency: str,
    items: Sequence[tuple[str, Decimal]],
    note: str,
) -> CheckoutLink:
    created = svc.client.checkouts.create(
        CheckoutCreate(
            source_kind=source_type,
            party_name=customer.fullname,
            party_phone=customer.phone,
            party_email=customer.email,
            currency=currency,
            items=[CheckoutItem(name=name, currency=currency, amount=amount) for name, amount in items],
            reference_id=draft_key,
            note=note or None,
        )
    )
    if created.party_id is None or created.counterparty_id is None or created.source_number is None:
        # The answer left out whom it is for or its number: only then is the document read.
        document = documents.documents_api(svc, created.source_type).retrieve(created.source_id)
        return CheckoutLink(documents.mirror(svc.engine, document, created_by=actor.email), created.url)
    # K1's answer says it all (never read back): its party and counterparty are kept for the
    # next sale to this customer, the document is mirrored from it.
    payer = remember_customer(
        svc.engine, customer, created.party_id, created.counterparty_id, RelationshipType.CUSTOMER
    )
    record = documents.mirror_checkout(svc.engine, created, note, payer, actor.email)
    return CheckoutLink(record, created.url)


def checkout_lines(items: Sequence[documents.LineItem], currency: str) -> list[tuple[str, Decimal]]:
    """Lines for `create_checkout`: Dollr's checkout items have no quantity, so each line is priced
    at quantity × unit price and its name says how many."""
    lines = []
    for item in items:
        line = documents.LineItem.checked(item.name, item.qty, item.unit_amount, currency)
        name = line.name if line.qty == 1 else f"{line.name} × {line.qty}"
        lines.append((name, line.qty * line.unit_amount))
    return lines


def _pay_url(svc: Services, record: DocumentRecord) -> str | None:
    if record.number and record.status in (SourceStatus.ACTIVE, SourceStatus.PROCESSING):
        return svc.client.links.pay(SourceType(record.source_type), record.number).url
    return None
