"""I1–I12 invoices, O1–O12 orders (one implementation, two path sets) and K1 checkout create.

No ``from __future__ import annotations`` here: the routes built in ``_document_routes`` annotate
with local names, which FastAPI can only see when annotations are evaluated eagerly.
"""

import secrets
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request
from starlette.responses import Response

from dollr_core.basics.enums import FeeBearer, RelationshipType, SourceStatus, SourceType
from dollr_sandbox import views
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import Loc, NotFound, invalid, wrong_state
from dollr_sandbox.pricing import round_to
from dollr_sandbox.records import Checkout, Counterparty, Item, Party, Source
from dollr_sandbox.routes.sessions import gate
from dollr_sandbox.schemas import (
    CheckoutCreate,
    CheckoutOut,
    InvoiceCreate,
    InvoiceDetailOut,
    InvoiceOut,
    InvoiceReceiptOut,
    ItemAdd,
    ItemOut,
    ItemUpdate,
    OrderCreate,
    OrderDetailOut,
    OrderOut,
    OrderReceiptOut,
    SourceUpdate,
    amount_errors,
)
from dollr_sandbox.state import SandboxState, source_number

router = APIRouter()

_NAMES = {SourceType.INVOICE: "Invoice", SourceType.ORDER: "Order"}


def hosted_url(request: Request, token: str) -> str:
    return f"{str(request.base_url).rstrip('/')}/_sandbox/hosted/{token}"


def new_source(
    state: SandboxState,
    kind: SourceType,
    *,
    counterparty_id: int,
    currency: str,
    note: str | None,
    fee_bearer: FeeBearer,
    as_payment_link: bool,
    reference_id: str | None,
    due_date: Any = None,
) -> Source:
    now = state.now()
    serial = state.next_id(f"{kind.value.lower()}_number")
    record = Source(
        id=state.next_id("source"),
        kind=kind,
        number=source_number(kind, now.year, serial),
        status=SourceStatus.IDLE,
        currency=currency,
        note=note,
        fee_bearer=fee_bearer,
        as_payment_link=as_payment_link,
        counterparty_id=counterparty_id,
        reference_id=reference_id,
        due_date=due_date,
        pay_token=secrets.token_urlsafe(16),
        created_at=now,
        updated_at=now,
    )
    return state.sources.put(record)


def find_source(state: SandboxState, kind: SourceType, source_id: int) -> Source:
    record = state.source(source_id)
    if record is None or record.kind is not kind:
        raise NotFound(f"{_NAMES[kind]} {source_id} not found")
    return record


def find_by_number(state: SandboxState, kind: SourceType, number: str) -> Source:
    record = state.source_by_number(number)
    if record is None or record.kind is not kind:
        raise NotFound(f"{_NAMES[kind]} {number} not found")
    return record


def _editable(record: Source, loc: Loc, action: str) -> None:
    if record.status is not SourceStatus.IDLE:
        raise wrong_state(
            loc,
            f"{record.number} is {record.status.value}: {action} is allowed only while IDLE (before publish)",
        )


def _receipt(state: SandboxState, record: Source, loc: Loc) -> Response:
    paid_by = state.executions.get(record.paid_by) if record.paid_by else None
    if record.status is not SourceStatus.PAID or paid_by is None:
        raise wrong_state(loc, f"{record.number} is {record.status.value}: receipts exist only once PAID")
    return reply(state, views.receipt(record, paid_by))


