"""An HRIS `terminated` event for a mentor re-pairs each of their mentees (participant_left)."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort


async def test_terminated_mentor_is_withdrawn_and_mentees_rematched(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    leaver = match["mentor_employee_id"]
    result = await api.ok(
        "POST",
        "/v1/hris/events",
        headers=api.hris,
        json={
            "events": [{"event_id": f"leave-{leaver}", "type": "terminated", "employee_id": leaver}]
        },
    )
    assert result["results"][0]["status"] == "applied"

    employee = await api.ok("GET", f"/v1/employees/{leaver}")
    assert employee["status"] == "terminated"
    withdrawn = await api.items(
        "/v1/participants", params={"program_id": cohort.program_id, "status": "withdrawn"}
    )
    assert [(p["employee_id"], p["withdrawn_reason"]) for p in withdrawn] == [
        (leaver, "left_company")
    ]

    async def replacement() -> dict | None:
        found = await api.matches(participant_id=cohort.mentee_participant["id"])
        return next((m for m in found if m["replaces_match_id"] == match["id"]), None)

    new = await eventually(replacement, what="replacement after the mentor left")
    assert new["mentor_employee_id"] != leaver
    old = await api.ok("GET", f"/v1/matches/{match['id']}")
    assert (old["status"], old["end_reason"]) == ("ended", "participant_left")
    # A re-sent termination changes nothing.
    again = await api.ok(
        "POST",
        "/v1/hris/events",
        headers=api.hris,
        json={
            "events": [{"event_id": f"leave-{leaver}", "type": "terminated", "employee_id": leaver}]
        },
    )
    assert again["results"][0]["status"] == "duplicate"


async def test_a_departing_mentors_mentees_are_repaired_together(api: Api) -> None:
    people = [
        {"id": "boss", "name": "Boss", "level": 9, "languages": ["fr"]},
        {"id": "t-py", "name": "Py", "level": 8, "languages": ["fr"]},
        {"id": "t-sql", "name": "Sql", "level": 8, "languages": ["fr"]},
        {"id": "m-both", "name": "Both", "level": 1, "languages": ["fr"]},
        {"id": "m-py", "name": "PyFan", "level": 1, "languages": ["fr"]},
    ]
    await api.hire(*people, prefix="joint")
    program = await api.program({"name": "Joint", "auto_publish": True})
    pid = program["id"]
    await api.enrol(pid, "boss", "mentor", skills_offered=["python", "sql", "go"], capacity=2)
    both = await api.enrol(pid, "m-both", "mentee", skills_sought=["python", "sql"])
    fan = await api.enrol(pid, "m-py", "mentee", skills_sought=["python"])

    async def matching_knows(mentee: dict, mentors: int) -> bool:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": mentee["id"]}, headers=api.admin
        )
        return r.status_code == 200 and len(r.json()["suggestions"]) == mentors

    # Runs auto-publish here: run once, when matching has heard of all three.
    for mentee in (both, fan):
        await eventually(lambda m=mentee: matching_knows(m, 1), what="matching hearing of all")
    run = await api.ok("POST", "/v1/matching-runs", expect=201, json={"program_id": pid})
    assert run["matched"] == 2 and run["status"] == "published"
    await api.enrol(pid, "t-py", "mentor", skills_offered=["python", "sql"], capacity=1)
    await api.enrol(pid, "t-sql", "mentor", skills_offered=["sql"], capacity=1)

    async def suggestions_see_new_mentors() -> bool:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": fan["id"]}, headers=api.admin
        )
        return r.status_code == 200 and len(r.json()["suggestions"]) == 2

    await eventually(suggestions_see_new_mentors, what="matching hearing of the new mentors")
    await api.ok(
        "POST",
        "/v1/hris/events",
        headers=api.hris,
        json={"events": [{"event_id": "boss-leaves", "type": "terminated", "employee_id": "boss"}]},
    )

    async def replaced() -> Any:
        found = await api.matches(program_id=pid, status="proposed")
        mine = {
            m["mentee_participant_id"]: m["mentor_employee_id"]
            for m in found
            if m["replaces_match_id"]
        }
        return mine if len(mine) == 2 else None

    got = await eventually(replaced, what="both mentees re-paired")
    # Jointly optimal: the python fan gets the python mentor, the other one the SQL mentor
    # (first come, first served could have given the python mentor to the first orphan).
    assert got == {both["id"]: "t-sql", fan["id"]: "t-py"}
