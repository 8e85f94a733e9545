"""A data subject's export and erasure on PostgreSQL and Kafka: the same scenario as
tests/api/test_gdpr.py (the JSON columns matched as text, the org reached through parents,
the confirmations crossing the broker), then every table of the five databases read for the
person's id, name, email and words. On Kafka the termination's events and the erasure travel
on different partitions: each service's second pass (8 s after its first) erases what the
events it heard after the erasure wrote. Kafka's topics then forget her events (DeleteRecords)
once every group has read them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import httpx
import pytest

from services import SERVICE_NAMES, load_all
from shared.app import build_app
from tests.helpers import Api, kafka_pg_settings
from tests.helpers.gdpr import exported_then_erased, kafka_log, pg_rows

pytestmark = pytest.mark.infra


@pytest.fixture
async def binome(kafka_bootstrap: str, pg_databases) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    settings = kafka_pg_settings(
        kafka_bootstrap,
        await pg_databases(list(SERVICE_NAMES)),
        erasure_repeat_after=timedelta(seconds=8),
    )
    app = build_app(load_all(), settings, name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            yield Api(client, settings, org=f"org-{uuid.uuid4().hex[:6]}")


async def test_an_employee_is_exported_then_erased_on_postgresql(binome: Api) -> None:
    s = binome.settings
    env = {
        "BINOME_DATABASE_URL": s.database_url,
        "BINOME_BUS": "kafka",
        "BINOME_KAFKA_BOOTSTRAP": s.kafka_bootstrap,
        "BINOME_TOPIC_PREFIX": s.topic_prefix,
    }
    log = kafka_log(s.kafka_bootstrap, s.topic_prefix)
    await exported_then_erased(binome, env, pg_rows(s.database_url), log)
