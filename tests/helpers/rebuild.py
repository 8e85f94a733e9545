"""`binome reporting rebuild` as ops run it, beside a server that keeps serving: the scenario
of tests/api/test_rebuild.py (SQLite, the local bus) and tests/infra/test_rebuild_pg.py
(PostgreSQL, Kafka)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from services import load
from services.cli import in_flight
from services.reporting.models import MADE_BY_CALLERS
from shared.messaging.bus import Bus
from shared.rebuild import Rebuild
from shared.settings import Settings
from tests.helpers import Api, binome_cli, eventually
from tests.helpers.journey import check, run_journey
from tests.helpers.review import dashboard_link
from tests.helpers.webhooks import Receiver

# A projection bug's damage: reporting lost its sessions and its skill assessments.
LOSE_ROWS = ("DELETE FROM session", "DELETE FROM skill_assessment")


async def _views(api: Api, pid: str, mid: str) -> dict[str, Any]:
    return {
        "relationship": await api.ok("GET", f"/v1/reports/relationships/{mid}"),
        "program": await api.ok("GET", f"/v1/reports/programs/{pid}"),
        "kpis": await api.ok("GET", f"/v1/reports/programs/{pid}/kpis"),
    }


async def rebuilt_while_serving(
    api: Api,
    env: dict[str, str],
    lose_rows: Callable[[], Awaitable[None]],
    hook: Receiver | None = None,
    sources: tuple[str, ...] = ("archive",),
) -> None:
    """A relationship's journey; reporting's rows damaged; the command rebuilds them from
    each source in turn (reporting's archive, the broker's log) while a reader keeps reading
    (the old projection, then the new, never a half-made one); every view is then as
    before, and a dashboard link (made by a caller) still works.
    With `hook`, a webhook endpoint got every event of the journey once, and the rebuild
    (which replays them all) sends none again."""
    endpoint = None
    if hook is not None:
        body = {"url": hook.url, "event_types": ["*"]}
        endpoint = (await api.ok("POST", "/v1/webhooks", json=body, expect=201))["id"]
    journey = await run_journey(api)
    check(journey)
    pid, mid = journey.match["program_id"], journey.match["id"]

    async def settled() -> bool:  # every event emitted so far applied (closing surveys...)
        r = await api.c.get("/status", headers=api.admin)
        return r.status_code == 200 and in_flight(r.json()) is None

    await eventually(settled, timeout=60, what="nothing left in flight")
    sent = 0
    if hook is not None:

        async def all_sent() -> int:
            log = await api.items(f"/v1/webhooks/{endpoint}/deliveries")
            done = all(d["status"] == "succeeded" for d in log)
            # A delivery whose answer came too late is sent again, under the same webhook-id.
            ids = {r.headers["webhook-id"] for r in hook.received}
            return len(log) if done and ids == {d["id"] for d in log} else 0

        sent = await eventually(all_sent, timeout=30, what="the journey's events sent")
        assert sent > 20, sent
        received = len(hook.received)
    before = await _views(api, pid, mid)
    link = await dashboard_link(api, pid)

    for source in sources:  # each time from a damaged projection
        await lose_rows()
        damaged = await api.ok("GET", f"/v1/reports/relationships/{mid}")
        assert damaged["sessions_completed"] == 0 and damaged["skills"] == {}, damaged
        await _rebuilt(api, env, mid, source)
        after = await _views(api, pid, mid)
        changed = {
            k["name"]: (k["value"], k["population"], was["value"], was["population"])
            for k, was in zip(after["kpis"]["kpis"], before["kpis"]["kpis"], strict=True)
            if k != was
        }
        assert after == before, (source, changed or after)
        assert (await api.c.get(link)).status_code == 200
    if hook is not None:  # nothing sent again, nothing queued again
        await eventually(settled, timeout=60, what="nothing left in flight")
        await asyncio.sleep(0.5)
        assert len(hook.received) == received
        assert len(await api.items(f"/v1/webhooks/{endpoint}/deliveries")) == sent


async def _rebuilt(api: Api, env: dict[str, str], mid: str, source: str) -> None:
    """`binome reporting rebuild --from SOURCE` while a reader polls a relationship's report:
    every answer 200, with the damaged state or the rebuilt one, never a half-made one."""
    seen: list[tuple[int, int | None]] = []
    rebuilt = asyncio.Event()

    async def reading() -> None:
        while not rebuilt.is_set():
            r = await api.c.get(f"/v1/reports/relationships/{mid}", headers=api.admin)
            seen.append((r.status_code, r.json().get("sessions_completed")))
            await asyncio.sleep(0.05)

    reader = asyncio.create_task(reading())
    try:
        done = await binome_cli("reporting", "rebuild", "--from", source, env=env)
    finally:
        rebuilt.set()
        await reader
    assert done.returncode == 0, done.stderr
    assert "rebuilt reporting's projection from" in done.stdout, done.stdout
    assert "(0 undecodable or off contract, skipped; the switch" in done.stdout, done.stdout
    rows = dict(line.split("\t") for line in done.stdout.splitlines()[1:])
    assert rows["session"] == "2" and int(rows["inbox"]) > 20, (source, rows)
    assert seen and {status for status, _ in seen} == {200}, seen
    assert {completed for _, completed in seen} <= {0, 2}, seen


async def the_tail_applied(api: Api, settings: Settings, bus: Bus) -> None:
    """An employee hired after the rebuild's last pass (reporting's live consumer applied and
    archived it, into tables about to be replaced): the switch applies it to the rebuilt
    projection (its last pass had not). `bus`: the running server's."""
    await api.hire({"id": "ana", "name": "Ana Before"})

    async def named(who: str, name: str) -> bool:  # 404 until reporting hears of them
        page = await api.c.get(f"/v1/recognition/employees/{who}", headers=api.admin)
        return page.status_code == 200 and page.json()["name"] == name

    await eventually(lambda: named("ana", "Ana Before"), what="reporting hearing of Ana")

    async def hire_late() -> None:
        await api.hire({"id": "leo", "name": "Leo Late"})
        await eventually(lambda: named("leo", "Leo Late"), what="the live consumer hearing Leo")

    done = await Rebuild(
        load("reporting"), settings, bus, kept=MADE_BY_CALLERS, before_switch=hire_late
    ).run()
    assert done.skipped == 0 and done.rows["employee"] >= 2, done
    assert await named("ana", "Ana Before") and await named("leo", "Leo Late")
