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
text and are cast back. Elsewhere (SQLite), and below UNNEST_FROM rows, the plain statement.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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
    if dialect.name == "postgresql" and len(rows) >= UNNEST_FROM:
        sync = conn.sync_connection if isinstance(conn, AsyncConnection) else conn
        assert sync is not None
        translate = sync.get_execution_options().get("schema_translate_map") or {}
        schema = translate.get(table.schema)
        return _unnest(dialect, table, rows, conflict, update, add, returning, schema)
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


def _unnest(
    dialect: Dialect,
    table: Table,
    rows: Sequence[dict[str, Any]],
    conflict: Sequence[str] | None,
    update: Sequence[str],
    add: Sequence[str],
    returning: Sequence[str],
    schema: str | None,
) -> tuple[Executable, dict[str, Any]]:
    values = {name: [row[name] for row in rows] for name in rows[0]}
    # Columns the rows leave out take their Python-side defaults here, as a plain insert's would.
    for column in table.columns:
        default = column.default
        if column.name in values or not isinstance(default, ColumnDefault):
            continue
        if default.is_scalar:
            values[column.name] = [default.arg] * len(rows)
        elif default.is_callable:  # SQLAlchemy wraps it to take the execution context
            values[column.name] = [default.arg(None) for _ in rows]
    arrays, params, selected = [], {}, []
    for i, (name, column_values) in enumerate(values.items()):
        column = table.c[name]
        impl = column.type.dialect_impl(dialect)
        sql_type = column.type.compile(dialect=dialect)
        is_json = isinstance(impl, JSON)
        process = impl.bind_processor(dialect)
        params[f"c{i}"] = [process(v) for v in column_values] if process else column_values
        arrays.append(f"CAST(:c{i} AS {'TEXT' if is_json else sql_type}[])")
        selected.append(f"CAST(u.c{i} AS {sql_type})" if is_json else f"u.c{i}")
    columns = list(values)
    quoted = dialect.identifier_preparer.quote
    schema = schema or table.schema
    name = quoted(table.name) if schema is None else f"{quoted(schema)}.{quoted(table.name)}"
    sql = (
        f"INSERT INTO {name} ({', '.join(quoted(c) for c in columns)}) "
        f"SELECT {', '.join(selected)} FROM unnest({', '.join(arrays)}) "
        f"AS u({', '.join(f'c{i}' for i in range(len(columns)))})"
    )
    if conflict is not None:
        keys = ", ".join(quoted(c) for c in conflict)
        sets = ", ".join(
            [f"{quoted(c)} = excluded.{quoted(c)}" for c in update]
            + [f"{quoted(c)} = {name}.{quoted(c)} + excluded.{quoted(c)}" for c in add]
        )
        sql += f" ON CONFLICT ({keys}) " + (f"DO UPDATE SET {sets}" if sets else "DO NOTHING")
    if returning:
        sql += f" RETURNING {', '.join(quoted(c) for c in returning)}"
    return text(sql), params
