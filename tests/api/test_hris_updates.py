"""HRIS updates reach profiles: a new manager (even two levels up) is a reporting line matching
never crosses; directory values follow the directory unless the participant set their own."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, eventually


async def _run(api: Api, program_id: str) -> dict[str, Any]:
    """A draft run (never published, so runs can be repeated); {} until matching knows the
    programme."""
    r = await api.c.post("/v1/matching-runs", json={"program_id": program_id}, headers=api.admin)
    return r.json() if r.status_code == 201 else {}


async def test_a_new_reporting_line_is_respected_by_the_next_run(api: Api) -> None:
    await api.hire(
        {"id": "tess", "name": "Tess", "level": 9, "languages": ["fr"], "department": "it"},
        {"id": "mid", "name": "Mid", "level": 5, "languages": ["fr"], "department": "ops"},
        {"id": "eli", "name": "Eli", "level": 1, "languages": ["fr"], "department": "ops"},
        {"id": "ned", "name": "Ned", "level": 1, "languages": ["fr"]},  # department unknown
        prefix="org1",
    )
    program = await api.program({"name": "Org chart"})
    pid = program["id"]
    await api.enrol(pid, "tess", "mentor", capacity=2, skills_offered=["sql"])
    eli = await api.enrol(pid, "eli", "mentee", skills_sought=["sql"])
    ned = await api.enrol(pid, "ned", "mentee", skills_sought=["sql"], department="data")

    async def both_matched() -> Any:
        run = await _run(api, pid)
        return run if run.get("matched") == 2 else None

    await eventually(both_matched, what="matching knows the cohort")

    # Eli now reports to Mid, and Mid to Tess: Tess is two levels above Eli. Ned moves to
    # finance, but enrolled saying "data" (the directory had none): his own value stays.
    events = [
        {
            "event_id": "org2-mid",
            "type": "updated",
            "employee": {
                "id": "mid",
                "name": "Mid",
                "level": 5,
                "languages": ["fr"],
                "department": "ops",
                "manager_id": "tess",
            },
        },
        {
            "event_id": "org2-eli",
            "type": "updated",
            "employee": {
                "id": "eli",
                "name": "Eli",
                "level": 2,
                "languages": ["fr"],
                "department": "sales",
                "manager_id": "mid",
            },
        },
        {
            "event_id": "org2-ned",
            "type": "updated",
            "employee": {
                "id": "ned",
                "name": "Ned",
                "level": 1,
                "languages": ["fr"],
                "department": "finance",
            },
        },
    ]
    await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": events})
    eli_now = await api.ok("GET", f"/v1/participants/{eli['id']}")
    assert eli_now["manager_chain"] == ["mid", "tess"]
    assert (eli_now["level"], eli_now["department"]) == (2, "sales")  # from the directory
    ned_now = await api.ok("GET", f"/v1/participants/{ned['id']}")
    assert ned_now["department"] == "data"  # his own, not the directory's

    async def eli_left_out() -> Any:
        run = await _run(api, pid)
        return run if run.get("matched") == 1 else None

    run = await eventually(eli_left_out, what="the run respecting the new reporting line")
    assert [p["mentee_employee_id"] for p in await api.pairs(run["id"])] == ["ned"]
    assert run["mentees_considered"] == 2

    # A manager change higher up reaches Eli too: Mid now reports to someone else.
    await api.hire({"id": "other", "name": "Other", "level": 9, "languages": ["fr"]}, prefix="org3")
    move = {
        "event_id": "org3-mid",
        "type": "updated",
        "employee": {
            "id": "mid",
            "name": "Mid",
            "level": 5,
            "languages": ["fr"],
            "department": "ops",
            "manager_id": "other",
        },
    }
    await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [move]})
    eli_now = await api.ok("GET", f"/v1/participants/{eli['id']}")
    assert eli_now["manager_chain"] == ["mid", "other"]
    run = await eventually(both_matched, what="Tess no longer above Eli")
    assert sorted(p["mentee_employee_id"] for p in await api.pairs(run["id"])) == ["eli", "ned"]


async def test_a_match_the_org_chart_puts_in_a_reporting_line_is_replaced(api: Api) -> None:
    await api.hire(
        {"id": "ada", "name": "Ada", "level": 9, "languages": ["fr"]},
        {"id": "bob", "name": "Bob", "level": 8, "languages": ["fr"]},
        {"id": "cyd", "name": "Cyd", "level": 1, "languages": ["fr"]},
        prefix="line1",
    )
    program = await api.program({"name": "Lines", "auto_publish": True})
    pid = program["id"]
    await api.enrol(pid, "ada", "mentor", skills_offered=["sql", "python"])
    await api.enrol(pid, "bob", "mentor", skills_offered=["sql"])
    cyd = await api.enrol(pid, "cyd", "mentee", skills_sought=["sql", "python"])

    async def knows_both_mentors() -> Any:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": cyd["id"]}, headers=api.admin
        )
        return r.status_code == 200 and len(r.json()["suggestions"]) == 2 or None

    # Runs auto-publish: the first must see both mentors.
    await eventually(knows_both_mentors, what="matching knows both mentors")

    async def matched() -> Any:
        run = await _run(api, pid)
        matches = await api.matches(run_id=run["id"]) if run.get("matched") else []
        return matches[0] if matches else None

    first = await eventually(matched, what="Cyd matched")
    assert first["mentor_employee_id"] == "ada"  # both skills

    # Cyd is moved under Ada: she may no longer mentor him.
    move = {
        "event_id": "line2-cyd",
        "type": "updated",
        "employee": {
            "id": "cyd",
            "name": "Cyd",
            "level": 1,
            "languages": ["fr"],
            "manager_id": "ada",
        },
    }
    await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [move]})

    async def replaced() -> Any:
        found = await api.matches(participant_id=cyd["id"])
        return next((m for m in found if m["replaces_match_id"] == first["id"]), None)

    new = await eventually(replaced, what="a replacement outside the reporting line")
    assert new["mentor_employee_id"] == "bob"
    old = await api.ok("GET", f"/v1/matches/{first['id']}")
    assert (old["status"], old["end_reason"]) == ("ended", "incompatible")


async def test_one_batch_hires_a_manager_and_their_reports_and_updates_them(api: Api) -> None:
    """Applied in bulk, a batch still reads its own writes: a report hired with the manager
    hired just before, an update of someone hired earlier in the same batch, a repeated id."""

    def hired(eid: str, **extra: Any) -> dict[str, Any]:
        employee = {"id": eid, "name": eid.title(), "languages": ["fr"], **extra}
        return {"event_id": f"bulk-{eid}", "type": "hired", "employee": employee}

    events = [
        hired("boss", level=9),
        *[hired(f"rep{i}", level=2, manager_id="boss") for i in range(50)],
        {
            "event_id": "bulk-rep0-promoted",
            "type": "updated",
            "employee": {"id": "rep0", "name": "Rep0", "languages": ["fr"], "level": 4},
        },
        hired("boss", level=9),  # the same event id again in the batch
    ]
    result = await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": events})
    statuses = [r["status"] for r in result["results"]]
    assert statuses.count("applied") == 52 and statuses[-1] == "duplicate"
    rep0 = await api.ok("GET", "/v1/employees/rep0")
    rep1 = await api.ok("GET", "/v1/employees/rep1")
    assert rep0["level"] == 4 and rep0["manager_id"] is None
    assert rep1["level"] == 2 and rep1["manager_id"] == "boss"
    program = await api.program({"name": "Bulk"})
    await api.enrol(program["id"], "rep1", "mentee", skills_sought=["sql"])
    again = await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": events})
    assert {r["status"] for r in again["results"]} == {"duplicate"}
