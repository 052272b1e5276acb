"""One exception class per way a Dollr call can fail.

Every class derives from `DollrError`, carries a one-line human `message`, the request's `method`
and `path`, the HTTP `status` (None when no response arrived) and the redacted response `body`.
`outcome_unknown` is the flag the flow layer keys on: True when the request may have been acted on
by Dollr without us knowing the result (5xx, timeouts, dropped responses), so the caller must look
the outcome up (status endpoints) before trying again.

Request models are validated by pydantic when they are built, so a bad field raises
`pydantic.ValidationError` at construction time; client methods that take plain arguments raise
`RequestValidationError`. `describe_validation_error` turns either (and a server 422) into
`(field, plain sentence)` pairs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from dollr_core.basics.redact import redact_text, redact_value

#: How a 429 reads; kept as an attempt's last error, where the bulk worker recognises it.
RATE_LIMITED = "Dollr is limiting the request rate; try again shortly."

__all__ = [
    "RATE_LIMITED",
    "AuthenticationError",
    "DollrError",
    "DollrTimeout",
    "FieldError",
    "InvalidRequestError",
    "NetworkError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RequestValidationError",
    "ServerError",
    "UnexpectedResponseError",
    "describe_validation_error",
    "error_from_response",
    "field_errors_from_detail",
]

_LOCATIONS = frozenset({"body", "query", "path", "header", "cookie"})


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one field: `field` is a dotted path without the `body.` prefix."""

    field: str
    message: str
    type: str = ""
    location: str = ""

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


class DollrError(Exception):
    """Base class of every error raised by the Dollr client."""

    #: True when Dollr may have acted on the request: look the outcome up before retrying.
    outcome_unknown: bool = False

    def __init__(
        self,
        message: str,
        *,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        body: Any = None,
    ) -> None:
        message = redact_text(message, phones=False)
        super().__init__(message)
        self.message = message
        self.method = method
        self.path = redact_text(path) if path else path
        self.status = status
        self.body = redact_value(body)

    def __str__(self) -> str:
        return self.message

    def __repr__(self) -> str:
        parts = [repr(self.message)]
        if self.method:
            parts.append(f"method={self.method!r}")
        if self.path:
            parts.append(f"path={self.path!r}")
        if self.status is not None:
            parts.append(f"status={self.status}")
        return f"{type(self).__name__}({', '.join(parts)})"

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild, (type(self), self.message, dict(self.__dict__)))


def _rebuild(cls: type[DollrError], message: str, state: dict[str, Any]) -> DollrError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(state)
    return error


class AuthenticationError(DollrError):
    """401: the credentials or the token were refused (after one refresh-and-replay)."""


class PermissionDeniedError(DollrError):
    """403: the token is valid but the merchant may not do this (verification or feature gate)."""


class NotFoundError(DollrError):
    """404: no record with that id, number or reference."""


class InvalidRequestError(DollrError):
    """422: Dollr refused the payload or the record's state; `errors` lists every field problem."""

    def __init__(
        self,
        message: str,
        *,
        errors: Sequence[FieldError] = (),
        method: str | None = None,
        path: str | None = None,
        status: int | None = 422,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, body=body)
        self.errors: list[FieldError] = list(errors)


