"""Programme review on a scripted programme: its KPIs, every expected value worked out by hand
(not by running the same code), with the privacy rule (a figure describing fewer than 5 people
is withheld), and the period, department and role filters. The embedded and the PostgreSQL
runs share it.

The script, on a clock starting Monday 2030-03-04 09:00 UTC (t0):
- t0: 7 mentors (capacity 1) and 7 mentees enrolled by HR; 6 mentees in Eng, 1 (Gus) in Sales;
  one more mentee (Pia) asks to enrol herself and awaits approval.
- t0 + 2 days: a matching run proposes 7 pairs; Fay declines hers (not_a_fit) and waits, the 6
  others accept. An 8th mentor enrols: Fay is proposed him (a re-match of the declined pair).
- t0 + 3 days: 5 pairs hold a 60-minute session; the 6th plans one for t0 + 20 days.
- t0 + 5 days: the 5 mentees rate their session 4, 4, 5, 5, 3; their mentors 5, 5, 5, 4, 4.
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from services.reporting import dashboard
from shared.clock import ManualClock
from tests.helpers import Api, eventually

T0 = datetime(2030, 3, 4, 9, 0, tzinfo=UTC)
# Generous: a wait ends as soon as its condition holds; a loaded machine may need long.
WAIT = 60.0
MENTEES = ["ann", "bea", "cat", "dan", "eli", "fay"]  # Eng; "gus" is in Sales


def _iso(at: datetime) -> str:
    return at.isoformat().replace("+00:00", "Z")


async def scripted_programme(api: Api, clock: ManualClock) -> str:
    people = [
        {"id": f"m{i}", "name": f"Mentor {i}", "department": "Eng", "level": 8, "languages": ["fr"]}
        for i in range(1, 9)
    ] + [
        {"id": n, "name": n.title(), "department": "Eng", "level": 2, "languages": ["fr"]}
        for n in [*MENTEES, "pia"]
    ] + [
        {"id": "gus", "name": "Gus", "department": "Sales", "level": 2, "languages": ["fr"]}
    ]  # fmt: skip
    await api.hire(*people)
    program = await api.program(
        {
            "name": "Review",
            "requires_approval": True,
            "objectives": {"skills": [{"name": "python"}]},
            "engagement": {"first_pulse": "P2D"},  # pulses due at t0 + 4 days
        }
    )
    pid = program["id"]
    for i in range(1, 8):
        await api.enrol(pid, f"m{i}", "mentor", capacity=1)
    for name in [*MENTEES, "gus"]:
        await api.enrol(pid, name, "mentee")
    pending = await api.ok(
        "POST", "/v1/participants", headers=api.as_employee("pia"), expect=201,
        json={"program_id": pid, "employee_id": "pia", "role": "mentee"},
    )  # fmt: skip
    assert pending["status"] == "pending"

    clock.advance(timedelta(days=2))

    async def run() -> Any:
        r = await api.c.post("/v1/matching-runs", headers=api.admin, json={"program_id": pid})
        return r.json() if r.status_code == 201 and r.json()["matched"] == 7 else None

    made = await eventually(run, timeout=WAIT, what="a run seeing the whole cohort")
    await api.ok("POST", f"/v1/matching-runs/{made['id']}/publish")
    matches = {m["mentee_employee_id"]: m for m in await api.matches(program_id=pid)}
    assert len(matches) == 7
    await api.ok(
        "POST", f"/v1/matches/{matches['fay']['id']}/decline", headers=api.as_employee("fay"),
        json={"reason": "not_a_fit"},
    )  # fmt: skip
    for name in ["ann", "bea", "cat", "dan", "eli", "gus"]:
        m = matches[name]
        for who in (name, m["mentor_employee_id"]):
            await api.ok(
                "POST", f"/v1/matches/{m['id']}/accept", json={}, headers=api.as_employee(who)
            )
    await api.enrol(pid, "m8", "mentor", capacity=1)

    async def rematched() -> Any:
        found = await api.matches(
            program_id=pid, participant_id=matches["fay"]["mentee_participant_id"]
        )
        return next((m for m in found if m["replaces_match_id"] == matches["fay"]["id"]), None)

    again = await eventually(rematched, timeout=WAIT, what="Fay proposed the new mentor")
    assert again["mentor_employee_id"] == "m8"

    async def followed() -> Any:
        # Feedback arms each relationship's pulses from when it hears of the activation: it
        # must hear of all six before the clock moves on (late, under load, it would arm
        # them days later than the script's t0 + 4 days, and no pulse would come).
        r = await api.c.get("/v1/relationships", headers=api.admin, params={"program_id": pid})
        return r.status_code == 200 and r.json()["total"] == 6

    await eventually(followed, timeout=WAIT, what="feedback following the six relationships")

    sessions = {}
    for name, at in [(n, T0 + timedelta(days=3)) for n in MENTEES[:5]] + [
        ("gus", T0 + timedelta(days=20))
    ]:
        m = matches[name]

        async def plan(m: dict = m, at: datetime = at) -> Any:
            r = await api.c.post(
                "/v1/sessions", headers=api.admin,
                json={"match_id": m["id"], "scheduled_at": _iso(at), "duration_minutes": 60},
            )  # fmt: skip
            return r.json() if r.status_code == 201 else None

        sessions[name] = await eventually(plan, timeout=WAIT, what=f"{name}'s session planned")

    clock.advance(timedelta(days=1, minutes=61))  # t0 + 3 days 1 hour 1 minute
    for name in MENTEES[:5]:
        await api.ok(
            "POST", f"/v1/sessions/{sessions[name]['id']}/complete", json={"notes": "ok"},
            headers=api.as_employee(name),
        )  # fmt: skip

    clock.advance(T0 + timedelta(days=5) - clock.now())  # t0 + 5 days
    scores = {"ann": (4, 5), "bea": (4, 5), "cat": (5, 5), "dan": (5, 4), "eli": (3, 4)}
    for name, (mentee_says, mentor_says) in scores.items():
        for who, rating in (
            (name, mentee_says),
            (matches[name]["mentor_employee_id"], mentor_says),
        ):

            async def rate(who: str = who, rating: int = rating, name: str = name) -> Any:
                r = await api.c.post(
                    "/v1/feedback", headers=api.as_employee(who),
                    json={"session_id": sessions[name]["id"], "rating": rating},
                )  # fmt: skip
                return r.status_code == 201

            await eventually(rate, timeout=WAIT, what=f"{who}'s rating")
    return pid


async def kpis(api: Api, path: str, **params: str) -> dict[str, Any]:
    report = await api.ok("GET", path, params=params)
    return {k["name"]: k for k in report["kpis"]}


async def check_kpis(api: Api, pid: str) -> None:
    """The figures of `scripted_programme`, worked out by hand."""
    path = f"/v1/reports/programs/{pid}/kpis"

    async def heard_everything() -> Any:
        k = await kpis(api, path)
        ratings = k["ratings"]["value"] or {}
        done = all(ratings.get(side, {}).get("count") == 5 for side in ("mentor", "mentee"))
        return k if done and k["sessions"]["value"]["held"] == 5 else None

    k = await eventually(heard_everything, timeout=WAIT, what="reporting hearing the whole script")
    # The tallies counted it (services.reporting.tallies), by the loop or a read first.
    tallies = (await api.c.get("/status")).json()["services"]["reporting"]["tallies"]
    assert tallies["alive"] and tallies["drained"] + tallies["settled"] > 0, tallies

    def figure(name: str) -> tuple[Any, int, bool]:
        return k[name]["value"], k[name]["population"], k[name]["suppressed"]

    # Participation: 8 mentors active; 7 mentees active and Pia pending (1 person: withheld).
    assert figure("participants") == (
        {"mentor": {"active": 8}, "mentee": {"active": 7, "pending": None}},
        16,
        True,
    )
    assert figure("pending_approvals") == (None, 1, True)
    assert figure("waiting_list") == (0, 0, False)  # Fay waited, until the 8th mentor came
    assert figure("withdrawals") == ({}, 0, False)
    # Matching: all 7 enrolled mentees proposed a mentor, 2 days after enrolling.
    assert figure("match_rate") == (1.0, 7, False)
    assert figure("time_to_match_days") == ({"median": 2.0, "p90": 2.0}, 7, False)
    assert figure("acceptance_rate") == (0.857, 7, False)  # 6 accepted of 7 decided
    assert figure("rematch_rate") == (0.125, 8, False)  # 1 of the 8 proposals
    assert figure("rematch_causes") == ({"not_a_fit": None}, 1, True)
    # Mentor load: 6 mentors with one active mentee; Fay's first mentor and m8 (only proposed)
    # with none: 2 people, withheld.
    assert figure("mentor_load") == ({"0": None, "1": 6}, 8, True)
    # Engagement: 6 relationships (12 people); 5 sessions held (10 people), 1 planned (2).
    assert figure("active_relationships") == (6, 12, False)
    assert figure("sessions") == ({"held": 5, "planned": None, "missed": 0, "no_show": 0}, 6, True)
    assert figure("mentoring_hours") == (5.0, 10, False)
    assert figure("sessions_per_relationship") == (0.83, 12, False)  # 5 / 6
    # Now (t0 + 5 days): 5 pairs met 2 days ago (within the 14-day cadence), Gus's pair has
    # met nobody since it began 3 days ago: median of 2, 2, 2, 2, 2, 3.
    assert figure("relationships_in_cadence") == (0.833, 12, False)
    assert figure("days_since_last_activity") == (2.0, 12, False)
    # Satisfaction: 5 raters per side; means 21/5 and 23/5; each rating value given by fewer
    # than 5 people is withheld (individual ratings never show), values nobody gave are 0.
    mentee_side = {
        "count": 5, "mean": 4.2, "distribution": {"1": 0, "2": 0, "3": None, "4": None, "5": None}
    }  # fmt: skip
    mentor_side = {
        "count": 5, "mean": 4.6, "distribution": {"1": 0, "2": 0, "3": 0, "4": None, "5": None}
    }  # fmt: skip
    assert figure("ratings") == ({"mentee": mentee_side, "mentor": mentor_side}, 10, True)
    assert all(k[name]["definition"] and k[name]["group"] for name in k)

    # Department: Sales is Gus alone, every figure about him withheld; Eng is the rest.
    sales = await kpis(api, path, department="Sales")
    assert (sales["match_rate"]["value"], sales["match_rate"]["suppressed"]) == (None, True)
    assert sales["participants"]["value"] == {"mentee": {"active": None}}
    eng = await kpis(api, path, department="Eng")
    assert eng["match_rate"]["value"] == 1.0 and eng["match_rate"]["population"] == 6
    assert eng["active_relationships"]["value"] == 5 and eng["mentoring_hours"]["value"] == 5.0

    # Role: the mentees' side only.
    mentees = await kpis(api, path, role="mentee")
    assert mentees["participants"]["value"] == {"mentee": {"active": 7, "pending": None}}
    assert mentees["ratings"]["value"] == {"mentee": mentee_side}

    # Period: from t0 + 4 days, the sessions and proposals fall outside, the ratings inside.
    later = await kpis(api, path, **{"from": "2030-03-08"})
    # (with no end, the session planned for t0 + 20 days counts: 2 people, withheld)
    assert later["sessions"]["value"] == {"held": 0, "planned": None, "missed": 0, "no_show": 0}
    assert (
        later["acceptance_rate"]["value"] is None and later["time_to_match_days"]["value"] is None
    )
    assert later["ratings"]["value"]["mentor"]["count"] == 5
    until = await kpis(api, path, to="2030-03-06")  # through t0 + 2 days: before any session
    assert until["sessions"]["value"]["held"] == 0 and until["acceptance_rate"]["value"] == 0.857

    # The organisation's view: the same programme is its only one.
    org = await kpis(api, "/v1/reports/kpis")
    assert org["active_relationships"]["value"] == 6 and org["match_rate"]["value"] == 1.0


async def check_trends(api: Api, pid: str) -> None:
    """The weekly series of `scripted_programme`: everything happened in the week of t0
    (Monday 2030-03-04); the session planned for 2030-03-24 is in the third week, not held."""
    path = f"/v1/reports/programs/{pid}/trends"
    report = await api.ok("GET", path, params={"from": "2030-03-04", "to": "2030-03-24"})
    assert report["weeks"] == ["2030-03-04", "2030-03-11", "2030-03-18"]
    series = {s["name"]: (s["values"], s["suppressed"]) for s in report["series"]}
    assert series == {
        "enrolments": ([15, 0, 0], False),  # 8 mentors and 7 mentees (Pia still pending)
        "proposals": ([8, 0, 0], False),
        "sessions_held": ([5, 0, 0], False),
        "mentoring_hours": ([5.0, 0, 0], False),
        # At each week's end, or now (t0 + 5 days) for the weeks not over.
        "active_relationships": ([6, 6, 6], False),
        "mentee_rating": ([4.2, None, None], False),
        "mentor_rating": ([4.6, None, None], False),
        "pulse_score": ([None, None, None], False),  # answered later (phase two)
        "closing_score": ([None, None, None], False),
    }
    assert all(s["definition"] for s in report["series"])
    sales = await api.ok(
        "GET", path, params={"from": "2030-03-04", "to": "2030-03-10", "department": "Sales"}
    )
    sales_series = {s["name"]: (s["values"], s["suppressed"]) for s in sales["series"]}
    assert sales_series["enrolments"] == ([None], True)  # Gus alone
    assert sales_series["active_relationships"] == ([None], True)
    # By default: the 12 weeks up to now's.
    default = await api.ok("GET", path)
    assert len(default["weeks"]) == 12 and default["weeks"][-1] == "2030-03-04"
    org = await api.ok(
        "GET", "/v1/reports/trends", params={"from": "2030-03-04", "to": "2030-03-10"}
    )
    assert {s["name"]: s["values"] for s in org["series"]}["proposals"] == [8]


async def check_exports(api: Api, pid: str) -> None:
    """The programme's tables, as CSV and JSON, read back with the standard parsers."""
    base = f"/v1/reports/programs/{pid}/exports"
    r = await api.c.get(f"{base}/participation", headers=api.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert r.headers["content-disposition"] == f'attachment; filename="participation-{pid}.csv"'
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert list(rows[0]) == [
        "participant_id", "employee_id", "role", "department", "status", "requested_at",
        "enrolled_at", "withdrawn_at", "withdrawn_reason", "waiting",
    ]  # fmt: skip
    assert len(rows) == 16  # 8 mentors, 7 mentees, Pia pending
    pia = next(row for row in rows if row["employee_id"] == "pia")
    assert (pia["status"], pia["enrolled_at"], pia["requested_at"]) == (
        "pending", "", "2030-03-04T09:00:00Z"
    )  # fmt: skip
    assert {row["waiting"] for row in rows} == {"false"}
    assert next(row for row in rows if row["employee_id"] == "gus")["department"] == "Sales"

    relationships = await api.ok("GET", f"{base}/relationships", params={"format": "json"})
    assert Counter(m["status"] for m in relationships) == {
        "active": 6,
        "declined": 1,
        "proposed": 1,
    }
    declined = next(m for m in relationships if m["status"] == "declined")
    assert (declined["mentee_employee_id"], declined["end_reason"]) == ("fay", "not_a_fit")
    again = next(m for m in relationships if m["status"] == "proposed")
    assert (again["mentor_employee_id"], again["replaces_match_id"]) == ("m8", declined["match_id"])
    held = sorted(
        (m["mentee_employee_id"], m["sessions_held"], m["mentoring_hours"], m["last_session_at"])
        for m in relationships
        if m["sessions_held"]
    )
    assert held == [(n, 1, 1.0, "2030-03-07T09:00:00Z") for n in MENTEES[:5]]
    assert all("rating" not in key for m in relationships for key in m)  # never individual ratings

    r = await api.c.get(f"{base}/sessions", headers=api.admin)
    sessions = list(csv.DictReader(io.StringIO(r.text)))
    assert Counter(s["status"] for s in sessions) == {"completed": 5, "scheduled": 1}

    r = await api.c.get(
        f"{base}/trends", headers=api.admin, params={"from": "2030-03-04", "to": "2030-03-10"}
    )
    assert r.text.splitlines() == [
        "week,enrolments,proposals,sessions_held,mentoring_hours,active_relationships,"
        "mentee_rating,mentor_rating,pulse_score,closing_score",
        "2030-03-04,15,8,5,5.0,6,4.2,4.6,,",
    ]
    r = await api.c.get(f"{base}/ratings", headers=api.admin)
    assert r.status_code == 422  # no such table


async def phase_two(api: Api, clock: ManualClock, pid: str) -> None:
    """After `check_kpis`, at t0 + 5 days: the 5 pairs who met sign an agreement (one Python
    goal), assess Python (baseline 2; final 4, but 2 for Eli); Ann's, Bea's and Cat's goals
    reach 100 %; the 5 mentees answer their pulse (4, 4, 5, 3 and 4 to every question)."""
    matches = {m["mentee_employee_id"]: m for m in await api.matches(program_id=pid)}
    for name, final in zip(MENTEES[:5], (4, 4, 4, 4, 2), strict=True):
        m = matches[name]
        mentee, mentor = api.as_employee(name), api.as_employee(m["mentor_employee_id"])
        terms = {"goals": [{"id": "py", "title": "Python", "skills": ["python"]}]}
        await api.ok("PUT", f"/v1/agreements/{m['id']}", headers=mentee, json=terms)
        for who in (mentee, mentor):
            await api.ok("POST", f"/v1/agreements/{m['id']}/confirm", headers=who)
        for phase, rating in (("baseline", 2), ("final", final)):
            body = {"match_id": m["id"], "phase": phase, "ratings": {"python": rating}}
            await api.ok("POST", "/v1/assessments", headers=mentee, json=body, expect=201)
        if name in ("ann", "bea", "cat"):
            await api.ok(
                "POST", f"/v1/agreements/{m['id']}/goals/py/progress", headers=mentee,
                json={"progress": 100},
            )  # fmt: skip
    for name, score in zip(MENTEES[:5], (4, 4, 5, 3, 4), strict=True):
        mentee = api.as_employee(name)

        async def pulse(mentee: dict = mentee) -> Any:
            found = await api.items("/v1/surveys", headers=mentee)
            return next((x for x in found if x["kind"] == "pulse"), None)

        survey = await eventually(pulse, timeout=WAIT, what=f"{name}'s pulse")
        answers = {k: score for k in ("quality", "progress", "rhythm", "recommend")}
        await api.ok("POST", f"/v1/surveys/{survey['id']}/answers", headers=mentee, json=answers)


async def phase_three(api: Api, clock: ManualClock, pid: str) -> None:
    """At t0 + 6 days: Ann's, Bea's and Cat's relationships complete (both sides); Gus leaves
    the company (his relationship ends, participant_left); 6 employees who never took part
    were hired meanwhile (Pia, pending, is not a participant either)."""
    clock.advance(timedelta(days=1))
    matches = {m["mentee_employee_id"]: m for m in await api.matches(program_id=pid)}
    await api.hire(
        *({"id": f"n{i}", "name": f"N {i}", "department": "Eng", "languages": ["fr"]}
          for i in range(1, 7))
    )  # fmt: skip
    for name in ("ann", "bea", "cat"):
        m = matches[name]
        for who in (name, m["mentor_employee_id"]):
            await api.ok("POST", f"/v1/matches/{m['id']}/complete", headers=api.as_employee(who))
    event = {"event_id": "gus-leaves", "type": "terminated", "employee_id": "gus"}
    await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [event]})


