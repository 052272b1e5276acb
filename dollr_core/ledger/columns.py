"""Column types that keep money exact and times in UTC on SQLite and PostgreSQL alike."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from typing import Any, TypeVar

from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.orm.attributes import set_committed_value
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


def as_loaded(column_type: Any, value: Any) -> Any:
    """`value` as reading it back from a column of `column_type` would give it, so a writer can
    keep the row it wrote instead of reading it again (amounts to 4 places, times in UTC, enums
    as their text)."""
    if value is None:
        return None
    if isinstance(column_type, Money):
        return Money().process_result_value(Money().process_bind_param(value, _NO_DIALECT), _NO_DIALECT)
    if isinstance(column_type, UTCDateTime):
        return value.astimezone(UTC)
    if isinstance(value, Enum):
        return value.value
    return value


_Row = TypeVar("_Row")


def as_stored(row: _Row) -> _Row:
    """A row just committed, its values made what reading it back would give (`as_loaded`), in
    place: what a writer returns instead of a second query for the row it wrote."""
    values = row.__dict__
    for column in row.__table__.columns:  # type: ignore[attr-defined]
        value = values.get(column.key)
        if value is None or not isinstance(value, Decimal | datetime | Enum):
            continue  # as a read would give it already
        set_committed_value(row, column.key, as_loaded(column.type, value))
    return row


#: The Money type's conversions do not depend on the database.
_NO_DIALECT: Any = None
