"""Databases: one per service, SQLite (embedded) or PostgreSQL (distributed), and migrations.

Each service declares its tables on its own SQLModel base (`class Base(SQLModel,
registry=registry())` in its models.py), so that its metadata, and therefore its Alembic
migrations, hold its tables only, even when the embedded mode imports all five services into
one process. The outbox and inbox tables every service
needs are added to each base by `shared.messaging.tables`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy.ext.asyncio as sa_async
from alembic import command
from alembic.config import Config
from pydantic import TypeAdapter
from sqlalchemy import JSON, Boolean, String, bindparam, event, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import coercions, roles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.visitors import InternalTraversal
from sqlalchemy.types import TypeDecorator, TypeEngine


def _to_json(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()


# JSON columns through orjson: several times faster than the standard library both ways
# (a relationship row carries four of them; a programme's re-judging reads 100,000 rows).
JSON_CODEC = {"json_serializer": _to_json, "json_deserializer": orjson.loads}


KEPT_OPEN = 20  # PostgreSQL connections a pool keeps between uses (the rest are closed)


def create_engine(url: str, *, pool: int = 50, custom_plans: bool = False) -> AsyncEngine:
    """`custom_plans`: on PostgreSQL, every statement planned for its own parameters
    (`plan_cache_mode = force_custom_plan`), for a service whose reads are aggregates over
    many rows: after five executions of a prepared statement PostgreSQL otherwise settles on
    a generic plan, and the KPIs took 1.6 times as long with it (tests/bench/reporting.py)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        # Looked up at call time so OpenTelemetry's SQLAlchemy instrumentation sees the engines.
        engine = sa_async.create_async_engine(url, connect_args={"timeout": 30}, **JSON_CODEC)
        _make_sqlite_transactions_serial(engine)
        return engine
    # No pre-ping: it cost three round trips (BEGIN, SELECT 1, ROLLBACK) per checkout, about
    # a third of the database traffic under load. A connection found dead instead fails its
    # first use as a transient error (503 with Retry-After, or a consumer retry) and SQLAlchemy
    # then discards the whole pool, so a database restart costs one failed attempt.
    # At most `pool` connections (Settings.db_pool_size says why so many).
    kept = min(pool, KEPT_OPEN)
    settings = {"plan_cache_mode": "force_custom_plan"} if custom_plans else {}
    engine = sa_async.create_async_engine(
        url,
        pool_size=kept,
        max_overflow=pool - kept,
        connect_args={"server_settings": settings},
        **JSON_CODEC,
    )
    # Many-row inserts (inbox rows, outbox rows, upserts) as multi-row VALUES statements, a
    # page of up to 1,000 rows each: PostgreSQL runs one statement per page instead of one per
    # row (asyncpg's executemany pipelines, but the server still executes every row alone).
    engine.sync_engine.dialect.use_insertmanyvalues_wo_returning = True
    return engine


