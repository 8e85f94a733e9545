"""SCIM on PostgreSQL: filters become SQL there too (lower(), LIKE with its escapes, the
timestamps), so scim2-tester's suite and an identity provider's session run against
`binome serve` on PostgreSQL and Kafka as they do on SQLite."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from services import SERVICE_NAMES
from tests.api.test_scim import test_bad_requests_are_answered_per_rfc_7644 as bad_requests
from tests.api.test_scim import test_filters_and_pages as filters_and_pages
from tests.helpers import Api
from tests.helpers.fuzz import kafka_pg_env, serving
from tests.helpers.scim import client_session, compliance_failures

pytestmark = pytest.mark.infra


async def test_scim_is_compliant_on_postgresql(
    kafka_bootstrap: str,
    pg_databases,  # type: ignore[no-untyped-def]
    tmp_path: Path,
) -> None:
    databases = await pg_databases(list(SERVICE_NAMES))
    env = kafka_pg_env(kafka_bootstrap, databases, tmp_path / "data")
    with serving(env) as url:
        ran, failed = await asyncio.to_thread(compliance_failures, url, "scim-pg")
        seen = await asyncio.to_thread(client_session, url, "scim-pg-client")
    assert ran >= 100 and failed == [], "\n".join(failed)
    assert seen["found"] == [seen["created"].id] and seen["deactivated"].active is False
    assert (seen["bad_filter"].status, seen["bad_filter"].scim_type) == (400, "invalidFilter")


async def test_filters_and_pages_on_postgresql(api: Api) -> None:
    """The filters turned into SQL (case folding, LIKE's escapes, dates, `not`) and the
    per-user evaluation answer on PostgreSQL as on SQLite (the same test)."""
    await filters_and_pages(api)


async def test_bad_requests_on_postgresql(api: Api) -> None:
    await bad_requests(api)


async def test_two_identity_providers_racing_for_one_user_name(api: Api) -> None:
    """Both check the userName free, both insert: PostgreSQL's unique index decides, the loser
    gets SCIM's 409 `uniqueness`, never a 500 or a second user."""
    made = await api.ok("POST", "/v1/scim-credentials", json={}, expect=201)
    headers = {"Authorization": f"Bearer {made['token']}"}
    schema = "urn:ietf:params:scim:schemas:core:2.0:User"
    for i in range(5):
        body = {"schemas": [schema], "userName": f"race{i}@acme.com"}
        answers = await asyncio.gather(
            *(api.c.post("/scim/v2/Users", json=body, headers=headers) for _ in range(2))
        )
        codes = sorted(r.status_code for r in answers)
        assert codes == [201, 409], [r.text for r in answers]
        loser = next(r for r in answers if r.status_code == 409).json()
        assert loser["scimType"] == "uniqueness"
        found = await api.c.get(
            "/scim/v2/Users", params={"filter": f'userName eq "race{i}@acme.com"'}, headers=headers
        )
        assert found.json()["totalResults"] == 1
