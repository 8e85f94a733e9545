"""Sessions followed over time: one left open past its end becomes `unconfirmed` (a durable
timer armed with it, on the programme's ISO 8601 delay), can still be confirmed held; a party
who came reports the other's no-show; the report counts both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from shared.clock import ManualClock
from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort, schedule_session


async def test_the_engagement_policy_takes_iso_8601_durations(api: Api) -> None:
    made = await api.program(
        {"name": "Followed", "engagement": {"unconfirmed_after": "PT30S"}},
    )
    assert made["engagement"]["unconfirmed_after"] == "PT30S"
    again = await api.ok("GET", f"/v1/programs/{made['id']}")
    assert again["engagement"] == made["engagement"]
    default = await api.program({"name": "Default"})
    assert default["engagement"] == {
        "unconfirmed_after": "P2D",
        "cadence": "P14D",
        "nudge_after": 1.0,
        "attention_after": 2.0,
        "at_risk_after": 3.0,
        "first_pulse": "P30D",
        "pulse_every": "P60D",
        "survey_expires": "P14D",
        "mentor_low_rating": 2.5,
        "mentee_low_rating": 2.5,
        "min_ratings": 2,
        "on_at_risk": "review",
        "grace": "P3D",
    }
    # A client still sending the pooled rating rule gets it as both sides' threshold.
    legacy = await api.program(
        {"name": "Legacy", "rematch_threshold": 3.5, "rating_window": 3},
    )
    assert (
        legacy["engagement"]["mentor_low_rating"],
        legacy["engagement"]["mentee_low_rating"],
        legacy["engagement"]["min_ratings"],
    ) == (3.5, 3.5, 3)
    shuffled = await api.c.post(
        "/v1/programs",
        headers=api.admin,
        json={"name": "Bad", "engagement": {"nudge_after": 3, "at_risk_after": 2}},
    )
    assert shuffled.status_code == 422 and "nudge_after" in shuffled.text
    for bad in ("-P1D", "soon", 3.5j):
        r = await api.c.post(
            "/v1/programs",
            headers=api.admin,
            json={"name": "Bad", "engagement": {"unconfirmed_after": str(bad)}},
        )
        assert r.status_code == 422, (bad, r.text)
        assert "unconfirmed_after" in r.text


async def _status(api: Api, session_id: str, status: str) -> dict[str, Any] | None:
    found = await api.ok("GET", f"/v1/sessions/{session_id}")
    return found if found["status"] == status else None


async def test_an_open_session_past_its_end_becomes_unconfirmed_then_is_confirmed(
    api: Api, clock: ManualClock
) -> None:
    cohort = await enrolled_cohort(api, engagement={"unconfirmed_after": "PT1H"})
    match = await active_match(api, cohort)
    session = await schedule_session(api, match, days=1)  # 60 minutes long
    clock.advance(timedelta(days=1, hours=1, minutes=59))
    await eventually(lambda: _status(api, session["id"], "scheduled"), what="still planned")
    clock.advance(timedelta(minutes=2))  # its end + 1 h has passed
    await eventually(lambda: _status(api, session["id"], "unconfirmed"), what="unconfirmed")

    async def reported() -> dict[str, Any] | None:
        r = await api.c.get(f"/v1/reports/programs/{cohort.program_id}", headers=api.admin)
        ok = r.status_code == 200 and r.json()["sessions_by_status"]["unconfirmed"] == 1
        return r.json() if ok else None

    await eventually(reported, what="the report counting the unconfirmed session")
    held = await api.ok(
        "POST",
        f"/v1/sessions/{session['id']}/complete",
        headers=api.as_employee(cohort.mentee),
        json={"notes": "we met, forgot to say"},
    )
    assert held["status"] == "completed"


async def test_the_party_who_came_reports_a_no_show(api: Api, clock: ManualClock) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    session = await schedule_session(api, match, days=2)
    url = f"/v1/sessions/{session['id']}/no-show"
    mentor, mentee = match["mentor_employee_id"], match["mentee_employee_id"]
    early = await api.c.post(url, headers=api.as_employee(mentee), json={"absent": "mentor"})
    assert early.status_code == 409  # not started yet
    clock.advance(timedelta(days=2, minutes=20))
    absent_one = await api.c.post(url, headers=api.as_employee(mentor), json={"absent": "mentor"})
    assert absent_one.status_code == 403  # the absent party does not report themselves
    done = await api.ok("POST", url, headers=api.as_employee(mentee), json={"absent": "mentor"})
    assert (done["status"], done["absent"]) == ("no_show", "mentor")
    again = await api.c.post(url, headers=api.admin, json={"absent": "mentor"})
    assert again.status_code == 409
    clock.advance(timedelta(days=5))  # its confirmation deadline was dropped with it
    await eventually(lambda: _status(api, session["id"], "no_show"), what="still a no-show")
