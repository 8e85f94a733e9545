"""Corrective cases on a moved clock (embedded mode): an at-risk relationship opens a case
with the rules' recommendation; admins re-pair, mediate, assign training, pause, resume,
dismiss; the `conclude` policy acts alone after its grace; a party ending a match as
incompatible opens the same path; an HRIS leave pauses the relationship instead of ending it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clock import ManualClock
from tests.helpers import Api, eventually
from tests.helpers.follow_up import run_follow_up
from tests.helpers.scenario import active_match, enrolled_cohort, schedule_session

POLICY = {"cadence": "P14D", "nudge_after": 1, "attention_after": 2, "at_risk_after": 3}
CATALOGUE = [{"id": "active-listening", "title": "Active listening", "url": "https://learn/x"}]


async def _case(api: Api, match_id: str, **expect: Any) -> dict[str, Any]:
    """The match's latest case, once it shows `expect`."""

    async def found() -> dict[str, Any] | None:
        cases = await api.items("/v1/cases", params={"match_id": match_id})
        if cases and all(cases[-1][k] == v for k, v in expect.items()):
            return cases[-1]
        return None

    return await eventually(found, what=f"a case of {match_id} with {expect}")


async def _health(api: Api, match_id: str, state: str) -> dict[str, Any] | None:
    r = await api.c.get(f"/v1/relationships/{match_id}/health", headers=api.admin)
    return r.json() if r.status_code == 200 and r.json()["state"] == state else None


async def _held(api: Api, match_id: str) -> bool:
    health = await api.ok("GET", f"/v1/relationships/{match_id}/health")
    return health["held"] == 1


async def _act(api: Api, case_id: str, expect: int = 200, **body: Any) -> Any:
    r = await api.c.post(f"/v1/cases/{case_id}/actions", headers=api.admin, json=body)
    assert r.status_code == expect, r.text
    return r.json()


async def _replacement(api: Api, mentee_participant: str, ended: str) -> dict[str, Any]:
    async def found() -> Any:
        matches = await api.matches(participant_id=mentee_participant)
        return next((m for m in matches if m["replaces_match_id"] == ended), None)

    return await eventually(found, what="the replacement match")