def _make_sqlite_transactions_serial(engine: AsyncEngine) -> None:
    """SQLite: WAL, and BEGIN IMMEDIATE so concurrent writers queue instead of failing.

    With the driver's default deferred BEGIN, two transactions that both read then write can
    deadlock and one gets "database is locked" at once; taking the write lock up front makes
    the second wait (up to the busy timeout) instead.
    """

    @event.listens_for(engine.sync_engine, "connect")
    def _connect(dbapi_connection: Any, _: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _begin(conn: Any) -> None:
        # A read-only connection (see `reading`) takes no write lock: WAL lets it read
        # beside the writer instead of queueing behind it.
        read_only = conn.get_execution_options().get("binome_read_only", False)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


class _JsonList(TypeDecorator[list[Any]]):
    """A list of values as one JSON array parameter, each value converted by the column's type
    first, as it would bind."""

    impl = String
    cache_ok = True

    def __init__(self, item: TypeEngine[Any]) -> None:
        super().__init__()
        self.item = item

    def process_bind_param(self, value: list[Any] | None, dialect: Dialect) -> Any:
        if value is None:
            return None
        process = self.item.dialect_impl(dialect).bind_processor(dialect)
        return orjson.dumps([process(v) for v in value] if process else value).decode()


# From this many values, `one_of` writes them in the statement (PostgreSQL) or sends them as one
# JSON array (SQLite); below, the plain `IN ($1, ...)`: a prepared statement reused from one
# call to the next, and a handful of values compared with each row costs little whatever the
# plan (PostgreSQL hashes a list of constants from 9 values).
LISTED_FROM = 16


class OneOf(ColumnElement[bool]):
    """`column IN (values)`, whatever their number, planned for the values it is given. From
    LISTED_FROM values:

        PostgreSQL: column IN ('e1', 'e2', ...)   the values written in the statement
        SQLite:     column IN (SELECT value FROM json_each(?))   one JSON parameter

    PostgreSQL turns a list of constants into a hashed lookup; a list of parameters
    (`IN ($1, ..., $1000)`, or an array parameter) it compares value by value once a prepared
    statement settled on a generic plan. With a table's statistics stale after a bulk write
    (12,000 employees hired a second earlier, estimated at 1 row), that plan compared each of
    the organisation's rows with a thousand ids: 300 ms, against 2 ms with the constants, where
    a semi-join on the array was planned as a nested loop and took 1.1 s. The values are
    rendered by SQLAlchemy (`literal_execute`: quoted and escaped by the column's type, the
    compiled statement still cached), so each call is a statement of its own, planned for its
    values. SQLite reads the JSON array in C and searches the column's index for each value.
    Neither is bounded by the number of parameters a statement takes (32,767)."""

    type = Boolean()
    inherit_cache = True
    _traverse_internals = [
        ("column", InternalTraversal.dp_clauseelement),
        ("values", InternalTraversal.dp_clauseelement),
        ("document", InternalTraversal.dp_clauseelement),  # both: a cached statement's values
        ("listed", InternalTraversal.dp_boolean),  # are taken from them at each execution
    ]

    def __init__(self, column: Any, values: Iterable[Any]) -> None:
        self.column = coercions.expect(roles.ExpressionElementRole, column)
        values = list(values)
        self.listed = len(values) >= LISTED_FROM
        self.values = bindparam(
            None,
            values,
            type_=self.column.type,
            expanding=True,
            literal_execute=self.listed,
            unique=True,
        )
        self.document = bindparam(None, values, type_=_JsonList(self.column.type), unique=True)


def one_of(column: Any, values: Iterable[Any]) -> OneOf:
    """`column` is one of `values` (see OneOf): for lists of ids read or deleted together."""
    return OneOf(column, values)


@compiles(OneOf, "postgresql")
def _one_of_pg(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(element.values), **kw)


@compiles(OneOf)
def _one_of_sqlite(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    if not element.listed:
        return compiler.process(element.column.in_(element.values), **kw)
    column = compiler.process(element.column, **kw)
    return f"{column} IN (SELECT value FROM json_each({compiler.process(element.document, **kw)}))"


def request_reader(engine: AsyncEngine) -> AsyncEngine:
    """The engine a GET's unit of work reads with. On SQLite, a transaction that takes no
    write lock. On PostgreSQL, no transaction at all (autocommit): at READ COMMITTED each
    statement takes its own snapshot even inside a transaction, so a GET sees the same, and
    is spared the BEGIN and ROLLBACK round trips that cost a small request a third of its
    time. (Its unit of work refuses to commit: a GET writes nothing.)"""
    read_only = engine.execution_options(binome_read_only=True)
    if engine.dialect.name == "postgresql":
        return read_only.execution_options(isolation_level="AUTOCOMMIT")
    return read_only


@asynccontextmanager
async def reading(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """A connection for reads only (on SQLite it does not queue behind writers)."""
    async with engine.connect() as conn:
        yield await conn.execution_options(binome_read_only=True)


async def ping(engine: AsyncEngine) -> None:
    async with reading(engine) as conn:
        await conn.execute(text("SELECT 1"))


async def lock_key(session: AsyncSession, key: str) -> None:
    """A transaction-scoped lock on an arbitrary key (PostgreSQL advisory lock): use cases
    that read several rows and decide on them together take turns. SQLite transactions are
    serial already."""
    if session.bind is not None and session.bind.dialect.name == "postgresql":
        conn = await session.connection()  # the session's own transaction
        await conn.execute(text("SELECT pg_advisory_xact_lock(hashtext(:key))"), {"key": key})


async def upgrade(engine: AsyncEngine, migrations_dir: Path, revision: str = "head") -> None:
    """Bring the service's database to the head of its Alembic history (or to `revision`).

    Alembic runs on the engine's own connection (Alembic's "connection sharing" recipe), and a
    PostgreSQL advisory lock keeps replicas that start together from migrating at once.
    """
    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))

    def run(sync_conn: Any) -> None:
        cfg.attributes["connection"] = sync_conn
        command.upgrade(cfg, revision)

    async with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            await conn.execute(text("SELECT pg_advisory_xact_lock(4242)"))
        await conn.run_sync(run)


def run_migrations_env(target_metadata: Any) -> None:
    """Body of every service's migrations/env.py (online mode, on a shared connection)."""
    from alembic import context

    connection = context.config.attributes.get("connection")
    if connection is None:  # `alembic` CLI use: open our own connection from the settings
        from shared.settings import Settings

        service = Path(context.config.get_main_option("script_location") or "").parent.name
        url = Settings().database_url_for(service)
        engine = create_engine(url)

        async def go() -> None:
            async with engine.begin() as conn:
                await conn.run_sync(lambda c: _configure_and_run(context, c, target_metadata))
            await engine.dispose()

        asyncio.run(go())
        return
    _configure_and_run(context, connection, target_metadata)


def _configure_and_run(context: Any, connection: Any, target_metadata: Any) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


class PydanticJSON(TypeDecorator[Any]):
    """A pydantic model (or a type of them, like `list[Model]`) in a JSON column: stored as its
    JSON form (durations as ISO 8601), read back as the model."""

    impl = JSON
    cache_ok = True

    def __init__(self, model: Any) -> None:
        super().__init__()
        self.model = model
        self._adapter: TypeAdapter[Any] = TypeAdapter(model)

    def process_bind_param(self, value: Any, dialect: Any) -> Any:
        if value is None:
            return None
        return self._adapter.dump_python(self._adapter.validate_python(value), mode="json")

    def process_result_value(self, value: Any, dialect: Any) -> Any:
        return None if value is None else self._adapter.validate_python(value)
