"""The two HTTP routes that set and clear the session cookie, on Streamlit's own server (st.App,
see serve.py): a page's script talks over a websocket and cannot set an HttpOnly cookie itself."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from dollr_core.team import sessions

COOKIE = "dollr_session"
OPEN = "/session/open"
CLOSE = "/session/close"

_installed = False


def installed() -> bool:
    """True when the console runs under serve.py (otherwise a sign-in lasts one tab, as before)."""
    return _installed


def routes() -> list[BaseRoute]:
    global _installed
    _installed = True
    return [Route(OPEN, _open, methods=["GET"]), Route(CLOSE, _close, methods=["GET"])]


def _safe_next(target: str | None) -> str:
    """Only a path on this console: never another site (an open redirect)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target


def _https(request: Request) -> bool:
    forwarded = (request.headers.get("X-Forwarded-Proto") or "").split(",")[-1].strip().lower()
    return request.url.scheme == "https" or forwarded == "https"


def _from_this_console(request: Request) -> bool:
    """The console's own page sent the browser here, not another site (which could otherwise sign a
    victim in as the attacker with a ticket of the attacker's own)."""
    return request.headers.get("Sec-Fetch-Site", "same-origin") in ("same-origin", "none")


async def _open(request: Request) -> Response:
    """Exchange the sign-in's one-time ticket for the cookie, then open the page asked for."""
    from .context import services

    response = RedirectResponse(_safe_next(request.query_params.get("next")), status_code=303)
    ticket = request.query_params.get("ticket") or ""
    svc = await run_in_threadpool(services)
    token = None
    if ticket and _from_this_console(request):
        token = await run_in_threadpool(sessions.redeem, svc.engine, ticket)
    if token is not None:
        response.set_cookie(
            COOKIE,
            token,
            max_age=svc.settings.session_lifetime_hours * 3600,
            path="/",
            httponly=True,
            samesite="strict",
            secure=_https(request),
        )
    response.headers["Cache-Control"] = "no-store"
    return response


async def _close(request: Request) -> Response:
    """After sign-out (the session is already ended in the ledger): drop the cookie, show sign-in."""
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="strict", secure=_https(request))
    response.headers["Cache-Control"] = "no-store"
    return response
