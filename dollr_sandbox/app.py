"""``create_app``: the one FastAPI application, served in-process or standalone."""

from __future__ import annotations

from fastapi import APIRouter, Depends, FastAPI

from dollr_sandbox import errors
from dollr_sandbox.config import SandboxConfig
from dollr_sandbox.deps import no_source_kind_in_query, require_token
from dollr_sandbox.middleware import SandboxMiddleware
from dollr_sandbox.routes import control, documents, hosted, parties, payments, reference, sessions, token
from dollr_sandbox.state import SandboxState


def create_app(state: SandboxState | SandboxConfig | None = None) -> FastAPI:
    """Build the app around ``state`` (or a fresh state from a config)."""
    if not isinstance(state, SandboxState):
        state = SandboxState(state)
    app = FastAPI(
        title="Dollr sandbox",
        version="1",
        summary="A strict, stateful simulator of the Dollr v1 API",
        redoc_url=None,
    )
    app.state.sandbox = state
    errors.install(app)

    v1 = APIRouter(prefix="/v1")
    v1.include_router(token.router, tags=["auth"])
    protected = APIRouter(dependencies=[Depends(require_token), Depends(no_source_kind_in_query)])
    for module in (parties, documents, sessions, payments, reference):
        protected.include_router(module.router)
    v1.include_router(protected)
    app.include_router(v1)
    app.include_router(control.router)
    app.include_router(hosted.router)
    app.add_middleware(SandboxMiddleware, state=state)
    return app
