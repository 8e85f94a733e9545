"""A cohort enrolled from a CSV file (`POST /v1/participants/import`, admins): each line judged
as `POST /v1/participants` judges it alone, its errors named by line and column; all or
nothing, or line by line; the programme a column or a parameter."""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import Api, eventually

CSV = {"content-type": "text/csv"}
PATH = "/v1/participants/import"


async def _cohort(api: Api) -> str:
    await api.hire(
        *[
            {"id": name, "name": name, "level": level, "languages": ["fr"]}
            for name, level in (("ann", 8), ("bob", 7), ("eve", 2), ("fay", 3), ("gus", 2))
        ]
    )
    objectives = {"skills": [{"name": "python"}, {"name": "sql"}]}
    return str((await api.program({"name": "Cohort", "objectives": objectives}))["id"])


async def _import(
    api: Api, body: str | bytes, who: dict[str, str], **params: Any
) -> httpx.Response:
    return await api.c.post(PATH, params=params, content=body, headers={**who, **CSV})


FILE = (
    "employee_id,role,skills_offered,skills_sought,capacity,volunteer,availability\r\n"
    "ann,mentor,Python;SQL,,3,true,0;1;2\r\n"  # line 2
    "eve,mentee,,python,,false,\r\n"  # line 3
    "ghost,mentee,,python,,,\r\n"  # line 4: not in the directory (404 alone)
    "fay,mentee,,cobol,,,\r\n"  # line 5: outside the programme's vocabulary (422)
    "gus,mentee,,python,,maybe,\r\n"  # line 6: not a boolean (422 as a request)
    "ann,mentor,python,,2,,\r\n"  # line 7: enrolled on line 2 already (409)
    "bob,mentor,python,,x,,\r\n"  # line 8: not a number
)


async def test_line_by_line_enrols_what_passes_and_reports_the_rest(api: Api) -> None:
    pid = await _cohort(api)
    r = await _import(api, FILE, api.admin, mode="per_line", program_id=pid)
    assert r.status_code == 200, r.text
    done = r.json()
    enrolled = {p["employee_id"]: p for p in done["enrolled"]}
    assert sorted(enrolled) == ["ann", "eve"]
    ann, eve = enrolled["ann"], enrolled["eve"]
    assert (ann["role"], ann["skills_offered"], ann["capacity"], ann["availability"]) == (
        "mentor",
        ["python", "sql"],
        3,
        [0, 1, 2],
    )
    assert (eve["skills_sought"], eve["volunteer"], eve["program_id"]) == (["python"], False, pid)
    refused = [(x["line"], x["status"], x["field"]) for x in done["refused"]]
    assert refused == [
        (4, 404, "employee_id"),
        (5, 422, "skills_sought"),
        (6, 422, "volunteer"),
        (7, 409, None),
        (8, 422, "capacity"),
    ], done["refused"]
    listed = await api.items("/v1/participants", params={"program_id": pid})
    assert sorted(p["employee_id"] for p in listed) == ["ann", "eve"]

    async def heard() -> Any:  # the enrolments' events, emitted with the file's transaction
        r = await api.c.get(
            "/v1/suggestions", headers=api.admin, params={"participant_id": eve["id"]}
        )
        return r.status_code == 200 and [s["mentor_employee_id"] for s in r.json()["suggestions"]]

    assert await eventually(heard, what="matching hearing of the file") == ["ann"]


async def test_all_or_nothing_refuses_the_file_naming_each_line(api: Api) -> None:
    pid = await _cohort(api)
    r = await _import(api, FILE, api.admin, program_id=pid)
    assert r.status_code == 422, r.text
    errors = [(e["loc"], e["type"]) for e in r.json()["errors"]]
    assert errors == [
        (["body", "line 4", "employee_id"], "not_found"),
        (["body", "line 5", "skills_sought"], "value_error"),
        (["body", "line 6", "volunteer"], "value_error"),
        (["body", "line 7"], "conflict"),
        (["body", "line 8", "capacity"], "value_error"),
    ], r.json()
    assert await api.items("/v1/participants", params={"program_id": pid}) == []  # none
    # The programme as a column: every line its own.
    with_column = f"program_id,employee_id,role\r\n{pid},bob,mentor\r\n{pid},fay,mentee\r\n"
    done = await api.ok("POST", PATH, content=with_column, headers={**api.admin, **CSV})
    assert [(p["employee_id"], p["program_id"]) for p in done["enrolled"]] == [
        ("bob", pid),
        ("fay", pid),
    ]


async def test_a_file_its_header_or_its_caller_refuses(api: Api) -> None:
    pid = await _cohort(api)
    for body, params, loc in (
        ("employee_id,role,answers\r\nann,mentor,x\r\n", {"program_id": pid},
         ["body", "header", "answers"]),  # a mapping: not a cell (the JSON routes take it)
        ("employee_id,rôle\r\nann,mentor\r\n", {"program_id": pid}, ["body", "header", "rôle"]),
        ("employee_id,role\r\nann,mentor\r\n", {}, ["body", "header", "program_id"]),  # none
        (f"program_id,employee_id,role\r\n{pid},ann,mentor\r\n", {"program_id": pid},
         ["body", "header", "program_id"]),  # both ways
        ("employee_id,role\r\nann\r\n", {"program_id": pid}, ["body", "line 2"]),  # short
    ):  # fmt: skip
        r = await _import(api, body, api.admin, **params)
        assert r.status_code == 422 and r.json()["errors"][0]["loc"] == loc, (body, r.text)
    header = "employee_id,role,answers\r\nann,mentor,x\r\n"  # line by line, still refused:
    r = await _import(api, header, api.admin, mode="per_line", program_id=pid)
    assert r.status_code == 422 and "header" in r.json()["errors"][0]["loc"], r.text
    r = await _import(api, b"employee_id,role\r\n\xff,mentor\r\n", api.admin, program_id=pid)
    assert r.status_code == 422 and "UTF-8" in r.text
    r = await _import(api, "employee_id,role\r\neve,mentee\r\n", api.as_employee("eve"))
    assert r.status_code == 403  # admins only
    assert await api.items("/v1/participants", params={"program_id": pid}) == []


async def test_a_file_has_room_beyond_a_requests_body_limit(api: Api) -> None:
    """1.3 MB (the JSON routes' bodies stop at 1 MB): a file is bounded as an HRIS batch is."""
    pid = await _cohort(api)
    note = "n" * 800
    body = "employee_id,role,override_note\r\n" + "".join(
        f"ghost-{k},mentee,{note}\r\n" for k in range(1_600)
    )
    r = await _import(api, body, api.admin, mode="per_line", program_id=pid)
    assert len(r.request.content) > 1_250_000 and r.status_code == 200, r.text[:300]
    assert {(x["status"], x["field"]) for x in r.json()["refused"]} == {(404, "employee_id")}
    assert len(r.json()["refused"]) == 1_600
