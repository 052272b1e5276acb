"""P1–P3 parties and C1–C4 counterparties."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from dollr_core.basics.enums import RelationshipType
from dollr_sandbox import views
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import NotFound, invalid
from dollr_sandbox.records import Counterparty, Party
from dollr_sandbox.schemas import (
    CounterpartyCreate,
    CounterpartyDetailOut,
    CounterpartyOut,
    CounterpartyUpdate,
    PartyCreate,
    PartyOut,
)
from dollr_sandbox.state import SandboxState

router = APIRouter()


def _party_exists(state: SandboxState, party_id: int | None) -> None:
    if party_id is not None and state.parties.get(party_id) is None:
        raise invalid(("body", "party_id"), f"party {party_id} not found")


@router.post("/parties/create", response_model=PartyOut)
async def create_party(
    state: StateDep, body: Annotated[PartyCreate, Depends(json_body(PartyCreate))]
) -> Response:
    with state.transaction():
        now = state.now()
        party = state.parties.put(
            Party(id=state.next_id("party"), created_at=now, updated_at=now, **body.model_dump())
        )
        return reply(state, views.party(party))


@router.get("/parties/list", response_model=list[PartyOut])
async def list_parties(state: StateDep, fullname: str | None = None) -> Response:
    with state.transaction():
        parties = state.parties.values()
        if fullname:
            parties = [p for p in parties if fullname.casefold() in p.fullname.casefold()]
        return reply(state, [views.party(p) for p in parties])


@router.get("/parties/retrieve/{id}", response_model=PartyOut)
async def retrieve_party(state: StateDep, id: int) -> Response:
    with state.transaction():
        party = state.parties.get(id)
        if party is None:
            raise NotFound(f"Party {id} not found")
        return reply(state, views.party(party))


@router.post("/counterparties/create", response_model=CounterpartyOut)
async def create_counterparty(
    state: StateDep, body: Annotated[CounterpartyCreate, Depends(json_body(CounterpartyCreate))]
) -> Response:
    with state.transaction():
        _party_exists(state, body.party_id)
        now = state.now()
        record = Counterparty(
            id=state.next_id("counterparty"),
            relationship_type=body.relationship_type,
            party_id=body.party_id,
            created_at=now,
            updated_at=now,
        )
        return reply(state, views.counterparty(state.counterparties.put(record)))


@router.get("/counterparties/list", response_model=list[CounterpartyOut])
async def list_counterparties(
    state: StateDep, fullname: str | None = None, relationship_type: RelationshipType | None = None
) -> Response:
    with state.transaction():
        found = []
        for record in state.counterparties.values():
            if relationship_type is not None and record.relationship_type is not relationship_type:
                continue
            if fullname:
                party = state.parties.get(record.party_id) if record.party_id is not None else None
                if party is None or fullname.casefold() not in party.fullname.casefold():
                    continue
            found.append(views.counterparty(record))
        return reply(state, found)


@router.get("/counterparties/retrieve/{id}", response_model=CounterpartyDetailOut)
async def retrieve_counterparty(state: StateDep, id: int) -> Response:
    with state.transaction():
        record = state.counterparties.get(id)
        if record is None:
            raise NotFound(f"Counterparty {id} not found")
        return reply(state, views.counterparty_detail(state, record))


@router.put("/counterparties/update/{id}", response_model=CounterpartyOut)
async def update_counterparty(
    state: StateDep, id: int, body: Annotated[CounterpartyUpdate, Depends(json_body(CounterpartyUpdate))]
) -> Response:
    with state.transaction():
        record = state.counterparties.get(id)
        if record is None:
            raise NotFound(f"Counterparty {id} not found")
        _party_exists(state, body.party_id)
        if body.relationship_type is not None:
            record.relationship_type = body.relationship_type
        if body.party_id is not None:
            record.party_id = body.party_id
        record.updated_at = state.now()
        return reply(state, views.counterparty(state.counterparties.put(record)))
