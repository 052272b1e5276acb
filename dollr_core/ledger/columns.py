"""Column types that keep money exact and times in UTC on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

#: Amounts are stored as integers of 1/10,000 of a unit: exact, and SUM() in SQL stays exact too.
MONEY_SCALE = 4
_FACTOR = Decimal(10) ** MONEY_SCALE


class Money(TypeDecorator[Decimal]):
    impl = BigInteger
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> int | None:
        if value is None:
            return None
        scaled = Decimal(value) * _FACTOR
        if scaled != scaled.to_integral_value():
            raise ValueError(f"amount {value} has more than {MONEY_SCALE} decimal places")
        return int(scaled)

    def process_result_value(self, value: Any, dialect: Dialect) -> Decimal | None:
        if value is None:
            return None
        return Decimal(int(value)).scaleb(-MONEY_SCALE)


class UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite forgets the zone otherwise)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        as_utc: datetime = value.astimezone(UTC)
        return as_utc.replace(tzinfo=None) if dialect.name == "sqlite" else as_utc

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        result: datetime = value if value.tzinfo else value.replace(tzinfo=UTC)
        return result.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)
