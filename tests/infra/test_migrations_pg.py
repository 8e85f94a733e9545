"""The same check on PostgreSQL, where types and indexes are stricter."""

from __future__ import annotations

import pytest

from services import SERVICE_NAMES
from tests.api.test_migrations import assert_migrations_match_models

pytestmark = pytest.mark.infra


async def test_postgres_migrations_match_models(pg_databases) -> None:  # type: ignore[no-untyped-def]
    template = await pg_databases(list(SERVICE_NAMES))
    for service in SERVICE_NAMES:
        await assert_migrations_match_models(template.format(service=service), service)


async def test_upserts_on_postgresql(pg_databases) -> None:  # type: ignore[no-untyped-def]
    from shared import db
    from tests.api.test_uow_upsert import upserts_behave

    url = await pg_databases(["reporting"])
    await upserts_behave(db.create_engine(url.format(service="reporting")))
