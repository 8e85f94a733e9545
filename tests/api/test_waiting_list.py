"""A mentee left without a mentor waits, visibly, and is proposed one as soon as one has room
(here: a new mentor enrols), instead of silently staying unmatched."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api, eventually
from tests.helpers.scenario import enrolled_cohort, proposed_match


async def test_a_mentee_without_a_mentor_waits_until_one_has_room(api: Api) -> None:
    cohort = await enrolled_cohort(api)  # two mentors, one mentee
    mentee = api.as_employee(cohort.mentee)
    first = await proposed_match(api, cohort)
    await api.ok("POST", f"/v1/matches/{first['id']}/decline", headers=mentee, json={})
    (second,) = await api.matches(program_id=cohort.program_id, status="proposed")
    assert second["replaces_match_id"] == first["id"]
    # Declined again: no mentor left that this mentee has not already declined.
    await api.ok("POST", f"/v1/matches/{second['id']}/decline", headers=mentee, json={})
    assert await api.matches(program_id=cohort.program_id, status="proposed") == []
    (waiting,) = await api.items("/v1/waiting-list", params={"program_id": cohort.program_id})
    assert (waiting["participant_id"], waiting["ended_match_id"]) == (
        cohort.mentee_participant["id"],
        second["id"],
    )
    hidden = await api.c.get("/v1/waiting-list", headers=mentee)
    assert hidden.status_code == 403  # admins only
    # Her suggestions say so: both mentors have room, but she declined each.
    why = await api.ok(
        "GET", "/v1/suggestions", params={"participant_id": cohort.mentee_participant["id"]}
    )
    assert (why["suggestions"], why["none_because"], why["waiting"]) == ([], "none_allowed", True)

    carl = f"carl-{cohort.program_id[:6]}"
    await api.hire({"id": carl, "name": "Carl", "level": 9, "languages": ["fr"]}, prefix="c")
    await api.enrol(cohort.program_id, carl, "mentor", skills_offered=["python"])

    async def proposed() -> dict[str, Any] | None:
        found = await api.matches(program_id=cohort.program_id, status="proposed")
        return found[0] if found else None

    third = await eventually(proposed, what="a proposal once a mentor has room")
    assert third["mentor_employee_id"] == carl
    assert third["replaces_match_id"] == second["id"]
    assert await api.items("/v1/waiting-list", params={"program_id": cohort.program_id}) == []
