"""Every service's Alembic history builds exactly the tables its models declare."""

from __future__ import annotations

from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

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


async def test_free_text_reasons_of_old_rows_become_categories_with_notes(tmp_path: Path) -> None:
    """Before reasons were categories, people typed them: the upgrade keeps their words as the
    note beside `other`, and maps the old defaults and the HRIS's `participant_left`."""
    cases = {
        "enrollment": (
            "9a5218c6297f",
            "INSERT INTO participant (id, org, program_id, employee_id, role, skills_offered,"
            " skills_sought, themes, answers, availability, volunteer, languages, capacity,"
            " manager_chain, status, withdrawn_reason, created_at) VALUES"
            " ('p1', 'o', 'g', 'e1', 'mentee', '[]', '[]', '[]', '[]', '[]', 1, '[]', 1, '[]',"
            "  'withdrawn', 'too busy', '2026-01-01'),"
            " ('p2', 'o', 'g', 'e2', 'mentee', '[]', '[]', '[]', '[]', '[]', 1, '[]', 1, '[]',"
            "  'withdrawn', 'participant_left', '2026-01-01')",
            "SELECT id, withdrawn_reason, withdrawn_note FROM participant ORDER BY id",
            [("p1", "other", "too busy"), ("p2", "left_company", None)],
        ),
        "matching": (
            "20ae4c5e45f5",
            'INSERT INTO "match" (id, org, program_id, mentor_participant_id,'
            " mentee_participant_id, mentor_employee_id, mentee_employee_id, score, status,"
            " mentor_accepted, mentee_accepted, end_reason, created_at) VALUES"
            " ('m1', 'o', 'g', 'a', 'b', 'ea', 'eb', 0.5, 'declined', 0, 0, 'no fit', '2026'),"
            " ('m2', 'o', 'g', 'a', 'c', 'ea', 'ec', 0.5, 'ended', 0, 0, 'too busy', '2026'),"
            " ('m3', 'o', 'g', 'a', 'd', 'ea', 'ed', 0.5, 'ended', 0, 0, 'completed', '2026')",
            'SELECT id, end_reason, end_note FROM "match" ORDER BY id',
            [("m1", "other", "no fit"), ("m2", "other", "too busy"), ("m3", "completed", None)],
        ),
    }
    for service, (revision, insert, query, expected) in cases.items():
        definition = load(service)
        engine = db.create_engine(f"sqlite+aiosqlite:///{tmp_path}/{service}.db")
        try:
            previous = _revision_before(definition.migrations_dir, revision)
            await db.upgrade(engine, definition.migrations_dir, previous)
            async with engine.begin() as conn:
                await conn.execute(text(insert))
            await db.upgrade(engine, definition.migrations_dir)
            async with engine.connect() as conn:
                rows = [tuple(r) for r in (await conn.execute(text(query))).all()]
        finally:
            await engine.dispose()
        assert rows == expected, service


def _revision_before(migrations_dir: Path, revision: str) -> str:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(migrations_dir))
    down = ScriptDirectory.from_config(cfg).get_revision(revision).down_revision
    assert isinstance(down, str)
    return down
