"""Walking a list page by page (the envelope and its cursor), on any database."""

from __future__ import annotations

import base64
from typing import Any

from tests.helpers import Api


async def _page(api: Api, path: str, **params: Any) -> dict[str, Any]:
    return await api.ok("GET", path, params=params)


async def lists_page_by_cursor(api: Api) -> None:
    """Programmes (keyed by creation time and id) and employees (by id), a few a page."""
    for i in range(5):
        await api.program({"name": f"P{i}"}, status=None)
    first = await _page(api, "/v1/programs", limit=2)
    assert [p["name"] for p in first["items"]] == ["P0", "P1"], first
    assert first["total"] == 5 and first["next_cursor"], first

    # Created while the client walks: it comes last, and nothing is read twice or skipped.
    await api.program({"name": "P5"}, status=None)
    names, cursor, totals = [], first["next_cursor"], []
    while cursor:
        page = await _page(api, "/v1/programs", limit=2, cursor=cursor)
        names += [p["name"] for p in page["items"]]
        totals.append(page["total"])
        cursor = page["next_cursor"]
    assert names == ["P2", "P3", "P4", "P5"], names
    assert totals == [6, 6], totals

    # The total counts the filtered list; a list that fits in a page has no cursor.
    await api.program({"name": "Open"}, status="enrolling")
    enrolling = await _page(api, "/v1/programs", status="enrolling", limit=10)
    assert (enrolling["total"], enrolling["next_cursor"]) == (1, None), enrolling
    assert [p["name"] for p in enrolling["items"]] == ["Open"], enrolling

    people = [{"id": f"e{i:02}", "name": f"E {i}"} for i in range(7)]
    await api.hire(*people)
    walked = await api.items("/v1/employees", params={"limit": 3})
    assert [e["id"] for e in walked] == [p["id"] for p in people], walked

    # A cursor this list did not give: no such page, a 404 naming the cursor, never a 500.
    employees_cursor = (await _page(api, "/v1/employees", limit=1))["next_cursor"]
    for bad in ("garbage!", "bm90IGpzb24", "WzEsMl0", employees_cursor):
        r = await api.c.get("/v1/programs", headers=api.admin, params={"cursor": bad})
        assert r.status_code == 404, (bad, r.status_code, r.text)
        problem = r.json()
        assert problem["errors"][0]["loc"] == ["query", "cursor"], problem
    # The shape of the employees' cursor, holding a NUL (PostgreSQL would refuse it: a 500).
    nul = base64.urlsafe_b64encode(b'["\\u0000"]').decode()
    r = await api.c.get("/v1/employees", headers=api.admin, params={"cursor": nul})
    assert r.status_code == 404 and r.json()["errors"][0]["loc"] == ["query", "cursor"], r.text
    for limit in (0, 501):
        r = await api.c.get("/v1/programs", headers=api.admin, params={"limit": limit})
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "limit"], r.text
