"""`binome reporting rebuild` on PostgreSQL and Kafka: the shadow tables in a schema of their
own, the replay from the topics' beginning, the switch under a lock against the live
consumer's writes, while the server keeps serving."""

from __future__ import annotations

import asyncpg
import pytest
from sqlalchemy.engine import make_url

from tests.helpers import Api
from tests.helpers.rebuild import LOSE_ROWS, rebuilt_while_serving, the_tail_applied

pytestmark = pytest.mark.infra


async def test_a_rebuild_on_postgresql_and_kafka(api: Api) -> None:
    s = api.settings
    url = make_url(s.database_url_for("reporting"))

    async def damage() -> None:
        conn = await asyncpg.connect(
            host=url.host, port=url.port, user=url.username, database=url.database
        )
        try:
            async with conn.transaction():
                for statement in LOSE_ROWS:
                    await conn.execute(statement)
        finally:
            await conn.close()

    env = {
        "BINOME_DATABASE_URL": s.database_url,
        "BINOME_BUS": "kafka",
        "BINOME_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "BINOME_TOPIC_PREFIX": s.topic_prefix,
    }
    await rebuilt_while_serving(api, env, damage, sources=("archive", "log"))
    # The shadow went without autovacuum while it was filled (the rebuild vacuums it): the
    # tables that took the live ones' place have it back.
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database=url.database
    )
    try:
        options = await conn.fetch(
            "SELECT relname, reloptions FROM pg_class JOIN pg_namespace n"
            " ON n.oid = relnamespace WHERE n.nspname = current_schema() AND relkind = 'r'"
        )
    finally:
        await conn.close()
    assert {r["relname"] for r in options} >= {"session", "match", "rating", "inbox"}
    assert [r["relname"] for r in options if r["reloptions"]] == [], options


async def test_events_arriving_before_the_switch_are_its_tail_on_postgresql(api: Api) -> None:
    bus = api.c._transport.app.state.bus  # type: ignore[attr-defined]
    await the_tail_applied(api, api.settings, bus)
