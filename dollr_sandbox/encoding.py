"""JSON rendering in which a Decimal becomes a JSON number with exactly its digits.

``json.dumps`` can only emit a Decimal by going through ``float`` (or as a string), and pydantic
writes Decimals as strings. Money must reach the client digit for digit, so the sandbox renders
its own JSON: ``Decimal("257.50")`` is written ``257.50``, and ``Decimal(str(value))`` on the
client side gives the same amount back for anything with up to 15 significant digits.
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from starlette.responses import Response


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z``, to the second, as the contract's examples are."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _encode(value: Any, out: list[str]) -> None:
    if isinstance(value, str):
        out.append(json.dumps(value, ensure_ascii=False))
    elif value is None or isinstance(value, bool | int):
        out.append(json.dumps(value))
    elif isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot render {value} as JSON")
        out.append(f"{value:f}")
    elif isinstance(value, Enum):
        _encode(value.value, out)
    elif isinstance(value, dict):
        out.append("{")
        for i, (key, item) in enumerate(value.items()):
            if i:
                out.append(",")
            out.append(json.dumps(str(key), ensure_ascii=False))
            out.append(":")
            _encode(item, out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for i, item in enumerate(value):
            if i:
                out.append(",")
            _encode(item, out)
        out.append("]")
    elif isinstance(value, datetime):
        out.append(json.dumps(format_datetime(value)))
    elif isinstance(value, date):
        out.append(json.dumps(value.isoformat()))
    elif isinstance(value, float):
        out.append(json.dumps(value, allow_nan=False))
    else:
        raise TypeError(f"cannot render {type(value).__name__} as JSON")


def dumps(value: Any) -> bytes:
    out: list[str] = []
    _encode(value, out)
    return "".join(out).encode("utf-8")


class DecimalJSONResponse(Response):
    """A JSON response rendered by :func:`dumps`."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumps(content)
