"""The payment steps' UPDATE and INSERT statements, built once per shape and then only run.

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

from sqlalchemy import Connection, CursorResult, Insert, Table, Update, bindparam, update
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


#: `insert_statement`'s `unless_taken` for any of the table's unique keys (a bare ON CONFLICT DO NOTHING).
ANY_KEY = "*"


@cache
def insert_statement(table: Table, dialect: str, unless_taken: str | None = None) -> Insert:
    """`INSERT` of a whole row of `table`: every column but the id a bound value of its own type,
    built once per table, database and conflict. `unless_taken`: a unique column, or `ANY_KEY`
    for any unique key; when the row's value is taken, nothing is written (no error, so no
    savepoint is needed around it)."""
    columns = [column.key for column in table.columns if column.key != "id"]
    statement = dialect_insert(dialect)(table).values(
        {name: bindparam(name, type_=table.c[name].type) for name in columns}
    )
    if unless_taken == ANY_KEY:
        return statement.on_conflict_do_nothing()  # type: ignore[no-any-return]
    if unless_taken is not None:
        return statement.on_conflict_do_nothing(index_elements=[unless_taken])  # type: ignore[no-any-return]
    return statement  # type: ignore[no-any-return]


@cache
def insert_returning_id(table: Table, dialect: str, unless_taken: str | None = None) -> Insert:
    """`insert_statement` returning the new row's id (no row when the key was taken): the caller
    has every other value already, so nothing else comes back and no ORM result maps it."""
    return insert_statement(table, dialect, unless_taken).returning(table.c.id)
