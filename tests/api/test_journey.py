"""The relationship's journey through HTTP: the pair's mentorship agreement (goals with the
programme's skills and milestones, both confirm, changes versioned), goal progress and
milestones (overdue on a durable timer), and skill assessments from which progress derives."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from sqlalchemy import select

from shared.clock import ManualClock
from tests.helpers import Api, eventually
from tests.helpers.journey import check, run_journey
from tests.helpers.scenario import active_match, enrolled_cohort

OBJECTIVES = {
    "business_goal": "Juniors ship data features on their own",
    "skills": [{"name": n} for n in ("python", "leadership", "negotiation", "sql")],
}


async def _events(app: Any, type_: str) -> list[dict[str, Any]]:
    """The sessions service's events of this type, from its outbox."""
    runtime = app.state.runtimes["sessions"]
    async with runtime.engine.connect() as conn:
        rows = (
            await conn.execute(select(runtime.outbox.c.headers, runtime.outbox.c.payload))
        ).all()
    found = []
    for headers, payload in rows:
        headers = json.loads(headers) if isinstance(headers, str) else headers
        if any(v == type_ for _, v in headers):
            found.append(json.loads(payload))
    return found


async def test_agreement_milestones_and_skill_progress(
    api: Api, app: Any, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, objectives=OBJECTIVES)
    match = await active_match(api, cohort)
    mid = match["id"]
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])
    outsider = api.as_employee(next(m for m in cohort.mentors if m != match["mentor_employee_id"]))
    today = clock.now().date()
    terms = {
        "goals": [
            {
                "id": "sql-basics",
                "title": "Write my own queries",
                "skills": ["SQL", "python"],
                "milestones": [
                    {
                        "id": "first-query",
                        "title": "A first report",
                        "due_on": str(today + timedelta(days=3)),
                    },
                    {"id": "joins", "title": "Joins", "due_on": str(today + timedelta(days=5))},
                ],
            }
        ],
        "rhythm": "P14D",
    }

    # Before any agreement, nothing is assessed (once sessions knows the match is active).
    async def refused() -> Any:
        r = await api.c.post(
            "/v1/assessments",
            headers=mentee,
            json={"match_id": mid, "phase": "baseline", "ratings": {"sql": 1}},
        )
        return r if r.status_code == 409 else None

    early = await eventually(refused, what="sessions hearing of the active match")
    assert "signed agreement" in early.text
    # The programme's vocabulary; unique goal ids; the pair only.
    bad = {"goals": [{**terms["goals"][0], "skills": ["cooking"]}]}
    r = await api.c.put(f"/v1/agreements/{mid}", headers=mentee, json=bad)
    assert r.status_code == 422 and "cooking" in r.text
    assert r.json()["errors"][0]["loc"] == ["body", "goals", "0", "skills"]
    twice = {"goals": [terms["goals"][0], terms["goals"][0]]}
    r = await api.c.put(f"/v1/agreements/{mid}", headers=mentee, json=twice)
    assert r.status_code == 422 and "unique" in r.text
    assert (
        await api.c.put(f"/v1/agreements/{mid}", headers=outsider, json=terms)
    ).status_code == 404
    assert (
        await api.c.put(f"/v1/agreements/{mid}", headers=api.admin, json=terms)
    ).status_code == 403
    r = await api.c.put(f"/v1/agreements/{mid}", headers=mentee, json={**terms, "rhythm": "-P1D"})
    assert r.status_code == 422 and "rhythm" in r.text
    assert (await api.c.get(f"/v1/agreements/{mid}", headers=mentee)).status_code == 404  # none

    draft = await api.ok("PUT", f"/v1/agreements/{mid}", headers=mentee, json=terms)
    assert (draft["version"], draft["signed_at"], draft["rhythm"]) == (1, None, "P14D")
    assert draft["goals"][0]["skills"] == ["sql", "python"]
    one = await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=mentee)
    assert (one["mentee_confirmed"], one["mentor_confirmed"], one["signed_at"]) == (
        True,
        False,
        None,
    )
    signed = await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=mentor)
    assert signed["signed_at"] and signed["version"] == 1
    (event,) = await _events(app, "binome.sessions.agreement.signed.v1")
    assert event["skills"] == ["sql", "python"] and event["rhythm"] == "P14D"

    # Baseline assessments: the mentee's own and the mentor's view, of the agreement's skills.
    def assess(who: dict[str, str], phase: str, ratings: dict[str, int]) -> Any:
        body = {"match_id": mid, "phase": phase, "ratings": ratings}
        return api.c.post("/v1/assessments", headers=who, json=body)

    assert (await assess(mentee, "baseline", {"sql": 1, "python": 2})).status_code == 201
    assert (await assess(mentor, "baseline", {"sql": 2})).status_code == 201
    r = await assess(mentee, "baseline", {"sql": 2})
    assert r.status_code == 409  # once per phase and side
    r = await assess(mentee, "final", {"leadership": 3})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == [
        "body",
        "ratings",
        "leadership",
    ]
    r = await assess(mentee, "final", {"sql": 6})
    assert r.status_code == 422
    r = await assess(outsider, "final", {"sql": 3})
    assert r.status_code == 404

    # Progress on the goal; a milestone reached; the other one overdue on its timer.
    moved = await api.ok(
        "POST", f"/v1/agreements/{mid}/goals/sql-basics/progress", headers=mentee,
        json={"progress": 40, "note": "first report done"},
    )  # fmt: skip
    assert moved["goals"][0]["progress"] == 40
    r = await api.c.post(
        f"/v1/agreements/{mid}/goals/nope/progress", headers=mentee, json={"progress": 10}
    )
    assert r.status_code == 422 and "goal_id" in r.text
    reached = await api.ok(
        "POST",
        f"/v1/agreements/{mid}/goals/sql-basics/milestones/first-query/reach",
        json={},
        headers=mentor,
    )
    assert reached["goals"][0]["milestones"][0]["reached_on"] == str(today)
    again = await api.c.post(
        f"/v1/agreements/{mid}/goals/sql-basics/milestones/first-query/reach",
        json={},
        headers=mentor,
    )
    assert again.status_code == 409
    clock.advance(timedelta(days=6))

    async def overdue() -> list[dict[str, Any]]:
        return await _events(app, "binome.sessions.milestone.overdue.v1")

    (late,) = await eventually(overdue, what="the unreached milestone overdue")
    assert late["milestone_id"] == "joins"
    assert [
        e["milestone_id"] for e in await _events(app, "binome.sessions.milestone.reached.v1")
    ] == ["first-query"]

    # A change after signing is a new version both confirm again; progress carries over.
    changed = {**terms, "rhythm": "P7D"}
    v2 = await api.ok("PUT", f"/v1/agreements/{mid}", headers=mentor, json=changed)
    assert (v2["version"], v2["signed_at"], v2["mentee_confirmed"]) == (2, None, False)
    assert v2["goals"][0]["progress"] == 40 and v2["history"][0]["version"] == 1
    same = await api.ok("PUT", f"/v1/agreements/{mid}", headers=mentor, json=changed)
    assert same["version"] == 2  # unchanged terms: no new version

    # The final assessment: progress per skill and the relationship's mean.
    assert (await assess(mentee, "final", {"sql": 4, "python": 3})).status_code == 201
    assert (await assess(mentor, "final", {"sql": 4})).status_code == 201
    progress = await api.ok("GET", f"/v1/skill-progress/{mid}", headers=mentor)
    assert progress["skills"]["sql"]["mentee"] == {"baseline": 1, "final": 4, "progress": 3}
    assert progress["skills"]["sql"]["mentor"]["progress"] == 2
    assert progress["mean_progress"] == 2.0  # (3 + 1) / 2, the mentee's own
    listed = await api.items("/v1/assessments", params={"match_id": mid}, headers=api.admin)
    assert len(listed) == 4
    r = await api.c.get(f"/v1/skill-progress/{mid}", headers=outsider)
    assert r.status_code == 404


