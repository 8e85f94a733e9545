"""Programme review in the embedded mode: the KPIs of the scripted programme of
tests/helpers/review.py (worked out by hand there), and the filters' checks."""

from __future__ import annotations

import pytest

from shared.clock import ManualClock
from tests.helpers import Api
from tests.helpers.review import (
    T0,
    check_cases,
    check_dashboard_page,
    check_exports,
    check_kpis,
    check_outcomes,
    check_trends,
    scripted_programme,
)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


async def test_kpis_of_a_scripted_programme(api: Api, clock: ManualClock) -> None:
    pid = await scripted_programme(api, clock)
    await check_kpis(api, pid)
    await check_trends(api, pid)
    await check_exports(api, pid)
    await check_dashboard_page(api, clock, pid)
    await check_outcomes(api, clock, pid)
    await check_cases(api, clock, pid)


async def test_kpi_filters_are_checked(api: Api) -> None:
    r = await api.c.get(
        "/v1/reports/kpis", headers=api.admin, params={"from": "2030-03-08", "to": "2030-03-01"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "to"]
    r = await api.c.get("/v1/reports/kpis", headers=api.admin, params={"role": "boss"})
    assert r.status_code == 422
    r = await api.c.get("/v1/reports/programs/nope/kpis", headers=api.admin)
    assert r.status_code == 404
    r = await api.c.get(
        "/v1/reports/trends", headers=api.admin, params={"from": "2026-01-01", "to": "2030-01-01"}
    )
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "from"]
    # `from` alone, after today (the fuzzer found it: the period had no week at all).
    r = await api.c.get("/v1/reports/trends", headers=api.admin, params={"from": "2098-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "from"], r.text
    # A day is written as one: `0` is not 1970-01-01 (schemathesis' negative data).
    for bad in ("0", "1700000000", "2030-3-1"):
        r = await api.c.get("/v1/reports/kpis", headers=api.admin, params={"to": bad})
        assert r.status_code == 422 and "YYYY-MM-DD" in r.text, (bad, r.text)
    for path in ("/v1/reports/trends", "/v1/reports/kpis"):  # days a date cannot pass
        for params in ({"to": "9999-12-31"}, {"from": "0001-01-01"}):
            r = await api.c.get(path, headers=api.admin, params=params)
            assert r.status_code == 422, (path, params, r.text)
            assert r.json()["errors"][0]["loc"] == ["query", next(iter(params))]
