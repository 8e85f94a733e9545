"""`shared.db.one_of`: a column among a list of values, the list as one parameter (an array on
PostgreSQL, a JSON array on SQLite). The same rows as Python's `in` on both databases, for no
value, one, and more values than either database takes parameters; typed values converted as
the column binds them; a cached statement reused with other values; and a plan that stays a
join when the table's statistics are stale (the case that made enrolments slow: a thousand ids
compared with each of 12,000 rows)."""

from __future__ import annotations

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    delete,
    func,
    select,
    text,
)
from sqlalchemy.ext.asyncio import AsyncEngine

from shared import bulk, db
from shared.db import one_of
from tests.helpers import create_database

pytestmark = pytest.mark.infra

T0 = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
metadata = MetaData()
people = Table(
    "people", metadata,
    Column("org", String(20), primary_key=True), Column("id", String(40), primary_key=True),
    Column("n", Integer, nullable=False), Column("at", DateTime(timezone=True), nullable=False),
)  # fmt: skip
N = 40_000  # above SQLite's 32,766 parameters and the 5,000 of the old IN lists


def _row(i: int) -> dict:
    return {"org": "acme", "id": f"é-{i}", "n": i, "at": T0 + timedelta(minutes=i)}


async def _engine(database: str, pg_server: str, tmp_path: Path) -> AsyncEngine:
    url = (
        await create_database(pg_server, f"t_one_of_{uuid.uuid4().hex[:8]}")
        if database == "postgresql"
        else f"sqlite+aiosqlite:///{tmp_path / 'one_of.db'}"
    )
    return db.create_engine(url)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
async def test_one_of_finds_what_in_finds(database: str, pg_server: str, tmp_path: Path) -> None:
    engine = await _engine(database, pg_server, tmp_path)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(*bulk.write(conn, people, [_row(i) for i in range(N)]))

            async def ids(column: Column, values: list) -> list[str]:
                query = select(people.c.id).where(people.c.org == "acme", one_of(column, values))
                return sorted((await conn.execute(query)).scalars())

            wanted = [f"é-{i}" for i in range(0, N + 500, 1)] + ["é-3", "nobody", "é-3"]
            assert await ids(people.c.id, wanted) == sorted(f"é-{i}" for i in range(N))
            assert await ids(people.c.id, []) == []
            assert await ids(people.c.id, ["é-7"]) == ["é-7"]  # the cached statement, other values
            assert await ids(people.c.n, [5, 6, -1]) == ["é-5", "é-6"]
            at = [T0 + timedelta(minutes=9), T0 + timedelta(minutes=9, seconds=1)]
            assert await ids(people.c.at, at) == ["é-9"]  # as the column binds a time
            at = [T0 + timedelta(minutes=i, seconds=i % 2) for i in range(40)]  # written out
            assert await ids(people.c.at, at) == sorted(f"é-{i}" for i in range(0, 40, 2))
            quoted = ["o'neil", 'a"b', "x\\y", "50%", "$1", ":x", "?", "--", "é-1"] * 2
            assert await ids(people.c.id, quoted) == ["é-1"]
            gone = await conn.execute(delete(people).where(one_of(people.c.n, range(10, N))))
            assert gone.rowcount == N - 10
            left = await conn.execute(select(func.count()).select_from(people))
            assert left.scalar_one() == 10
    finally:
        await engine.dispose()


async def test_one_of_stays_a_join_when_statistics_are_stale(pg_server: str) -> None:
    """Analysed with 3 rows, then 12,000 written: the planner expects one row. A generic plan
    (what a prepared statement settles on) must still not compare each row with every value."""
    engine = await _engine("postgresql", pg_server, Path())
    try:
        async with engine.begin() as conn:
            await conn.run_sync(metadata.create_all)
            await conn.execute(
                *bulk.write(conn, people, [{**_row(i), "org": "other"} for i in range(3)])
            )
        async with engine.connect() as conn:
            await conn.execute(text("ANALYZE people"))
            await conn.execute(*bulk.write(conn, people, [_row(i) for i in range(12_000)]))
            # The executed statement's plan, sent back as a notice (auto_explain).
            for setting in (
                "LOAD 'auto_explain'", "SET auto_explain.log_min_duration = 0",
                "SET auto_explain.log_analyze = on", "SET auto_explain.log_format = json",
                "SET auto_explain.log_level = notice", "SET plan_cache_mode = force_generic_plan",
            ):  # fmt: skip
                await conn.execute(text(setting))
            raw = (await conn.get_raw_connection()).driver_connection
            plans: list[dict] = []
            raw.add_log_listener(lambda _, message: plans.append(_plan(message.message)))
            query = select(people.c.id).where(
                people.c.org == "acme", one_of(people.c.id, [f"é-{i}" for i in range(1_000)])
            )
            assert len((await conn.execute(query)).all()) == 1_000
            nodes: list[dict] = []
            for _ in range(100):  # its notice comes with a later exchange, handed on call_soon
                await conn.execute(text("SELECT 1"))
                await asyncio.sleep(0.01)
                nodes = [node for plan in plans for node in _nodes(plan)]
                if any(node.get("Relation Name") == "people" for node in nodes):
                    break
            else:
                raise AssertionError(f"no plan of the query came: {plans}")
            # The ids are a constant (hashed once, each row looked up in it), not parameters
            # compared one by one with each row, nor a join redone for each row.
            conditions = [
                node[key] for node in nodes for key in ("Filter", "Index Cond", "Join Filter")
                if "id" in node.get(key, "")
            ]  # fmt: skip
            assert conditions, nodes
            assert not any("$" in c for c in conditions if "ANY" in c), conditions
            assert all("Join Filter" not in node for node in nodes), nodes
            await conn.rollback()
    finally:
        await engine.dispose()


def _plan(message: str) -> dict:
    """auto_explain's notice: "duration: ... ms  plan:" then the plan as JSON."""
    _, _, plan = message.partition("plan:")
    return json.loads(plan)["Plan"] if plan.strip().startswith("{") else {}


def _nodes(plan: dict) -> list[dict]:
    return [plan, *(n for child in plan.get("Plans", []) for n in _nodes(child))]
