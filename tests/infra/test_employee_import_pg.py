"""A CSV file of 33,000 employees imported on PostgreSQL: more than a statement takes parameters
(asyncpg's 32,767). The employees already known are looked up with the ids written as one list
(`shared.db.one_of`), where one parameter per id answered 500."""

from __future__ import annotations

import pytest

from tests.helpers import Api

pytestmark = pytest.mark.infra


async def test_a_file_of_more_lines_than_a_statement_takes_parameters(api: Api) -> None:
    rows = "".join(f"p{i:05d},P {i}\r\n" for i in range(33_000))
    r = await api.c.post(
        "/v1/hris/employees/import",
        params={"mode": "per_line"},
        content="id,name\r\n" + rows,
        headers={**api.hris, "content-type": "text/csv"},
    )
    assert r.status_code == 200, r.text[:300]
    assert len(r.json()["imported"]) == 33_000
    assert (await api.ok("GET", "/v1/employees", params={"limit": 1}))["total"] == 33_000
