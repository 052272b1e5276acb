"""The errors the sandbox answers with, in the contract's shapes (§6.2).

401, 403, 404 and 429 carry ``{"detail": str}``; 422 carries ``{"detail": [{loc, msg, type}, ...]}``
exactly like FastAPI's own validation errors, so a client cannot tell the two apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from dollr_sandbox.encoding import DecimalJSONResponse

Loc = tuple[str | int, ...]


class ApiError(Exception):
    """An error with a string ``detail``."""

    status_code = 400

    def __init__(self, detail: str, headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.headers = dict(headers or {})


class Unauthorized(ApiError):
    status_code = 401

    def __init__(self, detail: str) -> None:
        super().__init__(detail, {"WWW-Authenticate": "Bearer"})


class Forbidden(ApiError):
    status_code = 403


class NotFound(ApiError):
    status_code = 404


class TooManyRequests(ApiError):
    status_code = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__("Too Many Requests: rate limit exceeded", {"Retry-After": str(retry_after)})


class Unprocessable(Exception):
    """A 422: one or more ``{loc, msg, type}`` entries."""

    def __init__(self, errors: Sequence[dict[str, Any]]) -> None:
        super().__init__(errors[0]["msg"] if errors else "unprocessable")
        self.errors = list(errors)


def error(loc: Loc, msg: str, type: str = "value_error") -> dict[str, Any]:
    return {"loc": list(loc), "msg": msg, "type": type}


def missing(loc: Loc) -> dict[str, Any]:
    """A required field left out, spelled as the docs show it (§6.2), not as pydantic 2 does."""
    return error(loc, "field required", "value_error.missing")


def invalid(loc: Loc, msg: str, type: str = "value_error") -> Unprocessable:
    """One-entry 422, to ``raise invalid(("body", "currency"), "...")``."""
    return Unprocessable([error(loc, msg, type)])


def wrong_state(loc: Loc, msg: str) -> Unprocessable:
    return invalid(loc, msg, "value_error.state")


def from_pydantic(errors: Iterable[Mapping[str, Any]], prefix: Loc = ()) -> list[dict[str, Any]]:
    """Keep ``loc``, ``msg`` and ``type`` of pydantic's errors; ``input`` may hold secrets.

    Where the docs show a shape (a missing field) it is theirs; the other entries keep pydantic's.
    """
    out = []
    for entry in errors:
        loc = (*prefix, *entry["loc"])
        if entry["type"] == "missing":
            out.append(missing(loc))
        else:
            out.append(error(loc, str(entry["msg"]), str(entry["type"])))
    return out


def _api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return DecimalJSONResponse({"detail": exc.detail}, status_code=exc.status_code, headers=exc.headers)


def _unprocessable(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, Unprocessable)
    return DecimalJSONResponse({"detail": exc.errors}, status_code=422)


def _request_validation(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    return DecimalJSONResponse({"detail": from_pydantic(exc.errors())}, status_code=422)


def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    return DecimalJSONResponse(
        {"detail": exc.detail}, status_code=exc.status_code, headers=dict(exc.headers or {})
    )


def install(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(Unprocessable, _unprocessable)
    app.add_exception_handler(RequestValidationError, _request_validation)
    app.add_exception_handler(StarletteHTTPException, _http_exception)
