"""Column types that keep money exact and times in UTC on SQLite and PostgreSQL alike, and the
row objects a writer builds or keeps without the ORM's per-attribute machinery."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from enum import Enum
from functools import cache
from typing import Any, TypeVar

from pydantic_core import PydanticUndefined
from sqlalchemy import BigInteger, DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import configure_mappers
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.types import TypeDecorator
from sqlmodel import SQLModel

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
_Table = TypeVar("_Table", bound=SQLModel)


@cache
def _defaults_of(model: type[Any]) -> dict[str, Any]:
    """Each column's plain default (a model's `Field(default=…)`); a required column has none."""
    return {
        name: field.default
        for name, field in model.model_fields.items()
        if name != "id" and field.default_factory is None and field.default is not PydanticUndefined
    }


@cache
def _factories_of(model: type[Any]) -> dict[str, Callable[[], Any]]:
    """Each column whose default is made per row (`Field(default_factory=…)`)."""
    return {
        name: field.default_factory
        for name, field in model.model_fields.items()
        if field.default_factory is not None
    }


def blank_row(model: type[_Table]) -> _Table:
    """An instance of the table `model` with nothing set, as the ORM's loader makes one before
    it fills it. The mappers are configured first: a process whose first ledger work builds a
    row this way has not run a query that would have configured them."""
    mapper = model.__mapper__  # type: ignore[attr-defined]
    if not mapper.configured:
        configure_mappers()
    row: _Table = mapper.class_manager.new_instance()
    return row


def with_defaults(model: type[SQLModel], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every column of a new row of `model` but its id: `values` over each field's default, the
    ones made per row made now (the times by one reading: a new row is created and updated at
    the same instant)."""
    row_values = _defaults_of(model) | dict(values)
    now = utcnow()
    for name, factory in _factories_of(model).items():
        if name not in row_values:
            row_values[name] = now if factory is utcnow else factory()
    return row_values


def new_row(model: type[_Table], **values: Any) -> _Table:
    """A new, unsaved row of the table `model` (`with_defaults`), as `model(**values)` makes it,
    but set straight into the instance. SQLModel's constructor sets every field through the ORM's
    attribute events, some twenty times the CPU; a table model is not validated by it either way,
    and an INSERT of the row reads the same values."""
    row = blank_row(model)
    row.__dict__.update(with_defaults(model, values))
    return row


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