async def test_relationships_close_naturally(api: Api, clock: ManualClock) -> None:
    """At the programme's planned end (its relationship duration) an active relationship
    ends `completed`; both sides may complete it earlier. The closing survey follows."""
    cohort = await enrolled_cohort(api, relationship_duration="P90D")
    match = await active_match(api, cohort)
    mid = match["id"]
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])

    half = await api.ok("POST", f"/v1/matches/{mid}/complete", headers=mentee)
    assert (half["status"], half["mentee_completed"], half["mentor_completed"]) == (
        "active",
        True,
        False,
    )
    assert (await api.c.post(f"/v1/matches/{mid}/complete", headers=api.admin)).status_code == 403
    clock.advance(timedelta(days=90, minutes=1))

    async def ended() -> Any:
        m = await api.ok("GET", f"/v1/matches/{mid}")
        return m if m["status"] == "ended" else None

    done = await eventually(ended, what="the relationship's planned end")
    assert done["end_reason"] == "completed"
    again = await api.c.post(f"/v1/matches/{mid}/complete", headers=mentor)
    assert again.status_code == 409

    async def closing() -> Any:
        found = await api.items("/v1/surveys", params={"match_id": mid}, headers=mentee)
        return [s for s in found if s["kind"] == "closing"]

    assert await eventually(closing, what="the closing survey")

    # Completed early by both sides: `completed` too, by the parties.
    other = await enrolled_cohort(api)
    second = await active_match(api, other)
    for who in (second["mentor_employee_id"], second["mentee_employee_id"]):
        last = await api.ok(
            "POST", f"/v1/matches/{second['id']}/complete", headers=api.as_employee(who)
        )
    assert (last["status"], last["end_reason"]) == ("ended", "completed")


async def test_the_whole_journey_and_reporting_agree(api: Api) -> None:
    check(await run_journey(api))


async def test_the_agreed_rhythm_is_the_cadence_of_follow_up(api: Api, clock: ManualClock) -> None:
    """The programme expects a session every 14 days; this pair agreed on every 2 days: after
    three days without one they are nudged (the programme's cadence alone would wait 14)."""
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    mid = match["id"]
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])
    terms = {"goals": [{"id": "start", "title": "Get going"}], "rhythm": "P2D"}

    async def written() -> Any:
        r = await api.c.put(f"/v1/agreements/{mid}", headers=mentee, json=terms)
        return r.status_code == 200

    await eventually(written, what="sessions hearing of the active match")
    await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=mentee)
    await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=mentor)

    async def health() -> Any:
        return await api.ok("GET", f"/v1/relationships/{mid}/health")

    async def rhythm_heard() -> Any:
        r = await api.c.get(f"/v1/relationships/{mid}/health", headers=api.admin)
        return r.status_code == 200 and r.json()["agreed_cadence"] == "P2D"

    # Feedback judges (and re-arms the inactivity deadline) on the pair's rhythm.
    await eventually(rhythm_heard, what="follow-up hearing of the agreed rhythm")
    clock.advance(timedelta(days=3))

    async def nudged() -> Any:
        h = await health()
        return h if h["nudges"] >= 1 else None

    seen = await eventually(nudged, what="a nudge after the agreed rhythm passed")
    assert seen["state"] in ("on_track", "needs_attention")
