"""The backbone under faults, on the real broker and PostgreSQL, with a fault-injecting TCP
proxy (tests/testkit/faultproxy.py) between the service and PostgreSQL.

Every test counts what it sent and what the consumer applied: 0 lost, 0 duplicated, 0 dead
letters, whatever the outage did to the connections in between.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy.engine import make_url

from services import load
from shared.app import build_app
from shared.settings import Settings
from tests import testkit
from tests.helpers import auth, eventually, kafka_settings, topic_prefix
from tests.helpers.kafka import produce, wire
from tests.helpers.metrics import value
from tests.testkit import KitClient
from tests.testkit.faultproxy import FaultProxy

pytestmark = pytest.mark.infra


@pytest.fixture
def pg_proxy(pg_server: str) -> AsyncIterator[FaultProxy]:
    url = make_url(pg_server)
    proxy = FaultProxy(url.host or "127.0.0.1", url.port or 5432)
    proxy.start()
    yield proxy  # type: ignore[misc]
    proxy.stop()


def _through(proxy: FaultProxy, db_url: str) -> str:
    real = make_url(db_url.replace("{service}", "x"))
    return db_url.replace(f"{real.host}:{real.port}/", f"127.0.0.1:{proxy.port}/")


@pytest.fixture
async def kit_through_proxy(
    kafka_bootstrap: str,
    pg_databases,  # type: ignore[no-untyped-def]
    pg_proxy: FaultProxy,
) -> AsyncIterator[KitClient]:
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = _through(pg_proxy, await pg_databases([name]))
    prefix = topic_prefix()
    # The relay polls rarely: the only COMMITs on the wire are the consumer's.
    settings = kafka_settings(kafka_bootstrap, url, prefix, outbox_poll_interval_s=300)
    app = build_app([testkit.definition(name)], settings, name=name)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            yield KitClient(name, prefix, client, kafka_bootstrap)


def _burst(run: str, prefix: str, n: int) -> list:
    return [
        wire(
            testkit.CounterIncremented(run_id=run, counter_id=f"c{i % 24}", amount=1), prefix=prefix
        )
        for i in range(n)
    ]


async def _applied_at_least(kit: KitClient, run: str, n: int) -> dict[str, int] | None:
    try:
        counts = await kit.counts(run)
    except Exception:  # the database may be away while we ask
        return None
    return counts if counts.get("distinct", 0) >= n else None


async def test_database_outage_during_a_backlog_loses_nothing(
    kit_through_proxy: KitClient, pg_proxy: FaultProxy
) -> None:
    """The data-loss scenario: a consumer with thousands of events behind it meets a database
    outage. Before failure classes, the events in hand failed three quick retries and went to
    the dead-letter topic, their offsets committed past: lost for the service."""
    kit, run, burst = kit_through_proxy, uuid.uuid4().hex, 3000
    await produce(kit.bootstrap, _burst(run, kit.prefix, burst))
    at_cut = await eventually(
        lambda: _applied_at_least(kit, run, 200), interval=0.01, what="backlog being applied"
    )
    pg_proxy.cut()
    await asyncio.sleep(2.0)  # far longer than the old consumer's retries (3 x 10-40 ms)
    status = (await kit.client.get("/status")).json()["services"][kit.name]
    assert status["consumer"]["lag"] > 0 and status["consumer"]["waiting_for_s"] > 0.5
    assert status["consumer"]["transient_retries"] > 0 and status["outbox"].startswith("error")
    assert (await kit.client.get("/readyz")).status_code == 503
    text = (await kit.client.get("/metrics")).text  # what an alert on the database watches
    assert value(text, "binome_database_up", service=kit.name) == 0
    assert (
        value(text, "binome_consumer_waiting_seconds", group=f"{kit.prefix}binome-{kit.name}") or 0
    ) > 0.5
    await asyncio.sleep(1.0)
    pg_proxy.restore()
    await eventually(
        lambda: _applied_at_least(kit, run, burst), timeout=120, what="whole backlog applied"
    )
    await asyncio.sleep(1.0)  # any duplicate or late dead letter would show by now
    assert at_cut["distinct"] < burst, "the backlog was gone before the outage; make it larger"
    assert pg_proxy.resets > 0, "the outage cut no live connection"
    assert await kit.counts(run) == {"rows": burst, "distinct": burst, "total": burst}
    assert await kit.dead_letters() == 0


@pytest.mark.parametrize("after_forwarding", [False, True], ids=["before-commit", "after-commit"])
async def test_connection_cut_at_commit_applies_each_event_once(
    kit_through_proxy: KitClient, pg_proxy: FaultProxy, after_forwarding: bool
) -> None:
    """Cut before the server sees COMMIT: nothing half-applied, the retry applies it. Cut after
    the server committed but before the consumer heard: the retry finds it in the inbox."""
    kit, run, burst = kit_through_proxy, uuid.uuid4().hex, 400
    pg_proxy.cut_at(b"COMMIT", after_forwarding=after_forwarding, times=3)
    await produce(kit.bootstrap, _burst(run, kit.prefix, burst))
    await eventually(
        lambda: _applied_at_least(kit, run, burst), timeout=60, what="every event applied"
    )
    await asyncio.sleep(0.5)
    assert not pg_proxy.armed, "the cuts never happened"
    assert await kit.counts(run) == {"rows": burst, "distinct": burst, "total": burst}
    assert await kit.dead_letters() == 0


@pytest.fixture
async def enrollment_through_proxy(
    kafka_bootstrap: str,
    pg_databases,  # type: ignore[no-untyped-def]
    pg_proxy: FaultProxy,
) -> AsyncIterator[tuple[httpx.AsyncClient, Settings]]:
    url = _through(pg_proxy, await pg_databases(["enrollment"]))
    settings = kafka_settings(kafka_bootstrap, url, topic_prefix())
    app = build_app([load("enrollment")], settings, name="enrollment")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
            yield client, settings


async def test_requests_during_a_database_outage_answer_503_with_retry_after(
    enrollment_through_proxy: tuple[httpx.AsyncClient, Settings], pg_proxy: FaultProxy
) -> None:
    client, settings = enrollment_through_proxy
    admin = auth(settings)
    body = {"name": "Onboarding", "format": "classic"}
    assert (await client.post("/v1/programs", json=body, headers=admin)).status_code == 201

    pg_proxy.cut()
    for method, path, kw in [
        ("POST", "/v1/programs", {"json": {**body, "name": "During the outage"}}),
        ("GET", "/v1/programs", {}),
    ]:
        r = await client.request(method, path, headers=admin, **kw)
        assert r.status_code == 503, r.text
        assert r.headers["retry-after"].isdigit()
        assert r.headers["content-type"].startswith("application/problem+json")
        problem = r.json()
        assert problem["status"] == 503 and "database" in problem["detail"]
    ready = await client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["database:enrollment"] != "ok"
    assert (await client.get("/livez")).status_code == 200, "an outage is not a dead process"

    pg_proxy.restore()
    await eventually(
        lambda: _status_is(client, "/readyz", 200), timeout=30, what="ready again after outage"
    )
    names = [p["name"] for p in (await client.get("/v1/programs", headers=admin)).json()["items"]]
    assert names == ["Onboarding"], "the request answered 503 must have written nothing"


async def _status_is(client: httpx.AsyncClient, path: str, status: int) -> bool:
    return (await client.get(path)).status_code == status
