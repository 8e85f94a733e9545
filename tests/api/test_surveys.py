"""Pulse surveys on the programme's schedule, to both sides, answered through the API or left
to expire; a low pulse and an unanswered survey become reasons in the relationship's health;
a closing survey when the match ends."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

from shared.clock import ManualClock
from shared.contracts import enrollment, matching
from shared.contracts.enrollment import EngagementPolicy
from tests import testkit
from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

POLICY = {
    "cadence": "P90D",  # long: idle time stays out of this test
    "first_pulse": "P30D",
    "pulse_every": "P60D",
    "survey_expires": "P14D",
}
LOW = {"quality": 1, "progress": 2, "rhythm": 1, "recommend": 2, "comment": "we drift"}


async def _surveys(api: Api, headers: dict[str, str], n: int, **params: str) -> list | None:
    found = await api.items("/v1/surveys", headers=headers, params=params)
    return found if len(found) >= n else None


async def _signals(api: Api, match_id: str, *wanted: str) -> dict[str, Any] | None:
    health = await api.ok("GET", f"/v1/relationships/{match_id}/health")
    signals = {r["signal"] for r in health["reasons"]}
    return health if set(wanted) <= signals else None


async def test_pulse_surveys_are_answered_or_expire_and_count_in_health(
    api: Api, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid = match["id"]
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])

    async def followed() -> bool:
        r = await api.c.get(f"/v1/relationships/{mid}/health", headers=api.admin)
        return r.status_code == 200

    await eventually(followed, what="follow-up started")
    assert await api.items("/v1/surveys", headers=mentee) == []

    clock.advance(timedelta(days=31))
    (mine,) = await eventually(lambda: _surveys(api, mentee, 1), what="the mentee's pulse")
    assert (mine["kind"], mine["status"]) == ("pulse", "open")
    both = await api.items("/v1/surveys", params={"match_id": mid})
    assert len(both) == 2  # one to each side (admins see both)
    theirs = next(s for s in both if s["id"] != mine["id"])
    other = await api.c.post(f"/v1/surveys/{theirs['id']}/answers", headers=mentee, json=LOW)
    assert other.status_code == 404  # not the mentee's to answer (nor to see)
    bad = await api.c.post(
        f"/v1/surveys/{mine['id']}/answers", headers=mentee, json={**LOW, "quality": 9}
    )
    assert bad.status_code == 422 and "quality" in bad.text
    answered = await api.ok("POST", f"/v1/surveys/{mine['id']}/answers", headers=mentee, json=LOW)
    assert (answered["status"], answered["quality"]) == ("answered", 1)
    again = await api.c.post(f"/v1/surveys/{mine['id']}/answers", headers=mentee, json=LOW)
    assert again.status_code == 409
    health = await eventually(lambda: _signals(api, mid, "low_pulse"), what="low pulse")
    assert health["state"] == "needs_attention"

    clock.advance(timedelta(days=15))  # the mentor never answered theirs
    await eventually(lambda: _signals(api, mid, "unanswered_survey"), what="non-response")
    late = await api.c.post(f"/v1/surveys/{theirs['id']}/answers", headers=mentor, json=LOW)
    assert late.status_code == 409

    clock.advance(timedelta(days=45))  # 60 days after the first pulse: the next one
    await eventually(lambda: _surveys(api, mentee, 2), what="the second pulse")

    await api.ok("POST", f"/v1/matches/{mid}/end", json={"reason": "completed"})
    found = await eventually(lambda: _surveys(api, mentee, 3), what="the closing survey")
    assert sorted(s["kind"] for s in found) == ["closing", "pulse", "pulse"]


async def test_a_programme_heard_after_its_relationship_sets_its_pulses(
    api: Api, app: Any, clock: ManualClock
) -> None:
    """Events of different services travel apart: feedback may hear a match became active
    before it hears of its programme, and follow it by the default policy (a first pulse in
    30 days). Once the programme arrives, its own policy arms the first pulse (here an hour
    after the activation) and re-judges the relationship."""
    program_id, match_id = f"late-{uuid.uuid4().hex[:8]}", str(uuid.uuid4())
    start = clock.now()
    activated = matching.MatchActivated(
        match_id=match_id, program_id=program_id,
        mentor_participant_id="p-mentor", mentee_participant_id="p-mentee",
        mentor_employee_id="late-mentor", mentee_employee_id="late-mentee",
    )  # fmt: skip
    await app.state.bus.publish([testkit.record_of(activated)])

    async def followed() -> Any:
        r = await api.c.get(f"/v1/relationships/{match_id}/health", headers=api.admin)
        return r.status_code == 200

    await eventually(followed, what="feedback following the relationship")
    policy = EngagementPolicy(first_pulse=timedelta(hours=1))
    created = enrollment.ProgramCreated(program_id=program_id, name="Late", engagement=policy)
    await app.state.bus.publish([testkit.record_of(created)])

    async def pulses() -> Any:
        clock.advance(timedelta(minutes=5))  # time passes until the first pulse is due
        found = await api.items("/v1/surveys", params={"match_id": match_id})
        return [s for s in found if s["kind"] == "pulse"]

    sent = await eventually(pulses, what="the first pulse, by the programme's policy")
    assert clock.now() - start <= timedelta(hours=2)  # not the default's 30 days
    assert {s["respondent_employee_id"] for s in sent} == {"late-mentor", "late-mentee"}
