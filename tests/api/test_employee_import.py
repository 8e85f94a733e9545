"""Employees imported from a CSV file (`POST /v1/hris/employees/import`, hris and admins):
validated line by line, each error naming its line and column; all or nothing, or line by
line; importing the same file again changes nothing."""

from __future__ import annotations

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