async def test_a_pair_that_never_met_is_re_paired_by_an_admin(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid = match["id"]
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    clock.advance(timedelta(days=43))  # three cadences without a session: disengaged
    case = await _case(api, mid, status="open")
    assert (case["cause"], case["recommendation"]) == ("at_risk", "repair")
    assert "never met" in case["why"] and case["score_at_open"] == 40
    assert [r["signal"] for r in case["reasons"]] == ["inactivity"]
    assert [h["what"] for h in case["history"]] == ["opened"]
    party = await api.c.get("/v1/cases", headers=api.as_employee(cohort.mentee))
    assert party.status_code == 403  # cases are HR's

    for bad, field in (
        ({"action": "repair", "colour": "red"}, "colour"),
        ({"action": "reboot"}, "action"),
    ):
        r = await api.c.post(f"/v1/cases/{case['id']}/actions", headers=api.admin, json=bad)
        assert r.status_code == 422 and field in r.text
    closed = await _act(api, case["id"], action="repair", note="a fresh start")
    assert (closed["status"], closed["outcome"], closed["recovered"]) == (
        "closed",
        "repaired",
        False,
    )
    assert [h["what"] for h in closed["history"]] == ["opened", "repair", "closed"]
    assert closed["history"][1]["details"] == {"end_reason": "disengaged"}
    await _act(api, case["id"], expect=409, action="dismiss")

    new = await _replacement(api, cohort.mentee_participant["id"], mid)
    assert new["mentor_employee_id"] != match["mentor_employee_id"]
    old = await api.ok("GET", f"/v1/matches/{mid}", headers=api.as_employee(cohort.mentee))
    assert old["end_reason"] == "disengaged"

    async def reported() -> bool:
        r = await api.c.get(f"/v1/reports/programs/{cohort.program_id}", headers=api.admin)
        report = r.json() if r.status_code == 200 else {}
        return (report.get("cases_by_outcome"), report.get("relationships_at_risk")) == (
            {"repaired": 1},
            1,
        )

    await eventually(reported, what="the report counting the case")


async def test_a_case_resolved_by_mediation_recovers(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid, mentee = match["id"], api.as_employee(cohort.mentee)
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    held = await schedule_session(api, match, days=-1)
    await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentee)
    missed = await schedule_session(api, match, days=1)
    clock.advance(timedelta(days=1, minutes=10))
    await api.ok(
        "POST", f"/v1/sessions/{missed['id']}/no-show", headers=mentee, json={"absent": "mentor"}
    )
    await eventually(lambda: _health(api, mid, "needs_attention"), what="the no-show heard")
    clock.advance(timedelta(days=43))
    case = await _case(api, mid, status="open")
    assert case["recommendation"] == "mediation", (case["why"], case["reasons"])
    assert {r["signal"] for r in case["reasons"]} == {"inactivity", "no_show"}

    when = (clock.now() + timedelta(days=2)).isoformat()
    r = await api.c.post(
        f"/v1/cases/{case['id']}/actions",
        headers=api.admin,
        json={"action": "mediation", "scheduled_at": when},
    )
    assert r.status_code == 422 and "facilitator_employee_id" in r.text  # the admin has none
    past = (clock.now() - timedelta(hours=1)).isoformat()
    r = await api.c.post(
        f"/v1/cases/{case['id']}/actions",
        headers=api.admin,
        json={"action": "mediation", "scheduled_at": past, "facilitator_employee_id": "hr-1"},
    )
    assert r.status_code == 422 and "scheduled_at" in r.text
    acted = await _act(
        api, case["id"], action="mediation", scheduled_at=when, facilitator_employee_id="hr-1"
    )
    assert acted["status"] == "monitoring"

    async def mediation() -> Any:
        found = await api.items("/v1/sessions", params={"match_id": mid})
        return next((s for s in found if s["kind"] == "mediation"), None)

    meeting = await eventually(mediation, what="sessions planning the mediation")
    assert meeting["facilitator_employee_id"] == "hr-1"
    # Planned: no longer idle, but the no-show still counts until they meet.
    await eventually(lambda: _health(api, mid, "needs_attention"), what="planned")
    assert (await api.ok("GET", f"/v1/cases/{case['id']}"))["status"] == "monitoring"
    clock.advance(timedelta(days=2, hours=1))
    await api.ok("POST", f"/v1/sessions/{meeting['id']}/complete", json={}, headers=api.admin)
    recovered = await _case(api, mid, status="closed")
    assert (recovered["outcome"], recovered["recovered"], recovered["score_at_close"]) == (
        "recovered",
        True,
        100,
    )
    assert [h["what"] for h in recovered["history"]] == ["opened", "mediation", "closed"]


async def test_training_pause_resume_and_dismiss(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY, training=CATALOGUE)
    match = await active_match(api, cohort)
    mid, mentor = match["id"], api.as_employee(match["mentor_employee_id"])
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    clock.advance(timedelta(days=43))
    case = await _case(api, mid, status="open")
    cid = case["id"]

    unknown = await api.c.post(
        f"/v1/cases/{cid}/actions",
        headers=api.admin,
        json={"action": "training", "training_item_id": "juggling"},
    )
    assert unknown.status_code == 422 and "active-listening" in unknown.text
    trained = await _act(api, cid, action="training", training_item_id="active-listening")
    assert trained["assignee_employee_id"] == match["mentor_employee_id"]
    nobody = await api.c.post(
        f"/v1/cases/{cid}/training/complete", headers=api.as_employee(cohort.mentee)
    )
    assert nobody.status_code == 404  # only the assignee (or an admin)
    done = await api.ok("POST", f"/v1/cases/{cid}/training/complete", headers=mentor)
    assert done["training_completed_at"] is not None
    again = await api.c.post(f"/v1/cases/{cid}/training/complete", headers=mentor)
    assert again.status_code == 409

    await _act(api, cid, action="pause", note="project crunch")
    paused = await api.ok("GET", f"/v1/relationships/{mid}/health")
    assert paused["paused"] is True
    await _act(api, cid, expect=409, action="pause")
    clock.advance(timedelta(days=60))  # paused: the idle time does not grow
    await _act(api, cid, action="resume")
    resumed = await api.ok("GET", f"/v1/relationships/{mid}/health")
    assert resumed["paused"] is False and resumed["state"] == "at_risk"
    moved = datetime.fromisoformat(resumed["last_activity_at"]) - datetime.fromisoformat(
        paused["last_activity_at"]
    )
    assert moved == timedelta(days=60)  # the sixty paused days do not count as idle
    idle = {r["signal"]: r["detail"] for r in resumed["reasons"]}["inactivity"]
    assert resumed["last_activity_at"][:19] in idle
    closed = await _act(api, cid, action="dismiss", note="they will sort it out")
    assert closed["outcome"] == "dismissed"
    whats = [h["what"] for h in closed["history"]]
    assert whats == [
        "opened",
        "training",
        "training_completed",
        "pause",
        "resume",
        "dismiss",
        "closed",
    ]


async def test_the_conclude_policy_acts_after_its_grace(api: Api, clock: ManualClock) -> None:
    engagement = POLICY | {"on_at_risk": "conclude", "grace": "P2D"}
    cohort = await enrolled_cohort(api, engagement=engagement)
    match = await active_match(api, cohort)
    mid, mentee = match["id"], api.as_employee(cohort.mentee)
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    held = await schedule_session(api, match, days=-1)
    await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentee)
    await eventually(lambda: _held(api, mid), what="the session heard")
    clock.advance(timedelta(days=43))
    case = await _case(api, mid, status="open")
    assert case["recommendation"] == "conclude"  # they met, then stopped
    clock.advance(timedelta(days=2, minutes=1))
    closed = await _case(api, mid, status="closed")
    assert closed["outcome"] == "concluded"
    assert closed["history"][1]["what"] == "conclude" and closed["history"][1]["by"] == "policy"

    async def ended() -> Any:
        m = await api.ok("GET", f"/v1/matches/{mid}")
        return m if m["status"] == "ended" else None

    assert (await eventually(ended, what="the match concluded"))["end_reason"] == "disengaged"


