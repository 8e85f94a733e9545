"""The embedded mode: all five services in one process on SQLite and the local bus."""

from __future__ import annotations

import asyncio
import shutil
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from services import load_all
from shared.app import build_app
from shared.clock import ManualClock
from shared.settings import Settings
from tests import testkit
from tests.helpers import Api, compiled_matching_kernels  # noqa: F401 (a fixture)


def _settings(data_dir: Path) -> Settings:
    return Settings(
        data_dir=data_dir,
        outbox_poll_interval_s=0.2,
        consumer_retry_backoff_s=0.01,
        timer_poll_interval_s=0.05,
    )


@pytest.fixture(scope="session")
def migrated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder the app started on once: its six SQLite files at the head of every
    service's migrations. Each test starts from a copy (a second each saved: the migrations
    themselves are exercised by this start and by tests/api/test_migrations.py)."""
    folder = tmp_path_factory.mktemp("migrated") / "data"

    async def start_once() -> None:
        application = build_app(load_all(), _settings(folder), name="binome", clock=ManualClock())
        async with application.router.lifespan_context(application):
            pass

    asyncio.run(start_once())
    return folder


@pytest.fixture
def settings(tmp_path: Path, migrated: Path) -> Settings:
    shutil.copytree(migrated, tmp_path / "data")
    return _settings(tmp_path / "data")


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


@pytest.fixture
def kit_settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path / "data", consumer_retry_backoff_s=0.01)


@pytest.fixture
async def kit(kit_settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """The testkit service alone in an embedded app, and a client of it."""
    application = testkit.app(kit_settings)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://kit") as client:
            yield application, client