def _document_routes(kind: SourceType) -> APIRouter:
    """The twelve routes of one document kind; invoices and orders differ only in names."""
    plural = "invoices" if kind is SourceType.INVOICE else "orders"
    parent = "invoice_id" if kind is SourceType.INVOICE else "order_id"
    number_name = "invoice_number" if kind is SourceType.INVOICE else "order_number"
    create_model: type[InvoiceCreate] | type[OrderCreate] = (
        InvoiceCreate if kind is SourceType.INVOICE else OrderCreate
    )
    out_model: Any = InvoiceOut if kind is SourceType.INVOICE else OrderOut
    detail_model: Any = InvoiceDetailOut if kind is SourceType.INVOICE else OrderDetailOut
    receipt_model: Any = InvoiceReceiptOut if kind is SourceType.INVOICE else OrderReceiptOut
    tags: list[str | Any] = [plural]
    r = APIRouter(prefix=f"/{plural}", tags=tags)
    ParentId = Annotated[int, Path(alias=parent)]
    Number = Annotated[str, Path(alias=number_name)]

    @r.post("/create", response_model=out_model)
    async def create(state: StateDep, body: Annotated[Any, Depends(json_body(create_model))]) -> Response:
        with state.transaction():
            if state.counterparties.get(body.counterparty_id) is None:
                raise invalid(("body", "counterparty_id"), f"counterparty {body.counterparty_id} not found")
            record = new_source(
                state,
                kind,
                counterparty_id=body.counterparty_id,
                currency=body.currency,
                note=body.note,
                fee_bearer=body.fee_bearer,
                as_payment_link=body.as_payment_link,
                reference_id=body.reference_id,
                due_date=getattr(body, "due_date", None),
            )
            return reply(state, views.source(record))

    @r.put("/update/{id}", response_model=out_model)
    async def update(
        state: StateDep, id: int, body: Annotated[SourceUpdate, Depends(json_body(SourceUpdate))]
    ) -> Response:
        with state.transaction():
            record = find_source(state, kind, id)
            _editable(record, ("path", "id"), "update")
            for name, value in body.model_dump(exclude_unset=True).items():
                if value is not None or name in ("reference_id", "due_date"):
                    setattr(record, name, value)
            record.updated_at = state.now()
            return reply(state, views.source(state.sources.put(record)))

    @r.get("/list", response_model=list[out_model])
    async def list_(
        state: StateDep, currency: str | None = None, status: SourceStatus | None = None
    ) -> Response:
        with state.transaction():
            found = [
                views.source(s)
                for s in state.sources.values()
                if s.kind is kind
                and (currency is None or s.currency == currency)
                and (status is None or s.status is status)
            ]
            return reply(state, found)

    @r.get("/retrieve/{id}", response_model=detail_model)
    async def retrieve(state: StateDep, id: int) -> Response:
        with state.transaction():
            return reply(state, views.source_detail(state, find_source(state, kind, id)))

    @r.get(f"/retrieve/number/{{{number_name}}}", response_model=detail_model)
    async def retrieve_by_number(state: StateDep, number: Number) -> Response:
        with state.transaction():
            return reply(state, views.source_detail(state, find_by_number(state, kind, number)))

    @r.post(f"/{{{parent}}}/items/add", response_model=ItemOut)
    async def add_item(
        state: StateDep, owner: ParentId, body: Annotated[ItemAdd, Depends(json_body(ItemAdd))]
    ) -> Response:
        with state.transaction():
            record = find_source(state, kind, owner)
            _editable(record, ("path", parent), "adding items")
            if body.currency != record.currency:
                raise invalid(
                    ("body", "currency"),
                    f"item currency must be the {plural[:-1]} currency {record.currency}",
                )
            added = Item(
                id=state.next_id("item"),
                name=body.name,
                currency=body.currency,
                qty=body.qty,
                amount=body.amount,
            )
            record.items.append(added)
            record.updated_at = state.now()
            state.sources.put(record)
            return reply(state, views.item(added))

    def _find_item(record: Source, item_id: int) -> Item:
        for candidate in record.items:
            if candidate.id == item_id:
                return candidate
        raise NotFound(f"Item {item_id} not found on {record.number}")

    @r.put(f"/{{{parent}}}/items/{{id}}/update", response_model=ItemOut)
    async def update_item(
        state: StateDep, owner: ParentId, id: int, body: Annotated[ItemUpdate, Depends(json_body(ItemUpdate))]
    ) -> Response:
        with state.transaction():
            record = find_source(state, kind, owner)
            target = _find_item(record, id)
            _editable(record, ("path", parent), "updating items")
            problems = amount_errors(body.amount, record.currency, ("body", "amount"))
            if problems:
                raise invalid(tuple(problems[0]["loc"]), problems[0]["msg"], problems[0]["type"])
            if body.name is not None:
                target.name = body.name
            if body.qty is not None:
                target.qty = body.qty
            if body.amount is not None:
                target.amount = body.amount
            record.updated_at = state.now()
            state.sources.put(record)
            return reply(state, views.item(target))

    @r.delete(f"/{{{parent}}}/items/{{id}}/remove")
    async def remove_item(state: StateDep, owner: ParentId, id: int) -> Response:
        with state.transaction():
            record = find_source(state, kind, owner)
            target = _find_item(record, id)
            _editable(record, ("path", parent), "removing items")
            record.items.remove(target)
            record.updated_at = state.now()
            state.sources.put(record)
            return reply(state, {})

    @r.put("/publish/{id}", response_model=out_model)
    async def publish(state: StateDep, id: int) -> Response:
        with state.transaction():
            record = find_source(state, kind, id)
            _editable(record, ("path", "id"), "publish")
            if not record.items:
                raise wrong_state(
                    ("path", "id"), f"{record.number} has no items: add at least one before publishing"
                )
            record.status = SourceStatus.ACTIVE
            record.updated_at = state.now()
            return reply(state, views.source(state.sources.put(record)))

    @r.delete("/cancel/{id}", response_model=out_model)
    async def cancel(state: StateDep, id: int) -> Response:
        with state.transaction():
            record = find_source(state, kind, id)
            if record.status not in (SourceStatus.IDLE, SourceStatus.ACTIVE):
                hint = (
                    " (a collection is in flight: wait for its outcome)"
                    if record.status is SourceStatus.PROCESSING
                    else ""
                )
                raise wrong_state(
                    ("path", "id"), f"{record.number} is {record.status.value} and cannot be canceled{hint}"
                )
            record.status = SourceStatus.CANCELED
            record.updated_at = state.now()
            return reply(state, views.source(state.sources.put(record)))

    @r.get("/receipt/{id}", response_model=receipt_model)
    async def receipt(state: StateDep, id: int) -> Response:
        with state.transaction():
            return _receipt(state, find_source(state, kind, id), ("path", "id"))

    @r.get(f"/receipt/number/{{{number_name}}}", response_model=receipt_model)
    async def receipt_by_number(state: StateDep, number: Number) -> Response:
        with state.transaction():
            return _receipt(state, find_by_number(state, kind, number), ("path", number_name))

    return r


