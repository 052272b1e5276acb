"""A1: client credentials → access token."""

from __future__ import annotations

import hmac
from typing import Annotated

from fastapi import APIRouter, Depends
from starlette.responses import Response

from dollr_sandbox import tokens
from dollr_sandbox.deps import StateDep, json_body, reply
from dollr_sandbox.errors import TooManyRequests, Unauthorized
from dollr_sandbox.schemas import TokenOut, TokenRequest

router = APIRouter()


@router.post("/jwt/client/obtain/token", response_model=TokenOut)
async def obtain_token(
    state: StateDep, body: Annotated[TokenRequest, Depends(json_body(TokenRequest))]
) -> Response:
    config = state.config
    if config.rate_limit_per_minute > 0:
        # Counted before the credentials are checked: a storm of bad ones is a storm too.
        wait = state.limiter.hit(f"token:{body.client_id}", config.token_rate_limit_per_minute)
        if wait is not None:
            raise TooManyRequests(wait)
    id_ok = hmac.compare_digest(body.client_id.encode(), config.client_id.encode())
    secret_ok = hmac.compare_digest(body.client_secret.encode(), config.client_secret.encode())
    if not (id_ok and secret_ok):
        raise Unauthorized("Invalid client credentials")
    with state.transaction():
        token = tokens.issue_access_token(state)
    return reply(state, TokenOut(access_token=token, expires_in=config.token_expires_minutes))
