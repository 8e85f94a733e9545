"""Relationship health on a moved clock: a pair that stops meeting is nudged, then needs
attention, then is at risk, each with its reason; a session brings it back on track; a no-show
and one side's low ratings show as reasons (ratings to admins only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import ManualClock
from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort, schedule_session

POLICY = {"cadence": "P14D", "nudge_after": 1, "attention_after": 2, "at_risk_after": 3}


async def _health(api: Api, match_id: str, state: str, **headers: Any) -> dict[str, Any] | None:
    r = await api.c.get(f"/v1/relationships/{match_id}/health", headers=headers or api.admin)
    return r.json() if r.status_code == 200 and r.json()["state"] == state else None


async def test_a_pair_that_stops_meeting_is_nudged_then_flagged(
    api: Api, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid = match["id"]
    young = await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    assert (young["score"], young["reasons"], young["nudges"]) == (100, [], 0)

    clock.advance(timedelta(days=15))  # past one cadence, nothing planned: a nudge
    nudged = await eventually(lambda: _health(api, mid, "on_track"), what="nudged, on track")
    assert nudged["nudges"] == 1 and nudged["reasons"][0]["signal"] == "inactivity"
    clock.advance(timedelta(days=14))  # past two cadences
    attention = await eventually(lambda: _health(api, mid, "needs_attention"), what="attention")
    assert attention["score"] == 65
    clock.advance(timedelta(days=14))  # past three: disengaged
    risk = await eventually(lambda: _health(api, mid, "at_risk"), what="at risk")
    assert risk["score"] == 40 and risk["nudges"] == 1  # one nudge per idle spell

    party = api.as_employee(cohort.mentee)
    seen = await api.ok("GET", f"/v1/relationships/{mid}/health", headers=party)
    assert seen["state"] == "at_risk" and seen["score"] is None
    listed = await api.items(
        "/v1/relationships", params={"program_id": cohort.program_id, "state": "at_risk"}
    )
    assert [r["match_id"] for r in listed] == [mid]
    outsider = api.as_employee(cohort.mentors[1])  # not this match's mentor
    if outsider == api.as_employee(match["mentor_employee_id"]):
        outsider = api.as_employee(cohort.mentors[0])
    hidden = await api.c.get(f"/v1/relationships/{mid}/health", headers=outsider)
    assert hidden.status_code == 404

    await schedule_session(api, match, days=50)  # they plan to meet again: back on track
    back = await eventually(lambda: _health(api, mid, "on_track"), what="back on track")
    assert back["score"] == 100


async def test_a_no_show_and_one_sides_low_ratings_are_reasons(
    api: Api, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid, mentee = match["id"], api.as_employee(cohort.mentee)
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    missed = await schedule_session(api, match, days=1)
    clock.advance(timedelta(days=1, minutes=10))
    await api.ok(
        "POST", f"/v1/sessions/{missed['id']}/no-show", headers=mentee, json={"absent": "mentor"}
    )
    flagged = await eventually(lambda: _health(api, mid, "needs_attention"), what="no-show")
    assert [r["signal"] for r in flagged["reasons"]] == ["no_show"]

    mentor = api.as_employee(match["mentor_employee_id"])
    for _ in range(2):  # the mentor rates two held sessions low; the mentee has not rated
        held = await schedule_session(api, match, days=0.5)  # started: the clock is a day on
        await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentor)

        async def rated(session_id: str = held["id"]) -> bool:
            r = await api.c.post(
                "/v1/feedback", headers=mentor, json={"session_id": session_id, "rating": 1}
            )
            return r.status_code == 201

        await eventually(rated, what="feedback hearing of the held session")

    async def low_ratings() -> dict[str, Any] | None:
        found = await _health(api, mid, "needs_attention")
        signals = [r["signal"] for r in found["reasons"]] if found else []
        return found if "low_ratings_mentor" in signals else None

    admin_view = await eventually(low_ratings, what="the mentor's low ratings as a reason")
    assert sum(r["share"] for r in admin_view["reasons"]) == 1.0
    party_view = await api.ok("GET", f"/v1/relationships/{mid}/health", headers=mentee)
    assert "low_ratings_mentor" not in [r["signal"] for r in party_view["reasons"]]
