"""Real infrastructure: the Kafka broker and PostgreSQL that scripts/test.sh starts.

These tests never fall back to fakes: without TEST_KAFKA_BOOTSTRAP / TEST_PG_URL they fail and
say how to get them.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator

import asyncpg
import httpx
import pytest
from sqlalchemy.engine import make_url

from services import SERVICE_NAMES, load_all
from shared.app import build_app
from tests.helpers import (  # noqa: F401
    PREFIXES,
    Api,
    compiled_matching_kernels,
    kafka_pg_settings,
)
from tests.helpers.kafka import delete_topics


def _need(var: str) -> str:
    value = os.environ.get(var)
    if not value:
        pytest.fail(
            f"{var} is not set: run the suite with scripts/test.sh, which starts Kafka "
            "and PostgreSQL"
        )
    return value


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    return _need("TEST_KAFKA_BOOTSTRAP")


@pytest.fixture(scope="session", autouse=True)
def _test_topics_deleted() -> Iterator[None]:
    """At the end of this process's session, the topics its tests made are deleted: a
    developer's broker running the suite again and again would otherwise hold tens of
    thousands of partitions, and run out of memory."""
    yield
    bootstrap = os.environ.get("TEST_KAFKA_BOOTSTRAP")
    if bootstrap and PREFIXES:
        asyncio.run(delete_topics(bootstrap, tuple(PREFIXES)))


@pytest.fixture(scope="session")
def pg_server() -> str:
    return _need("TEST_PG_URL")


async def _admin_execute(server: str, sql: str) -> None:
    url = make_url(server)
    conn = await asyncpg.connect(
        host=url.host,
        port=url.port,
        user=url.username,
        password=url.password,
        database="postgres",
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture
async def pg_databases(pg_server: str) -> AsyncIterator[Callable[[list[str]], Awaitable[str]]]:
    """Creates fresh databases; returns a BINOME_DATABASE_URL template with {service}."""
    created: list[str] = []
    tag = uuid.uuid4().hex[:8]

    async def make(services: list[str]) -> str:
        for svc in services:
            name = f"t_{tag}_{svc}"
            await _admin_execute(pg_server, f'CREATE DATABASE "{name}"')
            created.append(name)
        return f"{pg_server.rstrip('/')}/t_{tag}_{{service}}"

    yield make  # type: ignore[misc]
    for name in created:
        await _admin_execute(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def api(kafka_bootstrap: str, pg_databases) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    """All five services embedded in one app, on PostgreSQL and Kafka (an org of its own)."""
    settings = kafka_pg_settings(kafka_bootstrap, await pg_databases(list(SERVICE_NAMES)))
    app = build_app(load_all(), settings, name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            yield Api(client, settings, org=f"org-{uuid.uuid4().hex[:6]}")