class RateLimitError(DollrError):
    """429: too many requests; `retry_after` is Dollr's wait in seconds when it said one."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        method: str | None = None,
        path: str | None = None,
        status: int | None = 429,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, body=body)
        self.retry_after = retry_after


class ServerError(DollrError):
    """5xx: Dollr or its upstream failed; whether the request took effect is unknown."""

    outcome_unknown = True


class NetworkError(DollrError):
    """No usable response: connection refused, reset, dropped, or timed out.

    `may_have_reached_dollr` is False only when the request provably never left (connect errors);
    then `outcome_unknown` is False too.
    """

    def __init__(
        self,
        message: str,
        *,
        may_have_reached_dollr: bool,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, body=body)
        self.may_have_reached_dollr = may_have_reached_dollr
        self.outcome_unknown = may_have_reached_dollr


class DollrTimeout(NetworkError, TimeoutError):
    """A connect, read, write or pool timeout (also a builtin `TimeoutError`)."""


class UnexpectedResponseError(DollrError):
    """A status the contract does not describe, or a 2xx body that cannot be read."""

    def __init__(
        self,
        message: str,
        *,
        outcome_unknown: bool = False,
        method: str | None = None,
        path: str | None = None,
        status: int | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message, method=method, path=path, status=status, body=body)
        self.outcome_unknown = outcome_unknown


class RequestValidationError(DollrError, ValueError):
    """The client refused to send a request: an argument is invalid. Nothing reached Dollr."""

    def __init__(self, errors: Sequence[FieldError], *, method: str | None = None, path: str | None = None):
        self.errors: list[FieldError] = list(errors)
        super().__init__(_summary("The request was not sent", self.errors), method=method, path=path)

    @classmethod
    def from_pydantic(cls, exc: ValidationError) -> RequestValidationError:
        return cls([FieldError(field, message, "") for field, message in describe_validation_error(exc)])


# --- building errors from responses ------------------------------------------------------------


def field_errors_from_detail(detail: Any) -> list[FieldError]:
    """`detail[]` of a 422 → FieldErrors (`loc ["body", "phone"]` → field `"phone"`)."""
    if detail is None:
        return []
    entries = detail if isinstance(detail, list) else [detail]
    errors: list[FieldError] = []
    for entry in entries:
        if isinstance(entry, Mapping):
            location, field = _split_loc(entry.get("loc"))
            message = str(entry.get("msg") or entry.get("message") or "is invalid")
            errors.append(FieldError(field, message, str(entry.get("type") or ""), location))
        else:
            errors.append(FieldError("", str(entry), "", ""))
    return errors


def _split_loc(loc: object) -> tuple[str, str]:
    if isinstance(loc, str):
        loc = loc.split(".")
    if not isinstance(loc, list | tuple) or not loc:
        return "", ""
    parts = list(loc)
    location = ""
    if str(parts[0]) in _LOCATIONS and len(parts) > 1:
        location = str(parts.pop(0))
    return location, _join_path(parts)


def _join_path(parts: Iterable[object]) -> str:
    text = ""
    for part in parts:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += ("." if text else "") + str(part)
    return text


def _summary(prefix: str, errors: Sequence[FieldError]) -> str:
    if not errors:
        return prefix + "."
    return f"{prefix}: " + "; ".join(str(e).rstrip(".") for e in errors) + "."


def _detail_text(body: Any) -> str:
    if isinstance(body, Mapping):
        for key in ("detail", "message", "error", "error_description"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return value.strip()
    if isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        return text[:200] + ("…" if len(text) > 200 else "")
    return ""


def _with_detail(sentence: str, body: Any) -> str:
    detail = _detail_text(body)
    return f"{sentence} Dollr said: {detail.rstrip('.')}." if detail else sentence


def error_from_response(
    status: int,
    body: Any,
    *,
    method: str,
    path: str,
    retry_after: float | None = None,
    token_request: bool = False,
) -> DollrError:
    """The right `DollrError` for a non-2xx response. `body` must already be redacted."""
    where = {"method": method, "path": path, "status": status, "body": body}
    if status == 401:
        if token_request:
            sentence = "Dollr refused the API credentials: check the client id and client secret."
        else:
            sentence = "Dollr refused the access token, even after obtaining a fresh one."
        return AuthenticationError(_with_detail(sentence, body), **where)
    if status == 403:
        return PermissionDeniedError(
            _with_detail(
                "Dollr does not allow this operation for this merchant yet: it usually needs a fully"
                " verified merchant account (KYC/KYB) or a feature enabled during onboarding, or the"
                " passcode was refused. Check verification and features in the Dollr portal.",
                body,
            ),
            **where,
        )
    if status == 404:
        return NotFoundError(_with_detail(f"Dollr has no record at {method} {path}.", body), **where)
    if status == 422 or status == 400:
        detail = body.get("detail") if isinstance(body, Mapping) else None
        errors = field_errors_from_detail(detail) if isinstance(detail, list | Mapping) else []
        if errors:
            message = _summary("Dollr rejected the request", errors)
        else:
            message = _with_detail("Dollr rejected the request.", body)
        return InvalidRequestError(message, errors=errors, **where)
    if status == 429:
        wait = f" Dollr asked to wait {retry_after:g} s." if retry_after is not None else ""
        return RateLimitError(RATE_LIMITED + wait, retry_after=retry_after, **where)
    if status >= 500:
        return ServerError(
            _with_detail(
                f"Dollr had a server error ({status}); whether the request took effect is unknown.", body
            ),
            **where,
        )
    return UnexpectedResponseError(
        _with_detail(f"Dollr answered with an unexpected HTTP status {status}.", body), **where
    )


# --- validation messages -----------------------------------------------------------------------

_PYDANTIC_SENTENCES = {
    "missing": "This field is required.",
    "extra_forbidden": "This field is not part of the Dollr request.",
    "string_too_short": "This field must not be empty.",
    "int_parsing": "Enter a whole number.",
    "int_type": "Enter a whole number.",
    "decimal_parsing": "Enter a number.",
    "decimal_type": "Enter a number.",
    "bool_type": "Enter true or false.",
    "bool_parsing": "Enter true or false.",
    "datetime_parsing": "Enter a date and time such as 2025-12-31T23:59:59Z.",
    "datetime_type": "Enter a date and time such as 2025-12-31T23:59:59Z.",
    "timezone_aware": "Include a time zone, e.g. 2025-12-31T23:59:59Z.",
    "too_short": "Add at least one entry.",
}


def _sentence_for(error: Mapping[str, Any]) -> str:
    kind = str(error.get("type", ""))
    message = str(error.get("msg", "is invalid"))
    if kind == "value_error":
        message = message.removeprefix("Value error, ")
    elif kind == "assertion_error":
        message = message.removeprefix("Assertion failed, ")
    elif kind in _PYDANTIC_SENTENCES:
        return _PYDANTIC_SENTENCES[kind]
    elif kind == "enum" or kind == "literal_error":
        expected = (error.get("ctx") or {}).get("expected")
        return f"Choose one of {expected}." if expected else message
    elif kind == "greater_than":
        return f"Must be greater than {(error.get('ctx') or {}).get('gt')}."
    elif kind == "greater_than_equal":
        return f"Must be at least {(error.get('ctx') or {}).get('ge')}."
    message = message.replace("Input should be", "Must be").strip()
    if message and not message.endswith((".", "?", "!")):
        message += "."
    return message[:1].upper() + message[1:]


def describe_validation_error(
    exc: ValidationError | RequestValidationError | InvalidRequestError,
) -> list[tuple[str, str]]:
    """`(field, plain sentence)` for each problem, e.g. `("phone", "Use digits only, …")`.

    Works for pydantic's ValidationError (a request model refused at construction), the client's
    RequestValidationError, and a server 422 (InvalidRequestError). Model-level problems have the
    field `""`. Input values are never echoed, so secrets cannot leak through the messages.
    """
    if isinstance(exc, RequestValidationError | InvalidRequestError):
        return [(e.field, e.message) for e in exc.errors]
    pairs: list[tuple[str, str]] = []
    for error in exc.errors(include_url=False, include_input=False):
        pairs.append((_join_path(error.get("loc", ())), _sentence_for(error)))
    return pairs
