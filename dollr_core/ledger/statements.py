"""The payment steps' UPDATE statements, built once per shape and then only run.

Building a SQLAlchemy statement (its clauses, then its cache key) costs more CPU than running
it on an open connection, and the payment steps run the same few shapes over and over. A shape
is a table, the columns compared (equal to a value, or NULL), the columns set and the columns
returned; every value is a bound parameter of its column's own type, so what is stored is what
the ORM would store.

State columns are set only by `ledger.transitions`, which builds its moves here with
`update_statement`; `update_where` refuses them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

from sqlalchemy import Connection, CursorResult, Table, Update, bindparam, update
from sqlalchemy.dialects import postgresql, sqlite

#: The state column of each table that has one (`ledger.transitions` is its one writer).
STATE_COLUMNS: Mapping[str, str] = {
    "intent": "state",
    "attempt": "local_state",
    "batch": "state",
    "batch_row": "state",
}


def _param(table: Table, prefix: str, name: str) -> Any:
    return bindparam(f"{prefix}{name}", type_=table.c[name].type)


@cache
def _built(
    table: Table, match: tuple[tuple[str, bool], ...], sets: tuple[str, ...], returning: tuple[str, ...]
) -> Update:
    conditions = [
        table.c[name].is_(None) if null else table.c[name] == _param(table, "w_", name)
        for name, null in match
    ]
    statement = update(table).where(*conditions).values({name: _param(table, "s_", name) for name in sets})
    return statement.returning(*(table.c[name] for name in returning)) if returning else statement


def update_statement(
    table: Table, match: Mapping[str, Any], values: Mapping[str, Any], returning: Sequence[str] = ()
) -> tuple[Update, dict[str, Any]]:
    """`UPDATE table SET values WHERE match … RETURNING returning`, and the parameters to run it with.

    `match` compares each column with its value (a None value: the column IS NULL)."""
    shape = tuple((name, value is None) for name, value in match.items())
    params = {f"w_{name}": value for name, value in match.items() if value is not None}
    params.update({f"s_{name}": value for name, value in values.items()})
    return _built(table, shape, tuple(values), tuple(returning)), params


def update_where(
    connection: Connection,
    table: Table,
    match: Mapping[str, Any],
    values: Mapping[str, Any],
    returning: Sequence[str] = (),
) -> CursorResult[Any]:
    """Run `update_statement` on `connection`: any change but a state change."""
    if STATE_COLUMNS.get(table.name) in values:
        raise ValueError(f"{table.name}'s state changes only through ledger.transitions")
    statement, params = update_statement(table, match, values, returning)
    return connection.execute(statement, params)


def dialect_insert(dialect: str) -> Any:
    """The INSERT of the ledger's database (a dialect's name), which has ON CONFLICT: SQLite and
    PostgreSQL spell it alike."""
    return postgresql.insert if dialect == "postgresql" else sqlite.insert
