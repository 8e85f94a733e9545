"""Webhooks on PostgreSQL and Kafka: twenty endpoints subscribed through the API get every
hire of a batch (300 deliveries, queued twenty at a time by the bulk write), signed and each
exactly once, while a second dispatcher (another replica of reporting, its own connections)
claims beside the first: `FOR UPDATE SKIP LOCKED` shares the due deliveries, never sends one
twice."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator

import httpx
import pytest

from services import SERVICE_NAMES, load_all
from services.reporting.models import INBOX, OUTBOX, TIMERS
from services.reporting.webhooks.delivery import WebhookDispatcher
from shared import db
from shared.app import build_app
from shared.clock import SystemClock
from shared.settings import Settings
from shared.uow import UnitOfWork
from tests.helpers import Api, eventually, kafka_pg_settings
from tests.helpers.webhooks import receiver

pytestmark = pytest.mark.infra

ENDPOINTS, HIRES = 20, 15


@pytest.fixture
async def binome(kafka_bootstrap: str, pg_databases) -> AsyncIterator[Api]:  # type: ignore[no-untyped-def]
    settings = kafka_pg_settings(
        kafka_bootstrap, await pg_databases(list(SERVICE_NAMES)), webhook_allow_private=True
    )
    app = build_app(load_all(), settings, name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
            yield Api(client, settings, org=f"org-{uuid.uuid4().hex[:6]}")


def _replica(settings: Settings) -> tuple[WebhookDispatcher, object]:
    """A second reporting replica's dispatcher: its own engine on the same database."""
    engine = db.create_engine(settings.database_url_for("reporting"))

    def uow() -> UnitOfWork:
        return UnitOfWork(engine=engine, outbox=OUTBOX, inbox=INBOX, timers=TIMERS)

    return WebhookDispatcher(
        engine=engine, uow_factory=uow, clock=SystemClock(), settings=settings
    ), engine


async def test_replicas_share_the_deliveries_and_send_each_once(binome: Api) -> None:
    api = binome
    with receiver() as hook:
        made = []
        for i in range(ENDPOINTS):
            body = {
                "url": f"{hook.url}/{i}",
                "event_types": ["binome.enrollment.employee.hired.v1"],
            }
            made.append(await api.ok("POST", "/v1/webhooks", json=body, expect=201))
        hook.secrets += [m["secret"] for m in made]
        replica, engine = _replica(api.settings)
        replica.start()
        try:
            employees = [
                {"id": f"p{i}", "name": f"P{i}", "languages": ["fr"]} for i in range(HIRES)
            ]
            await api.hire(*employees)

            async def all_arrived() -> bool:
                return len(hook.received) >= ENDPOINTS * HIRES

            await eventually(all_arrived, timeout=60, what="300 deliveries")
            await asyncio.sleep(1)  # a duplicate would arrive meanwhile
        finally:
            await replica.stop()
            await engine.dispose()  # type: ignore[attr-defined]

        ids = Counter(r.headers["webhook-id"] for r in hook.received)
        assert len(ids) == ENDPOINTS * HIRES and set(ids.values()) == {1}
        assert all(len(r.verified_with) == 1 for r in hook.received)
        per_endpoint = Counter(r.path.rsplit("/", 1)[1] for r in hook.received)
        assert per_endpoint == {str(i): HIRES for i in range(ENDPOINTS)}
        for m in made[:3]:
            log = await api.items(
                f"/v1/webhooks/{m['id']}/deliveries", params={"status": "succeeded"}
            )
            assert len(log) == HIRES
        # Both replicas sent some (the second one claims while the first sends).
        assert replica.sent > 0, replica.status()
