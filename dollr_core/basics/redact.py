"""Keep secrets and phone numbers out of logs, error bodies and reprs.

Three layers: by key (`client_secret`, `access_token`, `code`, … are replaced; `phone`, … masked),
by known value (the exact secrets the client holds, and a phone field's value wherever a body echoes
it) and by shape (Bearer tokens, JWTs). Structured values (`redact_value`) mask phone *fields*, never
other numbers, so "less than or equal to 1000000000000" stays readable; only free text without
structure (log lines, URLs) masks every 8–15 digit run as a phone.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any

from dollr_core.basics.phone import mask_phone

__all__ = [
    "PHONE_KEYS",
    "REDACTED",
    "SECRET_KEYS",
    "RedactingFilter",
    "redact_text",
    "redact_value",
]

REDACTED = "<redacted>"

#: Keys whose values are secrets wherever they appear.
SECRET_KEYS = frozenset(
    {
        "access_token",
        "api_key",
        "authorization",
        "client_secret",
        "code",
        "passcode",
        "password",
        "refresh_token",
        "secret",
        "token",
    }
)

#: Keys whose values are phone numbers: shown as `••••4567`.
PHONE_KEYS = frozenset({"phone", "party_phone", "insensitive_account_number", "passcode_phone", "msisdn"})

_BEARER = re.compile(r"(?i)(bearer\s+)[^\s\"',;]+")
_JWT = re.compile(r"eyJ[A-Za-z0-9_\-]+(?:\.[A-Za-z0-9_\-]*){0,2}")
# `key=value` (query/form) and `"key": "value"` (JSON) for any secret key; bare `key: value` prose
# only for unambiguous names, so "passcode.token.code: wrong passcode" stays readable.
_KEY_VALUE = re.compile(
    r"(?i)(\b(?:client_secret|access_token|refresh_token|passcode|password|secret|code)=)([^\s\"'&,;]+)"
    r"|(\"(?:client_secret|access_token|refresh_token|passcode|password|secret|code)\"\s*:\s*\"?)([^\s\"'&,}]+)"
    r"|(\b(?:client_secret|access_token|refresh_token|password)\s*:\s*)([^\s\"'&,;]+)"
)


def _key_value(match: re.Match[str]) -> str:
    prefix = match.group(1) or match.group(3) or match.group(5)
    return prefix + REDACTED


# A phone is 8–15 digits, optionally after a +, not glued to letters, digits or dashes (UUID groups).
_PHONE = re.compile(r"(?<![\w\-.])\+?(\d{8,15})(?![\w\-])")


def redact_text(text: str, secrets: Iterable[str] = (), *, phones: bool = True) -> str:
    """Mask known secret values, Bearer tokens, JWTs, `secret=…` pairs and (unless `phones=False`)
    phone numbers in `text`."""
    for secret in secrets:
        if secret and len(secret) >= 4:
            text = text.replace(secret, REDACTED)
    text = _BEARER.sub(lambda m: m.group(1) + REDACTED, text)
    text = _JWT.sub(REDACTED, text)
    text = _KEY_VALUE.sub(_key_value, text)
    return _PHONE.sub(lambda m: mask_phone(m.group(1)), text) if phones else text


def redact_value(value: Any, secrets: Iterable[str] = ()) -> Any:
    """A redacted deep copy of a JSON-like value (dicts, lists, strings, numbers).

    Values under phone keys are masked, and so is each such value where a message repeats it;
    FastAPI-style 422 entries (`{"loc": [...], "input": ...}`) have their `input` hidden when the
    location names a secret and masked when it names a phone. Other numbers are left alone.
    """
    known = tuple(s for s in secrets if s)
    phones = tuple(sorted(set(_phone_values(value)), key=len, reverse=True))
    return _redact(value, known, phones)


def _phone_values(value: Any) -> Iterable[str]:
    """Every value the structure holds in a phone field (to mask wherever it is echoed)."""
    if isinstance(value, Mapping):
        last = _loc_tail(value.get("loc"))
        for key, item in value.items():
            name = str(key).lower()
            if (name in PHONE_KEYS or (name == "input" and last in PHONE_KEYS)) and isinstance(
                item, str | int
            ):
                if len(str(item).strip()) >= 4:
                    yield str(item).strip()
            else:
                yield from _phone_values(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _phone_values(item)


def _redact(value: Any, secrets: tuple[str, ...], phones: tuple[str, ...]) -> Any:
    if isinstance(value, Mapping):
        last = _loc_tail(value.get("loc"))
        out: dict[str, Any] = {}
        for key, item in value.items():
            name = str(key).lower()
            if name in SECRET_KEYS and item is not None:
                out[key] = REDACTED
            elif name in PHONE_KEYS and isinstance(item, str | int):
                out[key] = mask_phone(str(item))
            elif name == "input" and last in SECRET_KEYS:
                out[key] = REDACTED
            elif name == "input" and last in PHONE_KEYS and isinstance(item, str | int):
                out[key] = mask_phone(str(item))
            else:
                out[key] = _redact(item, secrets, phones)
        return out
    if isinstance(value, list | tuple):
        return [_redact(item, secrets, phones) for item in value]
    if isinstance(value, str):
        text = redact_text(value, secrets, phones=False)
        for phone in phones:
            text = text.replace(phone, mask_phone(phone))
        return text
    return value


def _loc_tail(loc: object) -> str | None:
    if isinstance(loc, list | tuple) and loc:
        return str(loc[-1]).lower()
    return None


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message through `redact_text`.

    Attach it to a logger or handler; `add_secret` registers exact values (a client secret, the
    current token) so they are replaced even when they have no recognisable shape.
    """

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._secrets: set[str] = set()
        self._lock = threading.Lock()

    def add_secret(self, value: str) -> None:
        if value:
            with self._lock:
                self._secrets.add(value)

    def discard_secret(self, value: str) -> None:
        with self._lock:
            self._secrets.discard(value)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string is the logging module's business
            return True
        with self._lock:
            secrets = tuple(self._secrets)
        record.msg = redact_text(message, secrets)
        record.args = None
        return True