async def test_ending_as_incompatible_opens_a_case(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid = match["id"]
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    await api.ok(
        "POST",
        f"/v1/matches/{mid}/end",
        headers=api.as_employee(cohort.mentee),
        json={"reason": "incompatible", "note": "we do not get along"},
    )
    case = await _case(api, mid, status="open")
    assert (case["cause"], case["recommendation"]) == ("incompatible", "repair")
    await _act(api, case["id"], expect=409, action="pause")  # the relationship has ended
    await _act(api, case["id"], action="repair")
    new = await _replacement(api, cohort.mentee_participant["id"], mid)
    assert new["status"] == "proposed"


async def test_an_hris_leave_pauses_the_relationship(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid = match["id"]
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    clock.advance(timedelta(days=10))

    async def hris(kind: str, n: int) -> None:
        event = {"event_id": f"{kind}-{mid}-{n}", "type": kind, "employee_id": cohort.mentee}
        await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [event]})

    await hris("leave", 1)

    async def paused(flag: bool) -> Any:
        h = await api.ok("GET", f"/v1/relationships/{mid}/health")
        return h if h["paused"] is flag else None

    await eventually(lambda: paused(True), what="paused by the leave")
    clock.advance(timedelta(days=90))  # three months away: no nudge, no risk
    await hris("returned", 2)
    back = await eventually(lambda: paused(False), what="resumed on return")
    assert (back["state"], back["reasons"], back["nudges"]) == ("on_track", [], 0)
    clock.advance(timedelta(days=5))  # ten days before the leave and five after: one cadence

    async def nudged() -> Any:
        h = await api.ok("GET", f"/v1/relationships/{mid}/health")
        return h if h["nudges"] == 1 else None

    after = await eventually(nudged, what="nudged after the return")
    idle = clock.now() - datetime.fromisoformat(after["last_activity_at"]).replace(tzinfo=UTC)
    assert idle == timedelta(days=15)  # ten days before the leave and five after
    bad = await api.c.post(
        "/v1/hris/events",
        headers=api.hris,
        json={"events": [{"event_id": "x", "type": "leave"}]},
    )
    assert bad.status_code == 422 and "employee_id" in bad.text


