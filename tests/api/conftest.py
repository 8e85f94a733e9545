"""The embedded mode: all five services in one process on SQLite and the local bus."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services import load_all
from shared.app import build_app
from shared.clock import ManualClock
from shared.settings import Settings
from tests.helpers import Api, compiled_matching_kernels  # noqa: F401 (a fixture)


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        outbox_poll_interval_s=0.2,
        consumer_retry_backoff_s=0.01,
        timer_poll_interval_s=0.05,
    )


@pytest.fixture
def clock() -> ManualClock:
    """The embedded app's time: it moves only when a test moves it (durable timers)."""
    return ManualClock()


@pytest.fixture
async def app(settings: Settings, clock: ManualClock) -> AsyncIterator:
    application = build_app(load_all(), settings, name="binome", clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def client(app) -> AsyncIterator[httpx.AsyncClient]:  # type: ignore[no-untyped-def]
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://binome") as c:
        yield c


@pytest.fixture
def api(client: httpx.AsyncClient, settings: Settings) -> Api:
    return Api(client, settings)
