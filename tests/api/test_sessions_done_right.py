"""Sessions done right, through HTTP: completion only once started, rescheduling with its
history, agendas from the programme's templates edited by the pair, private notes read by
their author only, and completed sessions adding up to mentoring hours."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from icalendar import Calendar

from shared.clock import ManualClock
from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

TEMPLATES = [
    {"session": 2, "topics": ["first skill: SQL joins"]},
    {"session": 1, "topics": ["goals", "how we work"]},
]


def _at(clock: ManualClock, days: float) -> str:
    return (clock.now() + timedelta(days=days)).isoformat()


async def _plan(api: Api, match: dict[str, Any], at: str, **extra: Any) -> dict[str, Any]:
    body = {"match_id": match["id"], "scheduled_at": at, **extra}
    headers = api.as_employee(match["mentee_employee_id"])

    async def attempt() -> Any:
        r = await api.c.post("/v1/sessions", json=body, headers=headers)
        return r.json() if r.status_code == 201 else None

    return await eventually(attempt, what="sessions hearing of the active match")


async def test_sessions_done_right(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api, agenda_templates=TEMPLATES)
    match = await active_match(api, cohort)
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])
    other_mentor = api.as_employee(
        next(m for m in cohort.mentors if m != match["mentor_employee_id"])
    )

    first = await _plan(api, match, _at(clock, 2), duration_minutes=90)
    second = await _plan(api, match, _at(clock, 9))
    assert first["agenda"] == ["goals", "how we work"]  # the programme's, by rank
    assert second["agenda"] == ["first skill: SQL joins"]

    # Not held yet: it has not started.
    early = await api.c.post(f"/v1/sessions/{first['id']}/complete", json={}, headers=mentee)
    assert early.status_code == 409 and "once it has started" in early.text

    # The pair edits the agenda; nobody else does.
    items = {"items": ["goals", "how we work", "calendar for the quarter"]}
    edited = await api.ok("PUT", f"/v1/sessions/{first['id']}/agenda", headers=mentor, json=items)
    assert edited["agenda"] == items["items"]
    r = await api.c.put(f"/v1/sessions/{first['id']}/agenda", headers=other_mentor, json=items)
    assert r.status_code == 404
    r = await api.c.put(f"/v1/sessions/{first['id']}/agenda", headers=mentor, json={"items": [""]})
    assert r.status_code == 422

    # Rescheduled: to a time to come, with a reason; the history is kept and counted.
    moved = await api.ok(
        "POST",
        f"/v1/sessions/{first['id']}/reschedule",
        headers=mentee,
        json={"scheduled_at": _at(clock, 4), "reason": "work_conflict", "note": "board meeting"},
    )
    assert (moved["status"], moved["sequence"]) == ("scheduled", 1)
    (move,) = moved["reschedules"]
    assert (move["reason"], move["note"], move["by"]) == (
        "work_conflict",
        "board meeting",
        match["mentee_employee_id"],
    )
    assert datetime.fromisoformat(move["from"]) == datetime.fromisoformat(first["scheduled_at"])
    past = await api.c.post(
        f"/v1/sessions/{first['id']}/reschedule",
        headers=mentee,
        json={"scheduled_at": _at(clock, -1)},
    )
    assert past.status_code == 422 and "scheduled_at" in past.text
    r = await api.c.post(
        f"/v1/sessions/{first['id']}/reschedule", headers=mentee, json={"scheduled_at": "soon"}
    )
    assert r.status_code == 422
    await api.ok("POST", f"/v1/sessions/{second['id']}/cancel", headers=mentor, json={})
    r = await api.c.post(
        f"/v1/sessions/{second['id']}/reschedule",
        headers=mentee,
        json={"scheduled_at": _at(clock, 10)},
    )
    assert r.status_code == 409 and "cancelled" in r.text
    assert (await api.ok("GET", f"/v1/sessions/{second['id']}"))["sequence"] == 0  # unchanged

    # Private notes: each author reads their own only; admins neither read nor write them.
    note = await api.ok(
        "POST", f"/v1/sessions/{first['id']}/notes", headers=mentee, json={"text": "ask about SQL"},
        expect=201,
    )  # fmt: skip
    assert note["author_employee_id"] == match["mentee_employee_id"]
    assert [
        n["text"] for n in await api.items(f"/v1/sessions/{first['id']}/notes", headers=mentee)
    ] == ["ask about SQL"]
    assert await api.items(f"/v1/sessions/{first['id']}/notes", headers=mentor) == []
    r = await api.c.get(f"/v1/sessions/{first['id']}/notes", headers=api.admin)
    assert r.status_code == 403
    r = await api.c.post(f"/v1/sessions/{first['id']}/notes", headers=api.admin, json={"text": "x"})
    assert r.status_code == 403
    r = await api.c.get(f"/v1/sessions/{first['id']}/notes", headers=other_mentor)
    assert r.status_code == 404

    # Held once started: 90 minutes of mentoring for the pair.
    clock.advance(timedelta(days=4, minutes=5))
    done = await api.ok("POST", f"/v1/sessions/{first['id']}/complete", json={}, headers=mentee)
    assert done["status"] == "completed"
    by_match = await api.ok(
        "GET", "/v1/mentoring-hours", params={"match_id": match["id"]}, headers=mentor
    )
    assert (by_match["sessions"], by_match["hours"]) == (1, 1.5)
    mine = await api.ok(
        "GET",
        "/v1/mentoring-hours",
        params={"employee_id": match["mentee_employee_id"]},
        headers=mentee,
    )
    assert (mine["sessions_as_mentee"], mine["hours_as_mentee"], mine["hours_as_mentor"]) == (
        1,
        1.5,
        0,
    )
    r = await api.c.get(
        "/v1/mentoring-hours", params={"employee_id": match["mentor_employee_id"]}, headers=mentee
    )
    assert r.status_code == 404
    r = await api.c.get("/v1/mentoring-hours", headers=api.admin)
    assert r.status_code == 422
    r = await api.c.put(f"/v1/sessions/{first['id']}/agenda", headers=mentor, json=items)
    assert r.status_code == 409  # held: its agenda is history


async def test_a_group_session_follows_the_same_rules(api: Api, clock: ManualClock) -> None:
    await api.hire(
        {"id": "gs-lead", "name": "Lead", "level": 9, "languages": ["fr"]},
        *[{"id": f"gs-m{k}", "name": f"M{k}", "level": 2, "languages": ["fr"]} for k in range(2)],
        prefix="gs",
    )
    pid = (await api.program({"name": "Circle", "format": "circles"}))["id"]
    await api.enrol(pid, "gs-lead", "mentor", capacity=2, themes=["lead"])
    for k in range(2):
        await api.enrol(pid, f"gs-m{k}", "mentee", themes=["lead"])

    async def drafted() -> Any:
        r = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
        return r.status_code == 201 and r.json()["matched"] == 2 and r.json()

    draft = await eventually(drafted, what="the circle's run")
    await api.ok("POST", f"/v1/matching-runs/{draft['id']}/publish")
    for m in await api.matches(run_id=draft["id"]):
        for side in ("mentee", "mentor"):
            await api.ok(
                "POST", f"/v1/matches/{m['id']}/accept", headers=api.admin, json={"side": side}
            )
    lead = api.as_employee("gs-lead")
    body = {"program_id": pid, "scheduled_at": _at(clock, 1), "duration_minutes": 120}

    async def planned() -> Any:
        r = await api.c.post("/v1/group-sessions", json=body, headers=lead)
        if r.status_code != 201:
            return None
        if len(r.json()["sessions"]) < 2:  # sessions knew one match only: call it off, retry
            await api.ok(
                "POST", f"/v1/group-sessions/{r.json()['group_id']}/cancel", json={}, headers=lead
            )
            return None
        return r.json()

    group = await eventually(planned, what="sessions hearing of both active matches")
    gid = group["group_id"]
    early = await api.c.post(f"/v1/group-sessions/{gid}/complete", json={}, headers=lead)
    assert early.status_code == 409
    moved = await api.ok(
        "POST", f"/v1/group-sessions/{gid}/reschedule", headers=lead,
        json={"scheduled_at": _at(clock, 2), "reason": "unavailable"},
    )  # fmt: skip
    assert {s["sequence"] for s in moved["sessions"]} == {1}
    r = await api.c.post(
        f"/v1/group-sessions/{gid}/reschedule",
        headers=api.as_employee("gs-m0"),
        json={"scheduled_at": _at(clock, 3)},
    )
    assert r.status_code == 403
    # In calendars: one event for the mentor's meeting, one per mentee for theirs.
    feed = await api.ok("POST", "/v1/calendar-feeds", headers=lead, json={}, expect=201)
    cal = Calendar.from_ical((await api.c.get(feed["url"])).content)
    (meeting,) = [e for e in cal.walk("VEVENT") if str(e["uid"]) == f"{gid}@binome"]
    assert (str(meeting["uid"]), int(meeting["sequence"])) == (f"{gid}@binome", 1)
    clock.advance(timedelta(days=2, hours=1))
    await api.ok("POST", f"/v1/group-sessions/{gid}/complete", json={}, headers=lead)
    hours = await api.ok(
        "GET", "/v1/mentoring-hours", params={"employee_id": "gs-lead"}, headers=lead
    )
    # One two-hour meeting with two mentees is two hours of the mentor's time, not four.
    assert (hours["sessions_as_mentor"], hours["hours_as_mentor"]) == (1, 2.0)
    mentee_hours = await api.ok(
        "GET", "/v1/mentoring-hours", params={"employee_id": "gs-m0"}, headers=api.admin
    )
    assert (mentee_hours["sessions_as_mentee"], mentee_hours["hours_as_mentee"]) == (1, 2.0)
