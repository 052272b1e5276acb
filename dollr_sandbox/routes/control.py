"""``/_sandbox/...``: fault injection, the clock, inspection and run-time switches (sandbox only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field, StrictBool
from starlette.responses import Response

from dollr_sandbox import views
from dollr_sandbox.config import WrongPasscode
from dollr_sandbox.deps import StateDep, json_body, plain
from dollr_sandbox.encoding import DecimalJSONResponse, format_datetime
from dollr_sandbox.errors import NotFound
from dollr_sandbox.faults import FaultSpec
from dollr_sandbox.state import SandboxState

router = APIRouter(prefix="/_sandbox", tags=["sandbox control"])


class ClockAdvance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    seconds: float = Field(ge=0, le=10 * 365 * 86400)


class ConfigPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verified: StrictBool | None = None
    latency_ms: int | None = Field(default=None, ge=0, le=60_000)
    rate_limit_per_minute: int | None = Field(default=None, ge=0)
    rate_limit_window_seconds: float | None = Field(default=None, gt=0, le=3600)
    token_rate_limit_per_minute: int | None = Field(default=None, ge=0)
    lenient: StrictBool | None = None
    data_envelope: StrictBool | None = None
    wrong_passcode: WrongPasscode | None = None
    check_operator: StrictBool | None = None
    check_account_party: StrictBool | None = None
    refuse_collection_while_processing: StrictBool | None = None


class AccountActive(BaseModel):
    model_config = ConfigDict(extra="forbid")

    is_active: StrictBool


def _json(content: Any) -> Response:
    return DecimalJSONResponse(plain(content))


def runtime_config(state: SandboxState) -> dict[str, Any]:
    c = state.config
    return {
        "verified": c.verified,
        "latency_ms": c.latency_ms,
        "rate_limit_per_minute": c.rate_limit_per_minute,
        "rate_limit_window_seconds": c.rate_limit_window_seconds,
        "token_rate_limit_per_minute": c.token_rate_limit_per_minute,
        "lenient": c.lenient,
        "data_envelope": c.data_envelope,
        "wrong_passcode": c.wrong_passcode.value,
        "check_operator": c.check_operator,
        "check_account_party": c.check_account_party,
        "refuse_collection_while_processing": c.refuse_collection_while_processing,
    }


def configure(state: SandboxState, **changes: Any) -> dict[str, Any]:
    patch = ConfigPatch(**changes)
    with state.transaction():
        for name, value in patch.model_dump(exclude_none=True).items():
            setattr(state.config, name, value)
        return runtime_config(state)


def clock_info(state: SandboxState) -> dict[str, Any]:
    return {"now": format_datetime(state.now()), "offset_seconds": state.clock.offset_seconds}


@router.post("/faults")
async def add_fault(state: StateDep, body: Annotated[FaultSpec, Depends(json_body(FaultSpec))]) -> Response:
    return _json(state.faults.add(body))


@router.get("/faults")
async def list_faults(state: StateDep) -> Response:
    return _json(state.faults.list())


@router.delete("/faults")
async def clear_faults(state: StateDep) -> Response:
    state.faults.clear()
    return _json({})


@router.post("/clock/advance")
async def advance_clock(
    state: StateDep, body: Annotated[ClockAdvance, Depends(json_body(ClockAdvance))]
) -> Response:
    state.advance_clock(body.seconds)
    return _json(clock_info(state))


@router.get("/clock")
async def get_clock(state: StateDep) -> Response:
    return _json(clock_info(state))


@router.get("/executions")
async def list_executions(state: StateDep) -> Response:
    return _json(state.execution_rows())


@router.get("/wallets")
async def list_wallets(state: StateDep) -> Response:
    return _json(state.wallet_rows())


@router.get("/pricing")
async def pricing(state: StateDep) -> Response:
    return _json(state.pricing.describe())


@router.post("/reset")
async def reset(state: StateDep) -> Response:
    state.reset()
    return _json({})


@router.get("/config")
async def get_config(state: StateDep) -> Response:
    return _json(runtime_config(state))


@router.post("/config")
async def set_config(
    state: StateDep, body: Annotated[ConfigPatch, Depends(json_body(ConfigPatch))]
) -> Response:
    return _json(configure(state, **body.model_dump(exclude_none=True)))


@router.get("/requests")
async def request_stats(state: StateDep) -> Response:
    stats = state.stats
    return _json({"total": stats.total, "by_path": stats.by_path(), "rate_limited": stats.rate_limited})


def set_account_active(state: SandboxState, account_id: int, active: bool) -> dict[str, Any]:
    with state.transaction():
        account = state.accounts.get(account_id)
        if account is None:
            raise NotFound(f"Payment account {account_id} not found")
        account.is_active = active
        account.updated_at = state.now()
        state.accounts.put(account)
        return views.payment_account(account).model_dump()


@router.post("/payment-accounts/{id}/active")
async def account_active(
    state: StateDep, id: int, body: Annotated[AccountActive, Depends(json_body(AccountActive))]
) -> Response:
    return _json(set_account_active(state, id, body.is_active))
