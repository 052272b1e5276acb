"""What every route needs: the state, a strictly parsed JSON body, the bearer check, the reply."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Annotated, Any, TypeVar

from fastapi import Depends, Request
from pydantic import BaseModel, ValidationError
from starlette.responses import Response

from dollr_sandbox import tokens
from dollr_sandbox.encoding import DecimalJSONResponse
from dollr_sandbox.errors import Unauthorized, Unprocessable, error, from_pydantic, missing
from dollr_sandbox.schemas import Body
from dollr_sandbox.state import SandboxState

B = TypeVar("B", bound=BaseModel)


def _state_of(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


async def get_state(request: Request) -> SandboxState:
    """Async, as every dependency and route here: nothing in them waits on anything, and FastAPI
    runs a plain function in a worker thread, a hand-off that cost more of the sandbox's CPU than
    the route itself (py-spy: a fifth of it, four hand-offs to a /v1 request)."""
    return _state_of(request)


StateDep = Annotated[SandboxState, Depends(get_state)]


def json_body(model: type[B]) -> Callable[[Request], Awaitable[B]]:
    """A dependency parsing the body with exact Decimals and validating it as FastAPI would.

    FastAPI's own body parsing would turn ``250.10`` into a float before validation and cannot
    pass the lenient switch to validators, so bodies are parsed here.
    """

    async def parse(request: Request) -> B:
        raw = await request.body()
        if not raw.strip():
            raise Unprocessable([missing(("body",))])
        try:
            data = json.loads(raw, parse_float=Decimal)
        except json.JSONDecodeError as exc:
            raise Unprocessable([error(("body", exc.pos), "JSON decode error", "json_invalid")]) from None
        except UnicodeDecodeError:
            raise Unprocessable([error(("body",), "JSON decode error", "json_invalid")]) from None
        state = _state_of(request)
        try:
            body = model.model_validate(data, context={"lenient": state.config.lenient})
        except ValidationError as exc:
            raise Unprocessable(from_pydantic(exc.errors(), ("body",))) from None
        if isinstance(body, Body):
            problems = body.cross_errors()
            if problems:
                raise Unprocessable(problems)
        return body

    return parse


async def require_token(request: Request, state: StateDep) -> None:
    """401 ``Not authenticated`` without a bearer token, ``Could not validate credentials`` with a bad one."""
    token = tokens.bearer_token(request.headers.get("authorization", ""))
    if token is None:
        raise Unauthorized("Not authenticated")
    with state.transaction():
        valid = tokens.access_token_is_valid(state, token)
    if not valid:
        raise Unauthorized("Could not validate credentials")


async def no_source_kind_in_query(request: Request) -> None:
    """Every query that names a source calls it ``source_type`` (§1.4); the other name is a misreading."""
    if "source_kind" in request.query_params:
        raise Unprocessable(
            [
                error(
                    ("query", "source_kind"),
                    "this endpoint takes source_type, not source_kind",
                    "extra_forbidden",
                )
            ]
        )


def plain(payload: Any) -> Any:
    """Models to dicts, keeping Decimal and datetime for the exact encoder."""
    if isinstance(payload, BaseModel):
        return payload.model_dump()
    if isinstance(payload, list):
        return [plain(item) for item in payload]
    return payload


def reply(state: SandboxState, payload: Any) -> Response:
    """A /v1 success: bare, or in ``{"data": ...}`` when the envelope is switched on (§9 #2)."""
    content = plain(payload)
    if state.config.data_envelope:
        content = {"data": content}
    return DecimalJSONResponse(content)
