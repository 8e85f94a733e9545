"""Every service's Alembic history builds exactly the tables its models declare."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from services import SERVICE_NAMES, load
from shared import db


async def assert_migrations_match_models(url: str, service: str) -> None:
    definition = load(service)
    engine = db.create_engine(url)
    try:
        await db.upgrade(engine, definition.migrations_dir)
        await db.upgrade(engine, definition.migrations_dir)  # a second start is a no-op
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda c: compare_metadata(MigrationContext.configure(c), definition.base.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == [], f"{service}: models and migrations differ: {diff}"


@pytest.mark.parametrize("service", SERVICE_NAMES)
async def test_sqlite_migrations_match_models(service: str, tmp_path: Path) -> None:
    await assert_migrations_match_models(f"sqlite+aiosqlite:///{tmp_path}/{service}.db", service)