async def check_outcomes(api: Api, clock: ManualClock, pid: str) -> None:
    path = f"/v1/reports/programs/{pid}/kpis"
    await phase_two(api, clock, pid)

    async def surveys_heard() -> Any:
        # Every figure below comes from events of several services, on several partitions:
        # wait until reporting has heard all of them (the 12 pulses due and the 5 answers:
        # four of them alone average 4.0 too; both assessments of each pair; the goals).
        k = await kpis(api, path)
        heard = (
            k["survey_scores"]["value"] == {"pulse": 4.0}
            and k["survey_scores"]["population"] == 5
            and k["survey_response_rate"]["population"] == 12
            # Each answer heard too (the survey's answered state: another event than the score).
            and k["survey_response_rate"]["value"] == 0.417
            # Every pair with an assessment counts: the finals come after the baselines.
            and k["skill_progress"]["population"] == 5
            and (k["skill_progress"]["value"] or {}).get("python", {}).get("relationships") == 5
            and k["goals_reached"]["population"] == 10
            and k["goals_reached"]["value"] == 0.6  # the progress after the agreements
        )
        return k if heard else None

    k = await eventually(surveys_heard, timeout=WAIT, what="reporting hearing the pulses")
    # 12 pulses were due at t0 + 4 days (6 relationships, both sides): 5 answered.
    assert _figure(k, "survey_response_rate") == (0.417, 12, False), k["survey_response_rate"]
    assert _figure(k, "survey_scores") == ({"pulse": 4.0}, 5, False), k  # (4+4+5+3+4) / 5
    # Would recommend (4 or 5): 4, 4, 5 and 4 do, 3 does not: 4 of 5.
    assert _figure(k, "would_recommend") == (0.8, 5, False), k["would_recommend"]
    page = (await api.c.get(await dashboard_link(api, pid))).text  # and its tile
    assert 'data-kpi="would_recommend">80 %<' in page
    weekly = await api.ok(
        "GET",
        f"/v1/reports/programs/{pid}/trends",
        params={"from": "2030-03-04", "to": "2030-03-10"},
    )
    pulse = next(s for s in weekly["series"] if s["name"] == "pulse_score")
    assert (pulse["values"], pulse["suppressed"]) == ([4.0], False)
    # Python: +2 for four mentees, 0 for Eli: mean 8/5, 4 of 5 improved.
    assert _figure(k, "skill_progress") == (
        {"python": {"relationships": 5, "mean_progress": 1.6, "improved_share": 0.8}}, 5, False
    )  # fmt: skip
    assert _figure(k, "goals_reached") == (0.6, 10, False)  # 3 of the 5 goals
    # The 6 active relationships began 3 days ago, younger than their 14-day cadence.
    assert _figure(k, "health_states") == ({"too_early": 6}, 12, False), k["health_states"]
    assert _figure(k, "health_reasons") == ({}, 0, False)
    assert _figure(k, "cases") == ({}, 0, False)

    await phase_three(api, clock, pid)

    async def ends_heard() -> Any:
        k = await kpis(api, path)
        done = k["completion_rate"]["population"] == 8 and k["retention"]["population"] == 22
        return k if done else None

    k = await eventually(ends_heard, timeout=WAIT, what="reporting hearing the ends and the leaver")
    assert _figure(k, "completion_rate") == (0.75, 8, False)  # 3 completed of 4 ended
    # Participants: 8 mentors and 7 mentees, Gus left (1 person: withheld, and the share with
    # it); the others: Pia and the 6 newcomers, nobody left.
    assert _figure(k, "retention") == (
        {
            "participants": {"employees": 15, "left": None, "retention": None},
            "non_participants": {"employees": 7, "left": 0, "retention": 1.0},
        },
        22,
        True,
    )