async def test_the_whole_follow_up_on_the_embedded_mode(api: Api, clock: ManualClock) -> None:
    """The scenario the distributed test runs on Kafka and PostgreSQL, here on a moved clock."""

    async def wait(seconds: float) -> None:
        clock.advance(timedelta(seconds=seconds))

    result = await run_follow_up(api, now=clock.now, wait=wait)
    assert {"no_show", "unanswered_survey"} <= result.reasons_seen


async def test_a_new_policy_re_judges_the_programmes_relationships(
    api: Api, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid = match["id"]
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    clock.advance(timedelta(days=20))  # 20 idle days: on track with a fortnightly cadence
    await eventually(lambda: _health(api, mid, "on_track"), what="nudged")
    for bad, field in (
        ({"engagement": {"cadence": "soon"}}, "cadence"),
        ({"engagement": {"nudge_after": 5}}, "nudge_after"),  # above attention_after
        ({"format": "circles"}, "format"),
        ({"colour": "red"}, "colour"),
    ):
        r = await api.c.patch(f"/v1/programs/{cohort.program_id}", headers=api.admin, json=bad)
        assert r.status_code == 422 and field in r.text, (bad, r.text)
    updated = await api.ok(
        "PATCH",
        f"/v1/programs/{cohort.program_id}",
        json={"name": "Weekly", "engagement": {"cadence": "P7D"}},
    )
    assert updated["name"] == "Weekly" and updated["engagement"]["cadence"] == "P7D"
    assert updated["engagement"]["at_risk_after"] == 3.0  # the rest of the policy kept
    # Twenty idle days are now almost three weekly cadences: needs attention, at once.
    await eventually(lambda: _health(api, mid, "needs_attention"), what="re-judged")
    clock.advance(timedelta(days=2))  # and its new deadline is armed: at risk at 21 days
    await _case(api, mid, status="open")


async def test_a_community_training_is_assigned_and_attending_completes_it(
    api: Api, clock: ManualClock
) -> None:
    """The programme lists no training; its community trainings are its catalogue: a case
    assigns one, and the assignee attending it completes the case's training."""
    cohort = await enrolled_cohort(api, engagement=POLICY)
    match = await active_match(api, cohort)
    mid, mentor = match["id"], match["mentor_employee_id"]
    await eventually(lambda: _health(api, mid, "too_early"), what="follow-up started")
    clock.advance(timedelta(days=43))
    cid = (await _case(api, mid, status="open"))["id"]
    starts = (clock.now() + timedelta(days=3)).isoformat()
    body = {
        "kind": "training", "title": "Listening skills", "program_id": cohort.program_id,
        "starts_at": starts, "capacity": 12,
    }  # fmt: skip

    async def planned() -> Any:  # 404 until sessions has heard of the programme (its topic)
        r = await api.c.post("/v1/community-events", headers=api.admin, json=body)
        assert r.status_code in (201, 404), r.text
        return r.json() if r.status_code == 201 else None

    training = await eventually(planned, what="sessions to know the programme")

    async def assigned() -> Any:  # 422 until feedback has heard of the training
        r = await api.c.post(
            f"/v1/cases/{cid}/actions",
            headers=api.admin,
            json={"action": "training", "training_item_id": training["id"]},
        )
        assert r.status_code in (200, 422), r.text
        return r.json() if r.status_code == 200 else None

    case = await eventually(assigned, what="the training in the programme's catalogue")
    assert (case["assignee_employee_id"], case["training_completed_at"]) == (mentor, None)
    await api.ok(
        "POST",
        f"/v1/community-events/{training['id']}/register",
        headers=api.as_employee(mentor),
    )
    clock.advance(timedelta(days=3, minutes=5))
    await api.ok(
        "POST", f"/v1/community-events/{training['id']}/attendance", json={"attended": [mentor]}
    )

    async def completed() -> Any:
        got = await api.ok("GET", f"/v1/cases/{cid}")
        return got if got["training_completed_at"] else None

    done = await eventually(completed, what="the training completed by attendance")
    assert done["history"][-1]["what"] == "training_completed"
    assert done["history"][-1]["by"] == "attendance"