router.include_router(_document_routes(SourceType.INVOICE))
router.include_router(_document_routes(SourceType.ORDER))


def _match_party(state: SandboxState, body: CheckoutCreate) -> Party:
    for party in state.parties.values():
        if party.phone == body.party_phone:
            return party
    now = state.now()
    return state.parties.put(
        Party(
            id=state.next_id("party"),
            fullname=body.party_name or body.party_phone,
            phone=body.party_phone,
            email=body.party_email,
            created_at=now,
            updated_at=now,
        )
    )


def _match_counterparty(state: SandboxState, body: CheckoutCreate, party: Party) -> Counterparty:
    relationship = body.party_relationship or RelationshipType.CUSTOMER
    for record in state.counterparties.values():
        if record.party_id == party.id and record.relationship_type is relationship:
            return record
    now = state.now()
    return state.counterparties.put(
        Counterparty(
            id=state.next_id("counterparty"),
            relationship_type=relationship,
            party_id=party.id,
            created_at=now,
            updated_at=now,
        )
    )


@router.post("/checkouts/create", response_model=CheckoutOut, tags=["checkouts"])
async def create_checkout(
    request: Request, state: StateDep, body: Annotated[CheckoutCreate, Depends(json_body(CheckoutCreate))]
) -> Response:
    gate(state, "Hosted checkouts")
    with state.transaction():
        if body.expires_at is not None and body.expires_at <= state.now():
            raise invalid(("body", "expires_at"), "expires_at must be in the future")
        if body.counterparty_id is not None:
            counterparty = state.counterparties.get(body.counterparty_id)
            if counterparty is None:
                raise invalid(("body", "counterparty_id"), f"counterparty {body.counterparty_id} not found")
            linked = state.parties.get(counterparty.party_id) if counterparty.party_id is not None else None
            party = linked or _match_party(state, body)
        else:
            party = _match_party(state, body)
            counterparty = _match_counterparty(state, body, party)
        # Checkout-created sources carry no fee bearer in the request: the payer bears the fees,
        # and the source is payable at once (ACTIVE), as the flows imply.
        record = new_source(
            state,
            body.source_kind,
            counterparty_id=counterparty.id,
            currency=body.currency,
            note=body.note,
            fee_bearer=FeeBearer.PAYER,
            as_payment_link=True,
            reference_id=body.reference_id,
            due_date=body.due_date,
        )
        for line in body.items:
            record.items.append(
                Item(
                    id=state.next_id("item"),
                    name=line.name,
                    currency=line.currency,
                    qty=1,
                    amount=line.amount,
                )
            )
        record.status = SourceStatus.ACTIVE
        state.sources.put(record)
        now = state.now()
        checkout = state.checkouts.put(
            Checkout(
                id=state.next_id("checkout"),
                mode=body.mode.value,
                source_id=record.id,
                source_type=record.kind,
                config_id=state.next_id("checkout_config"),
                party_id=party.id,
                counterparty_id=counterparty.id,
                reference_id=body.reference_id,
                due_date=body.due_date,
                expires_at=body.expires_at,
                success_url=body.success_url,
                cancel_url=body.cancel_url,
                token=secrets.token_urlsafe(16),
                created_at=now,
                updated_at=now,
            )
        )
        assert checkout.token is not None
        out = CheckoutOut(
            id=checkout.id,
            mode=body.mode,
            source_type=record.kind,
            source_id=record.id,
            source_number=record.number,
            source_status=record.status,
            party_id=party.id,
            counterparty_id=counterparty.id,
            source_checkout_config_id=checkout.config_id,
            currency=record.currency,
            total_amount=round_to(record.total_amount, record.currency),
            reference_id=record.reference_id,
            url=hosted_url(request, checkout.token),
            hosted_path_or_token=checkout.token,
            due_date=checkout.due_date,
            expires_at=checkout.expires_at,
            success_url=checkout.success_url,
            cancel_url=checkout.cancel_url,
        )
        return reply(state, out)
