"""An HRIS `terminated` event for a mentor re-pairs each of their mentees (participant_left)."""

from __future__ import annotations

from tests.helpers import Api, eventually
from tests.scenario import active_match, enrolled_cohort


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
    withdrawn = await api.ok(
        "GET", "/v1/participants", params={"program_id": cohort.program_id, "status": "withdrawn"}
    )
    assert [(p["employee_id"], p["withdrawn_reason"]) for p in withdrawn] == [
        (leaver, "participant_left")
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
