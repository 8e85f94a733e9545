"""A relationship's journey as one scenario, run embedded and on the distributed set: the pair
writes and signs its agreement, assesses its skills (baseline), holds two sessions (60 and 90
minutes), completes the relationship (both sides), makes the final assessment; sessions' own
figures and reporting's must then agree (2.5 hours; SQL +3, Python +1, mean +2)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

OBJECTIVES = {"skills": [{"name": n} for n in ("python", "leadership", "negotiation", "sql")]}
TERMS = {
    "goals": [{"id": "data", "title": "Query our data myself", "skills": ["sql", "python"]}],
    "rhythm": "P14D",
}


@dataclass
class JourneyResult:
    match: dict[str, Any]
    own_progress: dict[str, Any]  # sessions' view (the pair's)
    own_hours: dict[str, Any]
    relationship_report: dict[str, Any]  # reporting's view
    program_report: dict[str, Any]


async def run_journey(api: Api, *, timeout: float = 30) -> JourneyResult:
    cohort = await enrolled_cohort(api, objectives=OBJECTIVES)
    match = await active_match(api, cohort, timeout=timeout)
    mid = match["id"]
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])

    async def written() -> Any:
        r = await api.c.put(f"/v1/agreements/{mid}", headers=mentee, json=TERMS)
        return r.json() if r.status_code == 200 else None  # 404 until sessions knows

    await eventually(written, timeout=timeout, what="sessions hearing of the active match")
    await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=mentee)
    signed = await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=mentor)
    assert signed["signed_at"]

    async def assess(who: dict[str, str], phase: str, ratings: dict[str, int]) -> None:
        body = {"match_id": mid, "phase": phase, "ratings": ratings}
        await api.ok("POST", "/v1/assessments", headers=who, json=body, expect=201)

    await assess(mentee, "baseline", {"sql": 1, "python": 2})
    await assess(mentor, "baseline", {"sql": 2})
    for days, minutes in ((-2, 60), (-1, 90)):
        at = (datetime.now(UTC) + timedelta(days=days)).isoformat()
        body = {"match_id": mid, "scheduled_at": at, "duration_minutes": minutes}
        held = await api.ok("POST", "/v1/sessions", headers=mentee, json=body, expect=201)
        await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentor)
    for who in (mentee, mentor):
        done = await api.ok("POST", f"/v1/matches/{mid}/complete", headers=who)
    assert (done["status"], done["end_reason"]) == ("ended", "completed")
    await assess(mentee, "final", {"sql": 4, "python": 3})
    await assess(mentor, "final", {"sql": 4})

    own_progress = await api.ok("GET", f"/v1/skill-progress/{mid}", headers=mentee)
    own_hours = await api.ok("GET", "/v1/mentoring-hours", params={"match_id": mid}, headers=mentee)

    async def reported() -> Any:
        r = await api.c.get(f"/v1/reports/relationships/{mid}", headers=api.admin)
        body = r.json() if r.status_code == 200 else {}
        complete = body.get("sessions_completed") == 2 and body.get("mean_progress") is not None
        final = body.get("skills", {}).get("sql", {}).get("mentor", {}).get("final")
        return body if complete and final else None

    relationship = await eventually(reported, timeout=timeout, what="reporting's view")

    async def program_heard() -> Any:  # the match's end comes on its own topic: wait for it
        report = await api.ok("GET", f"/v1/reports/programs/{cohort.program_id}")
        return report if report["matches_ended_by_reason"] else None

    program = await eventually(program_heard, timeout=timeout, what="reporting hearing the end")
    return JourneyResult(match, own_progress, own_hours, relationship, program)


def check(result: JourneyResult) -> None:
    """Both views agree, and say what the pair did."""
    own, theirs = result.own_progress, result.relationship_report
    assert own["skills"] == theirs["skills"]
    assert own["mean_progress"] == theirs["mean_progress"] == 2.0
    assert theirs["mentoring_hours"] == 2.5
    assert own["skills"]["sql"]["mentee"] == {"baseline": 1, "final": 4, "progress": 3}
    assert result.own_hours["hours"] == theirs["mentoring_hours"]
    assert result.own_hours["sessions"] == theirs["sessions_completed"] == 2
    program = result.program_report
    assert program["matches_ended_by_reason"] == {"completed": 1}
    # One relationship: below the privacy threshold, its skills are not broken down.
    assert program["skill_progress"] == {} and program["skills_suppressed"] == 2
