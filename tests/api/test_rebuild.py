"""`binome reporting rebuild` on the embedded mode: reporting's projection made anew from the
local bus's log, by the command ops run, while the server keeps serving the old one until
the switch (the same on PostgreSQL and Kafka: tests/infra/test_rebuild_pg.py)."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from datetime import timedelta
from pathlib import Path

import pytest

from shared.settings import Settings
from tests.api.conftest import _settings
from tests.helpers import Api
from tests.helpers.rebuild import LOSE_ROWS, rebuilt_while_serving, the_tail_applied
from tests.helpers.webhooks import receiver


@pytest.fixture
def settings(tmp_path: Path, migrated: Path) -> Settings:
    """Webhooks to this host allowed: the test's receiver, an attempt that fails on a loaded
    machine retried within seconds."""
    shutil.copytree(migrated, tmp_path / "data")
    retries = [timedelta(seconds=1)] * 8
    return _settings(tmp_path / "data").model_copy(
        update={"webhook_allow_private": True, "webhook_retry_schedule": retries}
    )


async def test_a_rebuild_remakes_the_projection_while_the_old_one_serves(
    api: Api, settings: Settings
) -> None:
    def lose_rows() -> None:
        db = sqlite3.connect(settings.data_dir / "reporting.db", timeout=30)
        try:
            with db:  # one transaction
                for statement in LOSE_ROWS:
                    db.execute(statement)
        finally:
            db.close()

    async def damage() -> None:
        await asyncio.to_thread(lose_rows)

    with receiver() as hook:
        env = {"BINOME_DATA_DIR": str(settings.data_dir)}
        await rebuilt_while_serving(api, env, damage, hook, sources=("archive", "log"))


async def test_events_arriving_before_the_switch_are_its_tail(api: Api, settings: Settings) -> None:
    bus = api.c._transport.app.state.bus  # type: ignore[attr-defined]
    await the_tail_applied(api, settings, bus)
