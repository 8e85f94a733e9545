"""A cohort enrolled in one call (`POST /v1/participants/batch`, admins): each line judged as
`POST /v1/participants` judges it alone; all or nothing, or line by line."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, eventually


async def _cohort(api: Api) -> str:
    await api.hire(
        *[
            {"id": name, "name": name, "level": level, "languages": ["fr"]}
            for name, level in (("ann", 8), ("bob", 7), ("eve", 2), ("fay", 3))
        ]
    )
    objectives = {"skills": [{"name": "python"}]}
    return str((await api.program({"name": "Cohort", "objectives": objectives}))["id"])


def _line(pid: str, who: str, role: str, **extra: Any) -> dict[str, Any]:
    return {"program_id": pid, "employee_id": who, "role": role, **extra}


async def test_line_by_line_enrols_what_passes_and_reports_the_rest(api: Api) -> None:
    pid = await _cohort(api)
    lines = [
        _line(pid, "ann", "mentor", skills_offered=["Python"], capacity=2),
        _line(pid, "eve", "mentee", skills_sought=["python"]),
        _line(pid, "ghost", "mentee"),  # not in the directory: 404 alone
        _line(pid, "ann", "mentor"),  # twice in the batch: 409 alone
        _line(pid, "fay", "mentee", skills_sought=["cobol"]),  # outside the vocabulary: 422
    ]
    done = await api.ok(
        "POST", "/v1/participants/batch", json={"participants": lines, "mode": "per_line"}
    )
    assert [(p["employee_id"], p["role"], p["status"]) for p in done["enrolled"]] == [
        ("ann", "mentor", "active"),
        ("eve", "mentee", "active"),
    ]
    refused = [(r["index"], r["status"], r["field"]) for r in done["refused"]]
    assert refused == [(2, 404, "employee_id"), (3, 409, None), (4, 422, "skills_sought")], done
    assert {p["employee_id"] for p in await api.items(f"/v1/participants?program_id={pid}")} == {
        "ann",
        "eve",
    }

    async def heard() -> Any:  # the enrolments' events, emitted with the batch
        r = await api.c.get(
            "/v1/suggestions",
            headers=api.admin,
            params={"participant_id": done["enrolled"][1]["id"]},
        )
        return r.status_code == 200 and [s["mentor_employee_id"] for s in r.json()["suggestions"]]

    assert await eventually(heard, what="matching hearing of the batch") == ["ann"]


async def test_all_or_nothing_refuses_the_batch_naming_each_line(api: Api) -> None:
    pid = await _cohort(api)
    lines = [
        _line(pid, "bob", "mentor", skills_offered=["python"]),
        _line(pid, "ghost", "mentee"),
        _line(pid, "fay", "mentee", skills_sought=["cobol"]),
    ]
    r = await api.c.post("/v1/participants/batch", headers=api.admin, json={"participants": lines})
    assert r.status_code == 422, r.text
    errors = [(e["loc"], e["type"]) for e in r.json()["errors"]]
    assert errors == [
        (["body", "participants", "1", "employee_id"], "not_found"),
        (["body", "participants", "2", "skills_sought"], "value_error"),
    ], r.json()
    assert await api.items(f"/v1/participants?program_id={pid}") == []  # nothing enrolled
    done = await api.ok("POST", "/v1/participants/batch", json={"participants": lines[:1]})
    assert [p["employee_id"] for p in done["enrolled"]] == ["bob"] and done["refused"] == []
    r = await api.c.post(
        "/v1/participants/batch", headers=api.as_employee("eve"), json={"participants": lines}
    )
    assert r.status_code == 403  # admins only
