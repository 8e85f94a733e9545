"""The whole follow-up as one scenario, with second-scale durations, run against the embedded
app (on a moved clock) and the distributed set (on real time).

Pair A never meets: nudged, then needs attention, then at risk; a case opens recommending a
new mentor; an admin re-pairs and the replacement is proposed. Pair B meets once, then the
mentor misses a session and leaves a pulse survey unanswered: both show as reasons; the pair
drifts to at risk; the case recommends mediation, the admin plans it with the programme
manager, the meeting is held and the health recovers, which closes the case.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

# A cadence of 3 s: nudged after 3 s without a session, needs attention after 6, at risk
# after 9. Pair B's programme sends a pulse 1 s after activation that expires after 2 s.
CADENCE = {"cadence": "PT3S", "nudge_after": 1, "attention_after": 2, "at_risk_after": 3}
PULSED = CADENCE | {"first_pulse": "PT1S", "pulse_every": "P30D", "survey_expires": "PT2S"}


@dataclass
class FollowUpResult:
    repaired_case: dict[str, Any]
    replacement: dict[str, Any]
    mediated_case: dict[str, Any]
    reasons_seen: set[str]


Now = Callable[[], datetime]
Wait = Callable[[float], Awaitable[None]]  # let this many seconds pass (or move the clock)


async def _health(api: Api, match_id: str) -> dict[str, Any] | None:
    """The relationship's health, once feedback has heard the match is active."""
    r = await api.c.get(f"/v1/relationships/{match_id}/health", headers=api.admin)
    assert r.status_code in (200, 404), r.text
    return r.json() if r.status_code == 200 else None


async def _until_health(
    api: Api, match_id: str, wait: Wait, timeout: float, what: str, test: Callable[[dict], bool]
) -> dict[str, Any]:
    """Let time pass in small steps until the relationship's health passes `test`."""

    async def check() -> dict[str, Any] | None:
        health = await _health(api, match_id)
        if health is not None and test(health):
            return health
        await wait(0.25)
        return None

    return await eventually(check, timeout=timeout, interval=0.05, what=what)


async def _case(api: Api, match_id: str, timeout: float, **expect: Any) -> dict[str, Any]:
    async def found() -> dict[str, Any] | None:
        cases = await api.items("/v1/cases", params={"match_id": match_id})
        if cases and all(cases[-1][k] == v for k, v in expect.items()):
            return cases[-1]
        return None

    return await eventually(found, timeout=timeout, what=f"a case with {expect}")


async def _plan(api: Api, match: dict[str, Any], at: datetime, timeout: float) -> Any:
    async def attempt() -> Any:
        r = await api.c.post(
            "/v1/sessions",
            headers=api.as_employee(match["mentee_employee_id"]),
            json={"match_id": match["id"], "scheduled_at": at.isoformat()},
        )
        return r.json() if r.status_code == 201 else None

    return await eventually(attempt, timeout=timeout, what="a session planned")


