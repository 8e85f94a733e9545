"""`GET /metrics`: Prometheus exposition that a real parser reads and `promtool` accepts, with
requests by route template, the consumer's work and the backbone's state."""

from __future__ import annotations

import uuid

from shared.events import dead_letter_topic
from tests import testkit
from tests.helpers import Api, eventually
from tests.helpers.metrics import promtool_lint, samples, value
from tests.helpers.scenario import enrolled_cohort, proposed_match
from tests.unit.test_ops_files import referenced_series

NAME = "testkit"
GROUP = f"binome-{NAME}"


async def test_metrics_expose_requests_consumers_and_backbone(kit) -> None:  # type: ignore[no-untyped-def]
    app, client = kit
    run = uuid.uuid4().hex
    await app.state.bus.publish(testkit.with_poison(run))

    async def settled() -> str | None:
        text = (await client.get("/metrics")).text
        return text if value(text, "binome_dead_letters", group=GROUP) == 2 else None

    text = await eventually(settled, what="two dead letters counted")
    for _ in range(2):
        assert (await client.get(f"/v1/testkit/{run}")).status_code == 200
    assert (await client.get(f"/v1/testkit/{run}/nowhere/{uuid.uuid4()}")).status_code == 404
    response = await client.get("/metrics")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = response.text

    lint = promtool_lint(text)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    # Requests by route template, never by raw path: one series for every unknown path.
    route = "/v1/testkit/{run_id}"
    assert value(text, "binome_http_requests_total", method="GET", route=route, status="200") == 2
    unmatched = {"method": "GET", "route": "<unmatched>", "status": "404"}
    assert value(text, "binome_http_requests_total", **unmatched) == 1
    assert run not in text
    count = value(text, "binome_http_request_duration_seconds_count", method="GET", route=route)
    assert count == 2
    # The consumer: two applied, two dead-lettered (undecodable, and a handler failing each
    # time), its batches timed; the dead-letter topic holds them.
    assert value(text, "binome_consumer_applied_total", group=GROUP) == 2
    assert value(text, "binome_consumer_dead_lettered_total", group=GROUP) == 2
    batches = value(text, "binome_consumer_batch_duration_seconds_count", group=GROUP)
    assert batches is not None and batches >= 1
    assert value(text, "binome_dead_letters", group=GROUP) == 2
    assert len(await app.state.bus.read_topic(dead_letter_topic(GROUP))) == 2
    # The backbone: up, nothing waiting.
    assert value(text, "binome_bus_up") == 1
    assert value(text, "binome_database_up", service=NAME) == 1
    assert value(text, "binome_outbox_unsent", service=NAME) == 0
    assert value(text, "binome_consumer_lag", group=GROUP) == 0
    assert value(text, "binome_missing_topics", service=NAME) == 0
    assert value(text, "binome_timers_due", service=NAME) == 0
    # Scrapes are not requests of the API.
    assert 'route="/metrics"' not in text


async def test_outbox_backlog_and_timers_show_in_metrics(kit) -> None:  # type: ignore[no-untyped-def]
    """Writes waiting in the outbox and timers come due are gauges an alert can watch."""
    app, client = kit
    run = uuid.uuid4().hex
    runtime = app.state.runtimes[NAME]
    await runtime.relay.stop()  # the relay away: what is written waits in the outbox
    r = await client.post(f"/v1/testkit/{run}/emit", json={"count": 3})
    assert r.status_code == 201, r.text
    text = (await client.get("/metrics")).text
    assert value(text, "binome_outbox_unsent", service=NAME) == 3
    age = value(text, "binome_outbox_oldest_unsent_age_seconds", service=NAME)
    assert age is not None and age >= 0
    published = value(text, "binome_relay_published_total", service=NAME)
    assert published == 0


async def test_every_series_the_dashboard_and_alerts_query_is_exposed(api: Api) -> None:
    """The embedded app (all five services), after a cohort run and its publication: matching's
    own series carry `service="matching"`, and every Binôme series that deploy/'s dashboard and
    alert rules query is in the exposition (a renamed metric breaks this test, not an alert)."""
    cohort = await enrolled_cohort(api)
    before = (await api.c.get("/metrics")).text
    await proposed_match(api, cohort)
    text = (await api.c.get("/metrics")).text
    assert promtool_lint(text).returncode == 0

    def added(name: str) -> float:
        # Matching's series live as long as the process (this test's may share it).
        after = value(text, name, service="matching") or 0.0
        return after - (value(before, name, service="matching") or 0.0)

    assert added("binome_matching_run_duration_seconds_count") == 1
    assert added("binome_matching_run_pairs_sum") == 1
    assert added("binome_matching_run_mentees_sum") == 1
    runs = {"method": "POST", "route": "/v1/matching-runs", "status": "201"}
    assert value(text, "binome_http_requests_total", **runs) == 1
    exposed = {name for name, _ in samples(text)}
    for service in ("enrollment", "matching", "sessions", "feedback", "reporting"):
        assert value(text, "binome_database_up", service=service) == 1
    missing = referenced_series() - exposed
    assert not missing, f"queried by deploy/ but not exposed: {sorted(missing)}"
