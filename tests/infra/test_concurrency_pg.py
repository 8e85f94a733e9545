"""Concurrent requests on PostgreSQL (real parallel transactions, unlike SQLite's serial
ones): state changes of one row or one relationship take turns, so none is lost."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from tests.helpers import Api, eventually
from tests.helpers.scenario import (
    concurrent_edits_on_one_version,
    enrolled_cohort,
    matching_knows_cohort,
    proposed_match,
    schedule_session,
)

pytestmark = pytest.mark.infra


async def test_both_sides_accepting_at_once_activate_the_match(api: Api) -> None:
    for _ in range(3):  # the race is in the timing: give it several chances
        cohort = await enrolled_cohort(api)
        match = await proposed_match(api, cohort)
        answers = await asyncio.gather(
            api.c.post(
                f"/v1/matches/{match['id']}/accept", json={}, headers=api.as_employee(cohort.mentee)
            ),
            api.c.post(
                f"/v1/matches/{match['id']}/accept",
                json={},
                headers=api.as_employee(match["mentor_employee_id"]),
            ),
        )
        assert [r.status_code for r in answers] == [200, 200]
        final = await api.ok("GET", f"/v1/matches/{match['id']}")
        assert final["mentor_accepted"] and final["mentee_accepted"]
        assert final["status"] == "active"


async def test_concurrent_edits_of_one_programme_version_let_exactly_one_through(
    api: Api,
) -> None:
    """Real parallel transactions: the If-Match check and the write are one step (the row
    read for update), so no two edits of the version read both pass."""
    for _ in range(3):  # the race is in the timing: give it several chances
        await concurrent_edits_on_one_version(api, edits=8)


async def test_publishing_two_drafts_at_once_matches_once(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    await matching_knows_cohort(api, cohort)
    drafts = [
        await api.ok(
            "POST", "/v1/matching-runs", expect=201, json={"program_id": cohort.program_id}
        )
        for _ in range(2)
    ]
    answers = await asyncio.gather(
        *(api.c.post(f"/v1/matching-runs/{d['id']}/publish", headers=api.admin) for d in drafts)
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    assert len(await api.matches(program_id=cohort.program_id)) == 1


async def test_two_low_ratings_sent_together_still_raise_the_alarm(api: Api) -> None:
    """Mentee and mentor rate the same session at the same moment, 1 and 2: each request
    alone sees one side's low rating (needs attention), together they make the relationship
    at risk (both sides low), and the programme's policy re-pairs the mentee."""
    policy = {"min_ratings": 1, "on_at_risk": "rematch", "grace": "PT0S"}
    cohort = await enrolled_cohort(api, engagement=policy)
    match = await proposed_match(api, cohort)
    mentor = match["mentor_employee_id"]
    for who in (cohort.mentee, mentor):
        await api.ok(
            "POST", f"/v1/matches/{match['id']}/accept", json={}, headers=api.as_employee(who)
        )
    session = await schedule_session(api, match, days=-1)
    await api.ok(
        "POST",
        f"/v1/sessions/{session['id']}/complete",
        json={},
        headers=api.as_employee(cohort.mentee),
    )
    pending = {cohort.mentee: 1, mentor: 2}

    async def rate_together() -> bool:
        answers = await asyncio.gather(
            *(
                api.c.post(
                    "/v1/feedback",
                    headers=api.as_employee(who),
                    json={"session_id": session["id"], "rating": rating},
                )
                for who, rating in pending.items()
            )
        )
        for who, answer in zip(list(pending), answers, strict=True):
            assert answer.status_code in (201, 404, 409), answer.text  # 4xx: not known yet
            if answer.status_code == 201:
                del pending[who]
        return not pending

    await eventually(rate_together, what="both ratings accepted")

    async def replaced() -> Any:
        found = await api.matches(program_id=cohort.program_id)
        return next((m for m in found if m["replaces_match_id"] == match["id"]), None)

    await eventually(replaced, what="the rematch the two ratings call for")


async def test_fifty_parallel_requests_to_a_mentor_with_two_places_hold_exactly_two(
    api: Api,
) -> None:
    """Self-service requests hold a mentor's places under their row's lock: 50 mentees asking
    the same mentor (2 places) at once get 2 requests held and 48 clear refusals."""
    tag = uuid.uuid4().hex[:6]
    mentor_emp = f"mentor-{tag}"
    mentees = [f"m{k}-{tag}" for k in range(50)]
    await api.hire(
        {"id": mentor_emp, "name": "Popular", "level": 9, "languages": ["fr"]},
        *[{"id": e, "name": e, "level": 1, "languages": ["fr"]} for e in mentees],
        prefix=tag,
    )
    pid = (await api.program({"name": f"Rush {tag}", "requests": {"enabled": True}}))["id"]
    mentor = await api.enrol(pid, mentor_emp, "mentor", skills_offered=["sql"], capacity=2)
    ids = {e: (await api.enrol(pid, e, "mentee", skills_sought=["sql"]))["id"] for e in mentees}

    async def all_known() -> bool:
        r = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
        body = r.json()
        return r.status_code == 201 and (
            body["mentees_considered"],
            body["mentors_considered"],
        ) == (50, 1)

    await eventually(all_known, timeout=60, what="matching hearing of the 51 participants")

    def ask(emp: str) -> Any:
        body = {"mentee_participant_id": ids[emp], "mentor_participant_id": mentor["id"]}
        return api.c.post("/v1/mentor-requests", json=body, headers=api.as_employee(emp))

    answers = await asyncio.gather(*(ask(e) for e in mentees))
    codes = sorted(r.status_code for r in answers)
    assert codes == [201] * 2 + [409] * 48, codes
    assert all("no place left" in r.text for r in answers if r.status_code == 409)
    held = await api.items("/v1/mentor-requests", params={"program_id": pid, "status": "open"})
    assert len(held) == 2 and {r["mentor_participant_id"] for r in held} == {mentor["id"]}