def _figure(k: dict[str, Any], name: str) -> tuple[Any, int, bool]:
    return k[name]["value"], k[name]["population"], k[name]["suppressed"]


async def dashboard_link(api: Api, pid: str | None, expires_in: str = "PT15M") -> str:
    body: dict[str, Any] = {"expires_in": expires_in}
    if pid is not None:
        body["program_id"] = pid
    made = await api.ok("POST", "/v1/reports/dashboard-links", json=body, expect=201)
    assert made["url"].startswith("/v1/reports/dashboards/")
    return made["url"]


async def check_dashboard_page(api: Api, clock: ManualClock, pid: str) -> None:
    """The page a link shows, read as HTML: the figures, the people to act on (Pia awaits
    approval), the data the charts draw; the link dies when it expires."""
    url = await dashboard_link(api, pid)
    r = await api.c.get(url)  # no bearer token: the link is the secret
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-store"
    page = r.text
    assert "<h1>Review</h1>" in page
    assert 'data-kpi="match_rate">100 %<' in page and 'data-kpi="mentoring_hours">5.0<' in page
    assert "<td>pia</td><td>mentee</td><td>awaiting approval</td><td>2030-03-04</td>" in page
    assert '<script src="/v1/reports/assets/plotly.min.js">' in page and "cdn" not in page.lower()
    js = await api.c.get("/v1/reports/assets/plotly.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    org = await api.c.get(await dashboard_link(api, None))
    assert org.status_code == 200 and "<h1>All programmes</h1>" in org.text
    short = await dashboard_link(api, pid, "PT1M")
    clock.advance(timedelta(minutes=2))
    assert (await api.c.get(short)).status_code == 404
    assert (await api.c.get("/v1/reports/dashboards/not-a-token")).status_code == 404
    r = await api.c.post(
        "/v1/reports/dashboard-links", headers=api.admin, json={"expires_in": "P2D"}
    )
    assert r.status_code == 422  # at most a day


async def check_cases(api: Api, clock: ManualClock, pid: str) -> None:
    """After `check_outcomes`, at t0 + 6 days: Fay and her new mentor (m8) accept; nobody meets
    again. At t0 + 50 days the three active relationships have been idle more than 3 of their
    14-day cadences (Dan's and Eli's since their session at t0 + 3 days, Fay's since t0 + 6
    days): all at risk, each opens a corrective case. An admin dismisses Fay's case."""
    matches = {m["mentee_employee_id"]: m for m in await api.matches(program_id=pid)}
    fay = next(m for m in await api.matches(program_id=pid, status="proposed"))
    assert fay["mentor_employee_id"] == "m8" and fay["mentee_employee_id"] == "fay"
    for who in ("fay", "m8"):
        await api.ok(
            "POST", f"/v1/matches/{fay['id']}/accept", json={}, headers=api.as_employee(who)
        )
    active = {"dan": matches["dan"]["id"], "eli": matches["eli"]["id"], "fay": fay["id"]}

    async def followed() -> bool:  # feedback follows Fay's relationship before time moves
        r = await api.c.get(f"/v1/relationships/{fay['id']}/health", headers=api.admin)
        return r.status_code == 200

    await eventually(followed, timeout=WAIT, what="feedback following Fay's relationship")
    clock.advance(T0 + timedelta(days=50) - clock.now())
    path = f"/v1/reports/programs/{pid}/kpis"

    async def cases_opened() -> Any:  # the cases and the health changes: two event types
        k = await kpis(api, path)
        heard = (
            _figure(k, "cases")[0] == {"open": 3}
            and _figure(k, "health_states")[0] == {"at_risk": 3}
            and (_figure(k, "health_reasons")[0] or {}).get("inactivity") == 3
        )
        return k if heard else None

    k = await eventually(cases_opened, timeout=WAIT, what="reporting hearing of three cases")
    # 3 relationships, 6 people: shown.
    assert _figure(k, "health_states") == ({"at_risk": 3}, 6, False), k["health_states"]
    assert _figure(k, "cases") == ({"open": 3}, 6, False), k["cases"]
    reasons, population, _ = _figure(k, "health_reasons")
    assert reasons["inactivity"] == 3 and population == 6, k["health_reasons"]  # all idle
    # The list an admin acts on: the three pairs, on the dashboard.
    page = (await api.c.get(await dashboard_link(api, pid))).text
    attention = page.split('<table id="attention">')[1].split("</table>")[0]
    body = attention.split("<tbody>")[1]
    rows = [re.findall(r"<td>([^<]*)</td>", row) for row in body.split("<tr>")[1:]]
    # (mentor, mentee, state, why); the score is feedback's to compute.
    assert sorted((r[0], r[1], r[2], r[4]) for r in rows) == sorted(
        (matches[mentee]["mentor_employee_id"] if mentee != "fay" else "m8", mentee, "at risk",
         "inactivity")
        for mentee in active
    ), attention  # fmt: skip
    # A long list shows its most urgent rows and says how many there are.
    at_most, dashboard.LIST_AT_MOST = dashboard.LIST_AT_MOST, 2
    try:
        page = (await api.c.get(await dashboard_link(api, pid))).text
    finally:
        dashboard.LIST_AT_MOST = at_most
    attention = page.split('<table id="attention">')[1].split("</table>")[0]
    assert "the 2 lowest scores of 3 (all of them: <code>GET /v1/relationships?program_id=" in (
        attention
    )
    assert attention.split("<tbody>")[1].count("<tr>") == 2

    cases = await api.items("/v1/cases", params={"match_id": active["fay"]})
    await api.ok("POST", f"/v1/cases/{cases[-1]['id']}/actions", json={"action": "dismiss"})

    async def dismissed() -> Any:
        k = await kpis(api, path)
        return k if k["cases"]["suppressed"] else None

    k = await eventually(dismissed, timeout=WAIT, what="reporting hearing of the dismissal")
    # Two open (Dan's, Eli's: 4 people) and one dismissed (2 people): each cell withheld.
    assert _figure(k, "cases") == ({"open": None, "dismissed": None}, 6, True), k["cases"]
