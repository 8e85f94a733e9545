"""Community events on the embedded mode: an admin plans a workshop with two seats; employees
register (two seats, then the waiting list in order); a seat given up goes to the first
waiting; the event is in its attendees' calendar feeds; attendance once it has started (the
clock moved), feedback from those who came; a cancelled event cancels its registrations; bad
input and the wrong callers get clear answers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from icalendar import Calendar

from shared.clock import ManualClock
from tests.helpers import Api, eventually


def _when(clock: ManualClock, days: float) -> str:
    return (clock.now() + timedelta(days=days)).astimezone(UTC).isoformat()


async def _event(api: Api, clock: ManualClock, **extra: Any) -> Any:
    body = {
        "kind": "workshop",
        "title": "Giving feedback that lands",
        "location": "Room 4 / https://meet.example.com/feedback",
        "starts_at": _when(clock, 2),
        "duration_minutes": 90,
        "capacity": 2,
    } | extra
    return await api.ok("POST", "/v1/community-events", json=body, expect=201)


async def test_seats_waiting_list_calendar_attendance_and_feedback(
    api: Api, clock: ManualClock
) -> None:
    event = await _event(api, clock)
    eid = event["id"]
    assert (event["registered"], event["waiting"], event["status"]) == (0, 0, "scheduled")
    who = {name: api.as_employee(name) for name in ("ana", "ben", "cal", "dee")}

    async def register(name: str) -> Any:
        return await api.ok("POST", f"/v1/community-events/{eid}/register", headers=who[name])

    assert [(await register(n))["status"] for n in ("ana", "ben")] == ["registered"] * 2
    cal, dee = await register("cal"), await register("dee")
    assert (cal["status"], cal["position"], dee["position"]) == ("waiting", 1, 2)
    seen = await api.ok("GET", f"/v1/community-events/{eid}", headers=who["cal"])
    assert (seen["registered"], seen["waiting"], seen["mine"]) == (2, 2, "waiting")
    r = await api.c.post(f"/v1/community-events/{eid}/register", headers=who["ana"])
    assert r.status_code == 409 and "registered already" in r.text, r.text

    # Ana gives up her seat: Cal, first waiting, gets it; Dee is next.
    gone = await api.ok("POST", f"/v1/community-events/{eid}/withdraw", headers=who["ana"])
    assert gone["status"] == "cancelled"
    assert (await api.ok("GET", f"/v1/community-events/{eid}", headers=who["cal"]))["mine"] == (
        "registered"
    )
    regs = {
        r["employee_id"]: r for r in await api.items(f"/v1/community-events/{eid}/registrations")
    }
    assert {k: v["status"] for k, v in regs.items()} == {
        "ana": "cancelled", "ben": "registered", "cal": "registered", "dee": "waiting",
    }  # fmt: skip
    assert regs["dee"]["position"] == 1
    r = await api.c.post(f"/v1/community-events/{eid}/withdraw", headers=who["ana"])
    assert r.status_code == 409, r.text

    # In Cal's calendar feed, with its place and time.
    feed = await api.ok("POST", "/v1/calendar-feeds", headers=who["cal"], json={}, expect=201)
    ics = Calendar.from_ical((await api.c.get(feed["url"])).content)
    (entry,) = [c for c in ics.walk("VEVENT")]
    assert str(entry["uid"]) == f"community-{eid}@binome"
    assert str(entry["summary"]) == "Giving feedback that lands (workshop)"
    assert entry["dtstart"].dt == datetime.fromisoformat(event["starts_at"]).replace(microsecond=0)
    assert entry["dtend"].dt - entry["dtstart"].dt == timedelta(minutes=90)
    assert "meet.example.com" in str(entry["location"])
    dee_feed = await api.ok("POST", "/v1/calendar-feeds", headers=who["dee"], json={}, expect=201)
    waiting_ics = Calendar.from_ical((await api.c.get(dee_feed["url"])).content)
    assert list(waiting_ics.walk("VEVENT")) == []  # no seat, not in the calendar

    # Attendance: not before it starts; then who came, the others absent.
    attendance = f"/v1/community-events/{eid}/attendance"
    r = await api.c.post(attendance, json={"attended": ["ben"]}, headers=api.admin)
    assert r.status_code == 409 and "started" in r.text, r.text
    clock.advance(timedelta(days=2, minutes=30))
    r = await api.c.post(f"/v1/community-events/{eid}/register", headers=api.as_employee("eli"))
    assert r.status_code == 409 and "started" in r.text, r.text
    r = await api.c.post(attendance, json={"attended": ["ben", "dee"]}, headers=api.admin)
    assert r.status_code == 422 and "dee" in r.text, r.text  # on the waiting list: no seat
    held = await api.ok("POST", attendance, json={"attended": ["ben"]})
    assert held["status"] == "held"

    # Feedback from those who came, once; the comment is theirs and admins'.
    fb = f"/v1/community-events/{eid}/feedback"
    mine = await api.ok(
        "POST", fb, json={"rating": 5, "comment": "Very useful"}, headers=who["ben"]
    )
    assert (mine["status"], mine["rating"]) == ("attended", 5)
    for name, says in (("ben", "already"), ("cal", "attended")):
        r = await api.c.post(fb, json={"rating": 4}, headers=who[name])
        assert r.status_code == 409 and says in r.text, r.text
    r = await api.c.post(fb, json={"rating": 9}, headers=who["ben"])
    assert r.status_code == 422, r.text
    regs = {
        r["employee_id"]: r for r in await api.items(f"/v1/community-events/{eid}/registrations")
    }
    assert (regs["ben"]["status"], regs["cal"]["status"]) == ("attended", "absent")
    assert regs["ben"]["comment"] == "Very useful"
    r = await api.c.get(f"/v1/community-events/{eid}/registrations", headers=who["ben"])
    assert r.status_code == 403, r.text


async def test_a_cancelled_event_cancels_its_registrations(api: Api, clock: ManualClock) -> None:
    event = await _event(api, clock, kind="exchange_group", title="Mentors' circle", capacity=1)
    eid = event["id"]
    for name in ("ana", "ben"):
        await api.ok("POST", f"/v1/community-events/{eid}/register", headers=api.as_employee(name))
    done = await api.ok("POST", f"/v1/community-events/{eid}/cancel")
    assert (done["status"], done["registered"], done["waiting"]) == ("cancelled", 0, 0)
    regs = await api.items(f"/v1/community-events/{eid}/registrations")
    assert {r["status"] for r in regs} == {"cancelled"}
    r = await api.c.post(f"/v1/community-events/{eid}/register", headers=api.as_employee("cy"))
    assert r.status_code == 409 and "cancelled" in r.text, r.text
    listed = await api.items("/v1/community-events", params={"kind": "exchange_group"})
    assert [e["id"] for e in listed] == [eid]


async def test_bad_community_events_are_refused(api: Api, clock: ManualClock) -> None:
    base = {"kind": "training", "title": "Active listening", "capacity": 10}
    for body, says in (
        (base | {"starts_at": _when(clock, -1)}, "future"),
        (base | {"starts_at": _when(clock, 1), "program_id": "nope"}, "program_id"),
        (base | {"starts_at": _when(clock, 1), "capacity": 0}, "capacity"),
        (base | {"starts_at": _when(clock, 1), "kind": "party"}, "kind"),
        (base | {"starts_at": _when(clock, 1), "seats": 3}, "seats"),
    ):
        r = await api.c.post("/v1/community-events", json=body, headers=api.admin)
        assert r.status_code in (404, 422) and says in r.text, (body, r.text)
    r = await api.c.post(
        "/v1/community-events", json=base | {"starts_at": _when(clock, 1)},
        headers=api.as_employee("ana"),
    )  # fmt: skip
    assert r.status_code == 403, r.text
    r = await api.c.get("/v1/community-events/nope", headers=api.admin)
    assert r.status_code == 404, r.text


async def test_attendance_counts_in_the_engagement_kpis(api: Api, clock: ManualClock) -> None:
    people = [f"sam-{i}" for i in range(6)]
    await api.hire(
        *({"id": p, "name": p.title(), "department": "Sales", "languages": ["fr"]} for p in people)
    )
    event = await _event(api, clock, kind="training", title="Active listening", capacity=10)
    for p in people:
        await api.ok(
            "POST", f"/v1/community-events/{event['id']}/register", headers=api.as_employee(p)
        )
    clock.advance(timedelta(days=2, minutes=1))
    await api.ok(
        "POST", f"/v1/community-events/{event['id']}/attendance", json={"attended": people[:5]}
    )

    async def community(**params: str) -> Any:
        report = await api.ok("GET", "/v1/reports/kpis", params=params)
        (kpi,) = [k for k in report["kpis"] if k["name"] == "community_attendance"]
        return kpi if kpi["population"] else None

    kpi = await eventually(community, what="reporting hearing the attendance")
    assert kpi["group"] == "engagement" and kpi["population"] == 6 and not kpi["suppressed"]
    assert kpi["value"] == {"attendees": 5, "events": 1, "attendance_rate": 0.833}
    # By department: reporting reads it off the hires, heard on another topic than the
    # attendance (it may still be applying them).
    sales = await eventually(
        lambda: community(department="Sales"), what="reporting hearing the hires"
    )
    assert sales["value"]["attendees"] == 5 and sales["population"] == 6
    other = await api.ok("GET", "/v1/reports/kpis", params={"department": "Legal"})
    (none,) = [k for k in other["kpis"] if k["name"] == "community_attendance"]
    assert none["population"] == 0
