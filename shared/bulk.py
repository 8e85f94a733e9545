"""Many rows written in one statement: the shape each database writes fastest.

On PostgreSQL the rows travel as one array per column and the server unnests them:

    INSERT INTO t (a, b) SELECT u.a, u.b FROM unnest(CAST($1 AS VARCHAR(36)[]), ...) AS u(a, b)
    [ON CONFLICT (key) DO UPDATE SET b = excluded.b | DO NOTHING]

one statement and as many parameters as columns whatever the number of rows, against SQLAlchemy's
multi-row VALUES (a page of 1,000 rows, a parameter per cell, rendered and bound cell by cell).
Measured in `scripts/bench-events.sh`, back to back: reporting's projections 5,798 -> 6,911
events/s, matching's upserts 4,334 -> 6,061, an HRIS push of 1,000 events 0.55 -> 0.35 s; and
47,510 outbox rows of a programme's re-judging 1.5 -> 1.1 s. Values are converted by each
column's own type first (JSON serialised, a TypeDecorator's conversion), exactly as a plain
insert would; columns a row leaves out take their Python-side defaults. JSON columns travel as
text and are cast back.

On SQLite the rows travel as one JSON array of rows, which SQLite reads in C:

    INSERT INTO t (a, b) SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')
    FROM json_each(:rows) WHERE true ORDER BY key [ON CONFLICT ...]

against SQLAlchemy's executemany, which builds and converts each row's parameters in Python
(5,507 run pairs: 160 ms of the event loop's thread). Values are converted by each column's type
first here too, then serialised by orjson; a value JSON cannot carry (bytes, a number beyond 64
bits) sends those rows the plain way. Below UNNEST_FROM rows, the plain statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from sqlalchemy import JSON, ColumnDefault, Table, insert, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Dialect
from sqlalchemy.ext.asyncio import AsyncConnection
from sqlalchemy.sql import Executable

# Below this many rows the plain statement (compiled once, cached) is as fast.
UNNEST_FROM = 16


def write(
    conn: Connection | AsyncConnection,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    conflict: Sequence[str] | None = None,
    update: Sequence[str] = (),
    add: Sequence[str] = (),
    returning: Sequence[str] = (),
) -> tuple[Executable, Any]:
    """The statement and parameters inserting `rows` (all with the same keys) into `table`; with
    `conflict` (the key columns) an upsert: the `update` columns overwritten, or nothing done when
    `update` and `add` are empty; `add`: counters (the row's value added to the one there);
    `returning`: the columns the statement answers for each row written. Execute as
    `conn.execute(*write(conn, ...))`: the connection's dialect decides the shape, and its
    schema translation (a projection rebuild's shadow schema) is applied to the text statement
    too."""
    dialect = conn.dialect
    if len(rows) >= UNNEST_FROM and dialect.name in ("postgresql", "sqlite"):
        sync = conn.sync_connection if isinstance(conn, AsyncConnection) else conn
        assert sync is not None
        translate = sync.get_execution_options().get("schema_translate_map") or {}
        target = _Target(dialect, table, translate.get(table.schema) or table.schema)
        values = _with_defaults(table, rows)
        if dialect.name == "postgresql":
            return _unnest(target, values, conflict, update, add, returning)
        found = _json_each(target, values, len(rows), conflict, update, add, returning)
        if found is not None:
            return found
    if conflict is None:
        plain = insert(table)
        return (plain.returning(*(table.c[c] for c in returning)) if returning else plain), rows
    stmt = (postgresql if dialect.name == "postgresql" else sqlite).insert(table)
    sets = {c: stmt.excluded[c] for c in update} | {c: table.c[c] + stmt.excluded[c] for c in add}
    done = (
        stmt.on_conflict_do_update(index_elements=list(conflict), set_=sets)
        if sets
        else stmt.on_conflict_do_nothing(index_elements=list(conflict))
    )
    return (done.returning(*(table.c[c] for c in returning)) if returning else done), rows


class _Target:
    """The table written, as the statement names it, and how its columns are converted."""

    def __init__(self, dialect: Dialect, table: Table, schema: str | None) -> None:
        self.dialect, self.table = dialect, table
        self.quoted = dialect.identifier_preparer.quote
        q = self.quoted
        self.name = q(table.name) if schema is None else f"{q(schema)}.{q(table.name)}"

    def converted(self, name: str, column_values: list[Any]) -> list[Any]:
        """The values as the column's type binds them (JSON serialised, a TypeDecorator's
        conversion, a date as SQLite stores it)."""
        impl = self.table.c[name].type.dialect_impl(self.dialect)
        process = impl.bind_processor(self.dialect)
        return [process(v) for v in column_values] if process else column_values

    def insert(self, columns: list[str], selected: str) -> str:
        return f"INSERT INTO {self.name} ({', '.join(self.quoted(c) for c in columns)}) {selected}"

    def tail(
        self,
        conflict: Sequence[str] | None,
        update: Sequence[str],
        add: Sequence[str],
        returning: Sequence[str],
    ) -> str:
        """ON CONFLICT and RETURNING, the same on both databases."""
        q, sql = self.quoted, ""
        if conflict is not None:
            keys = ", ".join(q(c) for c in conflict)
            sets = ", ".join(
                [f"{q(c)} = excluded.{q(c)}" for c in update]
                + [f"{q(c)} = {self.name}.{q(c)} + excluded.{q(c)}" for c in add]
            )
            sql += f" ON CONFLICT ({keys}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")
        if returning:
            sql += f" RETURNING {', '.join(q(c) for c in returning)}"
        return sql


def _with_defaults(table: Table, rows: Sequence[dict[str, Any]]) -> dict[str, list[Any]]:
    """The rows as one list per column; columns the rows leave out take their Python-side
    defaults, as a plain insert's would."""
    values = {name: [row[name] for row in rows] for name in rows[0]}
    for column in table.columns:
        default = column.default
        if column.name in values or not isinstance(default, ColumnDefault):
            continue
        if default.is_scalar:
            values[column.name] = [default.arg] * len(rows)
        elif default.is_callable:  # SQLAlchemy wraps it to take the execution context
            values[column.name] = [default.arg(None) for _ in rows]
    return values


def _unnest(
    target: _Target,
    values: dict[str, list[Any]],
    conflict: Sequence[str] | None,
    update: Sequence[str],
    add: Sequence[str],
    returning: Sequence[str],
) -> tuple[Executable, dict[str, Any]]:
    dialect, table = target.dialect, target.table
    arrays, params, selected = [], {}, []
    for i, (name, column_values) in enumerate(values.items()):
        column = table.c[name]
        sql_type = column.type.compile(dialect=dialect)
        is_json = isinstance(column.type.dialect_impl(dialect), JSON)
        params[f"c{i}"] = target.converted(name, column_values)
        arrays.append(f"CAST(:c{i} AS {'TEXT' if is_json else sql_type}[])")
        selected.append(f"CAST(u.c{i} AS {sql_type})" if is_json else f"u.c{i}")
    sql = target.insert(
        list(values),
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) "
        f"AS u({', '.join(f'c{i}' for i in range(len(values)))})",
    )
    return text(sql + target.tail(conflict, update, add, returning)), params


def _json_each(
    target: _Target,
    values: dict[str, list[Any]],
    count: int,
    conflict: Sequence[str] | None,
    update: Sequence[str],
    add: Sequence[str],
    returning: Sequence[str],
) -> tuple[Executable, dict[str, Any]] | None:
    """SQLite's statement, or None when a value cannot travel as JSON."""
    columns = [target.converted(name, column_values) for name, column_values in values.items()]
    try:
        document = orjson.dumps(list(zip(*columns, strict=True)))
    except TypeError:  # bytes, an integer beyond 64 bits: not JSON
        return None
    selected = ", ".join(f"json_extract(value, '$[{i}]')" for i in range(len(values)))
    # WHERE true: SQLite's grammar, for an upsert after INSERT ... SELECT. ORDER BY key (the
    # array's index): rows inserted in the given order (an outbox's sequence numbers follow it).
    sql = target.insert(
        list(values), f"SELECT {selected} FROM json_each(:rows) WHERE true ORDER BY key"
    )
    return text(sql + target.tail(conflict, update, add, returning)), {"rows": document.decode()}
