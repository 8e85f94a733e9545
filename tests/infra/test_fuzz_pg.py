"""Schemathesis against `binome serve` on PostgreSQL and Kafka, seeded with real objects
(tests/helpers/fuzz.py `seed`, through the broker): what SQLite lets through and PostgreSQL
refuses (lengths, NUL, types, ranges) still answers as documented, never a 5xx."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services import SERVICE_NAMES
from shared.auth import Role, mint_token
from shared.settings import Settings
from tests.helpers.fuzz import kafka_pg_env, schemathesis, seed, serving

pytestmark = pytest.mark.infra


async def test_every_schemathesis_check_passes_on_postgresql(
    kafka_bootstrap: str,
    pg_databases,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    databases = await pg_databases(list(SERVICE_NAMES))
    env = kafka_pg_env(kafka_bootstrap, databases, tmp_path / "data")
    admin = mint_token(Settings(), org="fuzz", role=Role.admin)
    with serving(env) as url:
        seeded = await seed(url, Settings(), org="fuzz")
        tested, generated = await asyncio.to_thread(
            schemathesis, url, admin, tmp_path, phases="examples,fuzzing,stateful", max_examples=5,
            seeded=seeded,
        )  # fmt: skip
    assert tested >= 80 and generated > 4 * tested, (tested, generated)
