"""Durable timers on the embedded mode (SQLite), with a clock the tests move: armed with the
change that wants them, fired when due and only then, once in effect, re-armable, cancellable,
surviving a stop, and a failing one retried then parked without holding the others back."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from shared.app import build_app
from shared.clock import ManualClock
from shared.settings import Settings
from tests import testkit
from tests.helpers import eventually

NAME = "timerkit"


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", consumer_retry_backoff_s=0.01, timer_poll_interval_s=0.05
    )


@asynccontextmanager
async def running(settings: Settings, clock: ManualClock) -> AsyncIterator[Kit]:
    app = build_app([testkit.definition(NAME)], settings, name=NAME, clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            yield Kit(app, client, clock)


class Kit:
    def __init__(self, app: FastAPI, client: httpx.AsyncClient, clock: ManualClock) -> None:
        self.app, self.client, self.clock = app, client, clock
        self.run = uuid.uuid4().hex[:10]

    async def arm(self, count: int = 1, *, due_in: str = "PT0S", **extra: Any) -> None:
        r = await self.client.post(
            f"/v1/testkit/{self.run}/timers", json={"count": count, "due_in": due_in, **extra}
        )
        assert r.status_code == 201, r.text

    async def fired(self) -> dict[str, int]:
        return (await self.client.get(f"/v1/testkit/{self.run}")).json()

    async def fired_at_least(self, rows: int) -> dict[str, int]:
        async def enough() -> dict[str, int] | None:
            counts = await self.fired()
            return counts if counts["rows"] >= rows else None

        return await eventually(enough, what=f"{rows} timer firings")

    async def timers(self) -> dict[str, Any]:
        status = (await self.client.get("/status")).json()
        return status["services"][NAME]["timers"]

    async def quiet(self) -> None:
        """Long enough for the scheduler (polling every 0.05 s) to have fired anything due."""
        await asyncio.sleep(0.4)


async def test_a_timer_fires_when_due_and_only_then(settings: Settings) -> None:
    async with running(settings, ManualClock()) as kit:
        await kit.arm(3, due_in="PT1H")
        await kit.quiet()
        assert (await kit.fired())["rows"] == 0
        assert (await kit.timers())["pending"] == 3
        kit.clock.advance(timedelta(minutes=59))
        await kit.quiet()
        assert (await kit.fired())["rows"] == 0
        kit.clock.advance(timedelta(minutes=1))
        assert await kit.fired_at_least(3) == {"rows": 3, "distinct": 3, "total": 3}
        await kit.quiet()
        assert (await kit.fired())["rows"] == 3  # once each
        timers = await kit.timers()
        assert (timers["pending"], timers["fired"], timers["parked"]) == (0, 3, 0)


async def test_a_timer_exists_only_if_its_unit_of_work_commits(settings: Settings) -> None:
    async with running(settings, ManualClock()) as kit:
        runtime = kit.app.state.runtimes[NAME]
        async with runtime.uow() as uow:  # left without commit: rolled back
            uow.schedule("orphan", kind="tick", due_at=uow.now(), org="acme", payload={})
        async with runtime.uow() as uow:
            uow.schedule("kept", kind="tick", due_at=uow.now(), org="acme", payload={})
            uow.cancel_timer("kept")  # armed and dropped in one unit of work: nothing
            await uow.commit()
        kit.clock.advance(timedelta(hours=1))
        await kit.quiet()
        assert (await kit.timers())["pending"] == 0
        assert (await kit.timers())["fired"] == 0


async def test_re_arming_pushes_a_deadline_back_and_cancelling_drops_it(
    settings: Settings,
) -> None:
    async with running(settings, ManualClock()) as kit:
        await kit.arm(1, due_in="PT1H", prefix="deadline")
        await kit.arm(1, due_in="PT3H", prefix="deadline")  # same key: re-armed, later
        await kit.arm(1, due_in="PT1H", prefix="dropped")
        runtime = kit.app.state.runtimes[NAME]
        async with runtime.uow() as uow:
            uow.cancel_timer(f"{kit.run}:dropped0")
            await uow.commit()
        kit.clock.advance(timedelta(hours=2))
        await kit.quiet()
        assert (await kit.fired())["rows"] == 0
        kit.clock.advance(timedelta(hours=1))
        assert (await kit.fired_at_least(1))["rows"] == 1
        await kit.quiet()
        assert (await kit.fired())["rows"] == 1


async def test_a_timer_due_while_the_service_was_down_fires_when_it_is_back(
    settings: Settings,
) -> None:
    clock = ManualClock()
    async with running(settings, clock) as kit:
        run = kit.run
        await kit.arm(2, due_in="P14D")
    clock.advance(timedelta(days=15))  # the service is down when they come due
    async with running(settings, clock) as back:
        back.run = run
        assert await back.fired_at_least(2) == {"rows": 2, "distinct": 2, "total": 2}
        await back.quiet()
        assert (await back.fired())["rows"] == 2


async def test_a_periodic_timer_re_arms_itself_from_its_handler(settings: Settings) -> None:
    async with running(settings, ManualClock()) as kit:
        await kit.arm(1, rearm=2)
        await kit.fired_at_least(1)
        for firings in (2, 3):
            kit.clock.advance(timedelta(seconds=1))
            await kit.fired_at_least(firings)
        kit.clock.advance(timedelta(seconds=5))
        await kit.quiet()
        assert await kit.fired() == {"rows": 3, "distinct": 1, "total": 3}
        assert (await kit.timers())["pending"] == 0


async def test_a_failing_timer_is_retried_then_parked_and_the_others_fire(
    settings: Settings,
) -> None:
    async with running(settings, ManualClock()) as kit:
        buggy = f"{kit.run}:t1"
        testkit.BUGGY_TIMERS.add(buggy)
        try:
            await kit.arm(3)
            assert (await kit.fired_at_least(2))["rows"] == 2  # t0 and t2 despite t1

            async def parked() -> dict[str, Any] | None:
                kit.clock.advance(timedelta(seconds=10))  # past any retry's backoff
                timers = await kit.timers()
                return timers if isinstance(timers, dict) and timers["parked"] == 1 else None

            timers = await eventually(parked, what="the failing timer parked")
            assert timers["failed"] == settings.consumer_max_attempts
            assert timers["pending"] == 0
        finally:
            testkit.BUGGY_TIMERS.discard(buggy)
        kit.clock.advance(timedelta(hours=1))
        await kit.quiet()
        assert (await kit.fired())["rows"] == 2  # a parked timer stays out of the firing