async def run_follow_up(api: Api, *, now: Now, wait: Wait, timeout: float = 30) -> FollowUpResult:
    cohort_a = await enrolled_cohort(api, engagement=CADENCE)
    cohort_b = await enrolled_cohort(api, engagement=PULSED)
    pair_a = await active_match(api, cohort_a, timeout=timeout)
    pair_b = await active_match(api, cohort_b, timeout=timeout)
    a, b = pair_a["id"], pair_b["id"]
    mentee_b = api.as_employee(cohort_b.mentee)
    seen: set[str] = set()

    # Pair B meets once; the mentor misses the next meeting and leaves the pulse unanswered
    # (the mentee answers theirs).
    held = await _plan(api, pair_b, now() - timedelta(minutes=5), timeout)
    await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentee_b)
    missed_at = now() + timedelta(seconds=1)
    missed = await _plan(api, pair_b, missed_at, timeout)

    async def counted() -> Any:  # the events travel: no time passes meanwhile
        health = await _health(api, b)
        return health is not None and health["held"] == 1

    await eventually(counted, timeout=timeout, what="the session held")
    # The first pulse is due a second after activation; it expires two seconds after: time
    # moves once past it, then stands still until the mentee answers (however long the
    # machine takes to deliver it).
    await wait(1.5)

    async def mentee_pulse() -> Any:
        surveys = await api.items("/v1/surveys", headers=mentee_b, params={"match_id": b})
        return next((s for s in surveys if s["kind"] == "pulse"), None)

    pulse = await eventually(mentee_pulse, timeout=timeout, what="pair B's pulse survey")
    answers = {"quality": 4, "progress": 4, "rhythm": 3, "recommend": 4}
    await api.ok("POST", f"/v1/surveys/{pulse['id']}/answers", headers=mentee_b, json=answers)
    while now() < missed_at:
        await wait(0.25)
    r = await api.c.post(
        f"/v1/sessions/{missed['id']}/no-show", headers=mentee_b, json={"absent": "mentor"}
    )
    assert r.status_code == 200, r.text

    # Pair A drifts: nudged, then needs attention, then at risk.
    nudged = await _until_health(api, a, wait, timeout, "pair A nudged", lambda h: h["nudges"] >= 1)
    assert nudged["reasons"][0]["signal"] == "inactivity"
    await _until_health(
        api,
        a,
        wait,
        timeout,
        "pair A needs attention",
        lambda h: h["state"] == "needs_attention",
    )
    risk = await _until_health(
        api, a, wait, timeout, "pair A at risk", lambda h: h["state"] == "at_risk"
    )
    assert [r["signal"] for r in risk["reasons"]] == ["inactivity"]
    case_a = await _case(api, a, timeout, status="open")
    assert (case_a["recommendation"], case_a["cause"]) == ("repair", "at_risk")
    closed_a = await api.ok("POST", f"/v1/cases/{case_a['id']}/actions", json={"action": "repair"})
    assert closed_a["outcome"] == "repaired"

    async def replacement() -> Any:
        found = await api.matches(participant_id=cohort_a.mentee_participant["id"])
        return next((m for m in found if m["replaces_match_id"] == a), None)

    new = await eventually(replacement, timeout=timeout, what="pair A's replacement proposed")
    assert new["mentor_employee_id"] != pair_a["mentor_employee_id"]

    def signals(h: dict) -> set[str]:
        return {r["signal"] for r in h["reasons"]}

    flagged = await _until_health(
        api,
        b,
        wait,
        timeout,
        "pair B's no-show and unanswered pulse",
        lambda h: {"no_show", "unanswered_survey"} <= signals(h),
    )
    seen |= signals(flagged)
    await _until_health(api, b, wait, timeout, "pair B at risk", lambda h: h["state"] == "at_risk")
    case_b = await _case(api, b, timeout, status="open")
    assert case_b["recommendation"] == "mediation"
    assert {"no_show", "unanswered_survey", "inactivity"} <= {
        r["signal"] for r in case_b["reasons"]
    }

    at = now() + timedelta(seconds=1)
    body = {
        "action": "mediation",
        "scheduled_at": at.isoformat(),
        "facilitator_employee_id": "hr-lead",
    }
    acted = await api.ok("POST", f"/v1/cases/{case_b['id']}/actions", json=body)
    assert acted["status"] == "monitoring"

    async def meeting() -> Any:
        found = await api.items("/v1/sessions", params={"match_id": b})
        return next((s for s in found if s["kind"] == "mediation"), None)

    mediation = await eventually(meeting, timeout=timeout, what="the mediation planned")
    assert mediation["facilitator_employee_id"] == "hr-lead"
    while now() < at:
        await wait(0.25)
    await api.ok("POST", f"/v1/sessions/{mediation['id']}/complete", json={}, headers=api.admin)
    recovered = await _case(api, b, timeout, status="closed")
    assert (recovered["outcome"], recovered["recovered"]) == ("recovered", True)
    return FollowUpResult(closed_a, new, recovered, seen)
