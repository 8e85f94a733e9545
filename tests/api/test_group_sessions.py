"""A circle meets: one group session gathers a mentor's mentees, each one rating their own."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from shared.clock import ManualClock
from tests.helpers import Api, eventually


async def _circle(api: Api) -> tuple[str, list[dict[str, Any]]]:
    """A circles programme with one mentor and three mentees, matched, published, accepted."""
    await api.hire(
        {"id": "guide", "name": "Guide", "level": 9, "languages": ["fr"], "department": "hr"},
        *[
            {"id": f"g{k}", "name": f"G{k}", "level": 2, "languages": ["fr"], "department": d}
            for k, d in enumerate(["ops", "it", "sales"])
        ],
        prefix="group",
    )
    program = await api.program(
        {"name": "Circle", "format": "circles"},
    )
    pid = program["id"]
    await api.enrol(pid, "guide", "mentor", capacity=3, themes=["growth"])
    for k in range(3):
        await api.enrol(pid, f"g{k}", "mentee", themes=["growth"])

    async def whole_circle() -> Any:
        # Drafts until matching has heard of all three (enrolments arrive as events).
        r = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
        return r.json() if r.status_code == 201 and r.json()["matched"] == 3 else None

    draft = await eventually(whole_circle, what="a run over the whole circle")
    await api.ok("POST", f"/v1/matching-runs/{draft['id']}/publish")
    matches = await api.matches(run_id=draft["id"])
    for m in matches:
        for who in (m["mentee_employee_id"], m["mentor_employee_id"]):
            await api.ok(
                "POST", f"/v1/matches/{m['id']}/accept", json={}, headers=api.as_employee(who)
            )
    return pid, matches


async def test_a_group_session_gathers_the_circle_and_each_mentee_rates_it(
    api: Api, clock: ManualClock
) -> None:
    pid, matches = await _circle(api)
    when = (datetime.now(UTC) + timedelta(days=7)).isoformat()
    guide = api.as_employee("guide")

    async def planned() -> Any:
        r = await api.c.post(
            "/v1/group-sessions",
            headers=guide,
            json={"program_id": pid, "scheduled_at": when, "topic": "kick-off"},
        )
        body = r.json() if r.status_code == 201 else None
        return body if body and len(body["sessions"]) == 3 else None  # all three known

    group = await eventually(planned, what="a group session over the whole circle")
    assert group["mentor_employee_id"] == "guide"
    assert {s["match_id"] for s in group["sessions"]} == {m["id"] for m in matches}
    assert {s["group_id"] for s in group["sessions"]} == {group["group_id"]}
    gid = group["group_id"]

    # A mentee sees their own session of the group; may neither settle it nor plan one.
    mine = await api.ok("GET", f"/v1/group-sessions/{gid}", headers=api.as_employee("g1"))
    assert [s["mentee_employee_id"] for s in mine["sessions"]] == ["g1"]
    r = await api.c.post(
        f"/v1/group-sessions/{gid}/complete", json={}, headers=api.as_employee("g1")
    )
    assert r.status_code == 403
    r = await api.c.post(
        "/v1/group-sessions",
        headers=api.as_employee("g1"),
        json={"program_id": pid, "scheduled_at": when, "mentor_employee_id": "guide"},
    )
    assert r.status_code == 403
    # Admins say whose circle meets.
    r = await api.c.post(
        "/v1/group-sessions", headers=api.admin, json={"program_id": pid, "scheduled_at": when}
    )
    assert r.status_code == 422 and "mentor_employee_id" in r.text

    early = await api.c.post(f"/v1/group-sessions/{gid}/complete", json={}, headers=guide)
    assert early.status_code == 409  # not held before it starts
    clock.advance(timedelta(days=7, minutes=5))
    held = await api.ok(
        "POST", f"/v1/group-sessions/{gid}/complete", headers=guide, json={"notes": "good start"}
    )
    assert {s["status"] for s in held["sessions"]} == {"completed"}
    again = await api.c.post(f"/v1/group-sessions/{gid}/cancel", json={}, headers=guide)
    assert again.status_code == 409  # nothing planned left

    for s in held["sessions"]:

        async def rate(session: dict[str, Any] = s) -> Any:
            r = await api.c.post(
                "/v1/feedback",
                headers=api.as_employee(session["mentee_employee_id"]),
                json={"session_id": session["id"], "rating": 5, "comment": "great circle"},
            )
            return r.json() if r.status_code == 201 else None

        await eventually(rate, what="each mentee rates the meeting")


async def test_a_group_session_needs_an_active_circle(api: Api) -> None:
    when = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    r = await api.c.post(
        "/v1/group-sessions",
        headers=api.as_employee("nobody"),
        json={"program_id": "no-such-programme", "scheduled_at": when},
    )
    assert r.status_code == 409
    r = await api.c.get("/v1/group-sessions/no-such-group", headers=api.admin)
    assert r.status_code == 404
