"""Employees imported from a CSV file (`POST /v1/hris/employees/import`, hris and admins):
validated line by line, each error naming its line and column; all or nothing, or line by
line; importing the same file again changes nothing."""

from __future__ import annotations

import json
from typing import Any

import httpx

from tests.helpers import Api

CSV = {"content-type": "text/csv"}
PATH = "/v1/hris/employees/import"


async def _import(
    api: Api, body: str | bytes, who: dict[str, str], **params: Any
) -> httpx.Response:
    return await api.c.post(PATH, params=params, content=body, headers={**who, **CSV})


FILE = (
    "id,name,level,languages,manager_id,timezone,hired_on\r\n"
    "ann,Ann Martin,8,fr;en,,Europe/Paris,2019-03-01\r\n"  # line 2
    "cyd,Cyd,high,fr,,,\r\n"  # line 3: not a level
    "dan,Dan,3,fr,,Mars/Olympus,\r\n"  # line 4: not a time zone
    '"bob","Bob, Jr.",4,fr,ann,,\r\n'  # line 5: quoted, a comma in the name
)


async def test_line_by_line_imports_what_passes_and_reports_the_rest(api: Api) -> None:
    r = await _import(api, FILE, api.hris, mode="per_line")
    assert r.status_code == 200, r.text
    done = r.json()
    assert [(x["line"], x["employee_id"], x["status"]) for x in done["imported"]] == [
        (2, "ann", "applied"),
        (5, "bob", "applied"),
    ]
    assert [(x["line"], x["field"]) for x in done["refused"]] == [(3, "level"), (4, "timezone")]
    bob = await api.ok("GET", "/v1/employees/bob")
    assert (bob["name"], bob["manager_id"], bob["languages"]) == ("Bob, Jr.", "ann", ["fr"])
    ann = await api.ok("GET", "/v1/employees/ann")
    assert (ann["level"], ann["languages"], ann["hired_on"]) == (8, ["fr", "en"], "2019-03-01")
    again = await _import(api, FILE, api.admin, mode="per_line")
    assert [x["status"] for x in again.json()["imported"]] == ["duplicate", "duplicate"]
    moved = FILE.replace("ann,Ann Martin,8,", "ann,Ann Martin,9,")  # a changed record: updated
    r = await _import(api, moved, api.hris, mode="per_line")
    assert [x["status"] for x in r.json()["imported"]] == ["applied", "duplicate"]
    assert (await api.ok("GET", "/v1/employees/ann"))["level"] == 9


async def test_all_or_nothing_refuses_the_file_naming_each_line(api: Api) -> None:
    r = await _import(api, FILE, api.hris)
    assert r.status_code == 422, r.text
    assert [e["loc"] for e in r.json()["errors"]] == [
        ["body", "line 3", "level"],
        ["body", "line 4", "timezone"],
    ]
    assert await api.items("/v1/employees") == []  # nothing imported
    for bad, loc in (
        ("id,nom\r\nann,Ann\r\n", ["body", "header", "nom"]),  # an unknown column
        ("id,name\r\nann,Ann\r\nann,Ann again\r\n", ["body", "line 3", "id"]),  # twice
        ("id,name\r\nann\r\n", ["body", "line 2"]),  # a cell short
    ):
        r = await _import(api, bad, api.hris)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == loc, (bad, r.text)
    r = await _import(api, b"id,name\r\n\xff\xfe,x\r\n", api.hris)
    assert r.status_code == 422 and "UTF-8" in r.text
    r = await _import(api, FILE, api.as_employee("ann"))
    assert r.status_code == 403


async def test_a_large_file_streams_its_progress_then_its_result(api: Api) -> None:
    """5,000 lines asked with `Accept: application/x-ndjson`: a progress line per 2,000 lines
    applied, then the result; the same file again, plainly: every line a duplicate."""
    rows = "".join(f"p{i:05d},Person {i},{1 + i % 9},fr\r\n" for i in range(5_000))
    body = "id,name,level,languages\r\n" + rows + "bad,,x,fr\r\n"  # line 5,002: refused
    streamed = {**api.hris, **CSV, "accept": "application/x-ndjson"}
    async with api.c.stream(
        "POST", PATH, params={"mode": "per_line"}, content=body, headers=streamed
    ) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/x-ndjson")
        lines = [json.loads(line) async for line in r.aiter_lines() if line]
    assert [line["progress"] for line in lines[:-1]] == [
        {"processed": 2_000, "total": 5_000},
        {"processed": 4_000, "total": 5_000},
        {"processed": 5_000, "total": 5_000},
    ]
    result = lines[-1]["result"]
    assert len(result["imported"]) == 5_000 and {i["status"] for i in result["imported"]} == {
        "applied"
    }
    assert [(x["line"], x["field"]) for x in result["refused"]] == [
        (5_002, "name"),
        (5_002, "level"),
    ]
    assert (await api.ok("GET", "/v1/employees", params={"limit": 1}))["total"] == 5_000

    again = await _import(api, body, api.hris, mode="per_line")
    assert {i["status"] for i in again.json()["imported"]} == {"duplicate"}

    # All or nothing, streamed: the refusal is the only line, nothing imported.
    async with api.c.stream(
        "POST", PATH, content=body.replace("p00001", "q00001"), headers=streamed
    ) as r:
        (only,) = [json.loads(line) async for line in r.aiter_lines() if line]
    assert only["error"]["status"] == 422 and "line 5002" in json.dumps(only["error"])
    assert (await api.ok("GET", "/v1/employees", params={"limit": 1}))["total"] == 5_000
