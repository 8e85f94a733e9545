"""Calendar feeds: an employee's sessions as an iCalendar (RFC 5545) feed behind a secret,
revocable URL, parsed here by a real iCalendar library (`icalendar`), not by string matching."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar

from shared.clock import ManualClock
from tests.helpers import Api
from tests.helpers.scenario import active_match, enrolled_cohort, schedule_session


def _events(body: bytes) -> dict[str, Any]:
    cal = Calendar.from_ical(body)
    assert str(cal["version"]) == "2.0" and "PRODID" in cal
    return {str(e["uid"]): e for e in cal.walk("VEVENT")}


async def test_a_feed_follows_sessions_created_rescheduled_and_cancelled(
    api: Api, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, agenda_templates=[{"session": 1, "topics": ["goals"]}])
    match = await active_match(api, cohort)
    mentee_id, mentor_id = match["mentee_employee_id"], match["mentor_employee_id"]
    mentee = api.as_employee(mentee_id)
    s1 = await schedule_session(api, match, days=2)
    s2 = await schedule_session(api, match, days=3)

    feed = await api.ok("POST", "/v1/calendar-feeds", headers=mentee, json={}, expect=201)
    assert feed["employee_id"] == mentee_id and feed["url"].endswith(".ics")
    url = feed["url"]
    # A calendar application sends no bearer token: the secret URL is the credential.
    r = await api.c.get(url)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/calendar")
    events = _events(r.content)
    assert set(events) == {f"{s1['id']}@binome", f"{s2['id']}@binome"}
    first = events[f"{s1['id']}@binome"]
    planned = datetime.fromisoformat(s1["scheduled_at"]).astimezone(UTC)
    assert first["dtstart"].dt == planned.replace(microsecond=0)  # iCalendar: to the second
    assert first["dtstart"].dt.tzinfo is not None and first["dtstart"].dt.utcoffset() == timedelta(
        0
    )
    assert (first["dtend"].dt - first["dtstart"].dt) == timedelta(minutes=60)
    assert (int(first["sequence"]), str(first["status"])) == (0, "CONFIRMED")
    assert "goals" in str(first["description"])

    new_time = clock.now() + timedelta(days=5)
    await api.ok(
        "POST",
        f"/v1/sessions/{s1['id']}/reschedule",
        headers=mentee,
        json={"scheduled_at": new_time.isoformat(), "reason": "unavailable"},
    )
    await api.ok("POST", f"/v1/sessions/{s2['id']}/cancel", headers=mentee, json={})
    events = _events((await api.c.get(url)).content)
    moved, off = events[f"{s1['id']}@binome"], events[f"{s2['id']}@binome"]
    assert moved["dtstart"].dt == new_time.astimezone(UTC).replace(microsecond=0)
    assert (int(moved["sequence"]), str(moved["status"])) == (1, "CONFIRMED")
    assert (int(off["sequence"]), str(off["status"])) == (1, "CANCELLED")

    # The mentor's feed (made by an admin) holds the same sessions, with the same UIDs.
    theirs = await api.ok("POST", "/v1/calendar-feeds", json={"employee_id": mentor_id}, expect=201)
    assert set(_events((await api.c.get(theirs["url"])).content)) == set(events)
    r = await api.c.post("/v1/calendar-feeds", headers=mentee, json={"employee_id": mentor_id})
    assert r.status_code == 403  # nobody makes another employee's feed but an admin
    r = await api.c.post("/v1/calendar-feeds", headers=mentee, json={"shoe": 1})
    assert r.status_code == 422

    # Listed without its secret; revoked, the URL answers 404 (as a wrong one does).
    (listed,) = await api.items("/v1/calendar-feeds", headers=mentee)
    assert listed["url"] is None and listed["revoked_at"] is None
    await api.ok("POST", f"/v1/calendar-feeds/{feed['id']}/revoke", headers=mentee)
    assert (await api.c.get(url)).status_code == 404
    assert (await api.c.get("/v1/calendar/not-a-token.ics")).status_code == 404
    again = await api.c.post(f"/v1/calendar-feeds/{feed['id']}/revoke", headers=mentee)
    assert again.status_code == 409
    r = await api.c.post(f"/v1/calendar-feeds/{theirs['id']}/revoke", headers=mentee)
    assert r.status_code == 404  # not hers to see

    # A new feed replaces the previous one.
    fresh = await api.ok("POST", "/v1/calendar-feeds", headers=mentee, json={}, expect=201)
    rotated = await api.ok("POST", "/v1/calendar-feeds", headers=mentee, json={}, expect=201)
    assert (await api.c.get(fresh["url"])).status_code == 404
    assert (await api.c.get(rotated["url"])).status_code == 200
