"""Programme review on PostgreSQL and Kafka: the KPIs' aggregate queries (FILTER clauses,
distinct counts, grouped booleans) give the hand-worked figures of tests/helpers/review.py on
PostgreSQL too."""

from __future__ import annotations

import uuid

import httpx
import pytest
from sqlalchemy import text

from services import SERVICE_NAMES, load_all
from shared.app import build_app
from shared.clock import ManualClock
from tests.helpers import Api, kafka_pg_settings
from tests.helpers.review import (
    T0,
    check_cases,
    check_exports,
    check_kpis,
    check_outcomes,
    check_trends,
    scripted_programme,
)

pytestmark = pytest.mark.infra


async def test_kpis_on_postgres_and_kafka(kafka_bootstrap: str, pg_databases) -> None:  # type: ignore[no-untyped-def]
    url = await pg_databases(list(SERVICE_NAMES))
    settings = kafka_pg_settings(kafka_bootstrap, url, consumer_retry_backoff_s=0.01)
    clock = ManualClock(T0)
    app = build_app(load_all(), settings, name="binome", clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            api = Api(client, settings, org=f"org-{uuid.uuid4().hex[:6]}")
            pid = await scripted_programme(api, clock)
            await check_kpis(api, pid)
            await check_trends(api, pid)
            await check_exports(api, pid)
            await check_outcomes(api, clock, pid)
            await check_cases(api, clock, pid)


async def test_reporting_plans_each_statement_for_its_parameters(api: Api) -> None:
    """Reporting's reads are aggregates: PostgreSQL plans each for its parameters instead of
    settling on a generic plan after five executions (the KPIs took 1.6 times as long with
    it); the other services keep the default."""
    runtimes = api.c._transport.app.state.runtimes  # type: ignore[attr-defined]

    async def mode(service: str) -> str:
        async with runtimes[service].engine.connect() as conn:
            return str((await conn.execute(text("SHOW plan_cache_mode"))).scalar_one())

    assert await mode("reporting") == "force_custom_plan"
    assert await mode("enrollment") == "auto"
