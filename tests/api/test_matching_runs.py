"""Matching runs: certified drafts, publication, staleness, auto-publishing programmes."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.helpers import Api, eventually
from tests.helpers.scenario import Cohort, enrolled_cohort, matching_knows_cohort, proposed_match


async def _draft(api: Api, program_id: str) -> dict[str, Any]:
    async def run() -> Any:
        r = await api.c.post(
            "/v1/matching-runs", json={"program_id": program_id}, headers=api.admin
        )
        return r.json() if r.status_code == 201 and r.json()["matched"] else None

    return await eventually(run, what="a run with pairs")


async def _cohort(api: Api) -> Cohort:
    cohort = await enrolled_cohort(api)
    await matching_knows_cohort(api, cohort)
    return cohort


async def test_a_run_is_a_certified_draft_until_published(api: Api) -> None:
    cohort = await _cohort(api)
    draft = await _draft(api, cohort.program_id)
    assert draft["status"] == "draft" and "pairs" not in draft and "matches" not in draft
    assert await api.matches(run_id=draft["id"]) == []
    assert draft["policy"] == "max_matched" and draft["certificate_holds"]
    assert draft["objective_primal"] == draft["objective_dual"] > 0
    assert len(draft["inputs_digest"]) == 64 and draft["solve_ms"] >= 0
    pairs = await api.pairs(draft["id"])
    assert [p["mentee_employee_id"] for p in pairs] == [cohort.mentee]
    # Nothing is proposed to anyone before publication.
    assert await api.matches(program_id=cohort.program_id) == []

    published = await api.ok("POST", f"/v1/matching-runs/{draft['id']}/publish")
    assert published["status"] == "published" and published["published_at"]
    (match,) = await api.matches(run_id=draft["id"])
    assert (match["mentee_employee_id"], match["mentor_employee_id"]) == (
        pairs[0]["mentee_employee_id"],
        pairs[0]["mentor_employee_id"],
    )
    assert match["run_id"] == draft["id"] and match["status"] == "proposed"
    again = await api.c.post(f"/v1/matching-runs/{draft['id']}/publish", headers=api.admin)
    assert again.status_code == 409
    fetched = await api.ok("GET", f"/v1/matching-runs/{draft['id']}")
    assert fetched["status"] == "published" and fetched["matched"] == 1


async def test_a_stale_draft_cannot_be_published(api: Api) -> None:
    cohort = await _cohort(api)
    draft = await _draft(api, cohort.program_id)
    # Another run is published first: the first draft's inputs (open matches) changed.
    newer = await api.ok(
        "POST", "/v1/matching-runs", expect=201, json={"program_id": cohort.program_id}
    )
    assert newer["inputs_digest"] == draft["inputs_digest"]
    await api.ok("POST", f"/v1/matching-runs/{newer['id']}/publish")
    r = await api.c.post(f"/v1/matching-runs/{draft['id']}/publish", headers=api.admin)
    assert r.status_code == 409 and "run the matching again" in r.json()["detail"]


async def test_a_draft_is_refused_once_one_of_its_people_changed(api: Api) -> None:
    """The run's people are kept at their roster's version for its publication's check: a
    mentor's profile changed since (a level, from the HRIS) moves the version, so the check
    reads the new profile and refuses the draft."""
    cohort = await _cohort(api)
    draft = await _draft(api, cohort.program_id)
    bob = cohort.mentors[1]
    promoted = {"id": bob, "name": "Bob Mentor", "department": "Sales", "level": 9}
    update = {"event_id": f"promote-{bob}", "type": "updated", "employee": promoted}
    await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [update]})

    async def heard() -> bool:  # a new run's inputs differ once matching has the new level
        r = await api.c.post(
            "/v1/matching-runs", json={"program_id": cohort.program_id}, headers=api.admin
        )
        return r.status_code == 201 and r.json()["inputs_digest"] != draft["inputs_digest"]

    await eventually(heard, what="matching hearing of the promotion")
    r = await api.c.post(f"/v1/matching-runs/{draft['id']}/publish", headers=api.admin)
    assert r.status_code == 409 and "run the matching again" in r.json()["detail"]


async def test_auto_publishing_programme_proposes_at_once(api: Api) -> None:
    await api.hire(
        {"id": "mx", "name": "Max", "level": 9, "languages": ["fr"]},
        {"id": "me", "name": "Mel", "level": 1, "languages": ["fr"]},
        prefix="auto",
    )
    program = await api.program({"name": "Auto", "auto_publish": True})
    await api.enrol(program["id"], "mx", "mentor", skills_offered=["excel"])
    await api.enrol(program["id"], "me", "mentee", skills_sought=["excel"])
    run = await _draft(api, program["id"])
    assert run["status"] == "published" and len(await api.matches(run_id=run["id"])) == 1
    r = await api.c.post(f"/v1/matching-runs/{run['id']}/publish", headers=api.admin)
    assert r.status_code == 409


async def test_self_service_suggestions(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    mentee_id = cohort.mentee_participant["id"]

    async def both_mentors() -> Any:
        r = await api.c.get(
            "/v1/suggestions",
            params={"participant_id": mentee_id},
            headers=api.as_employee(cohort.mentee),
        )
        return r.json() if r.status_code == 200 and len(r.json()["suggestions"]) == 2 else None

    got = await eventually(both_mentors, what="suggestions once matching knows everyone")
    scores = [s["score"] for s in got["suggestions"]]
    assert scores == sorted(scores, reverse=True)
    best = got["suggestions"][0]
    assert best["mentor_employee_id"] == cohort.mentors[0]  # Ann offers the python sought
    assert sum(best["contributions"].values()) == pytest.approx(best["score"], abs=1e-5)
    assert best["remaining_capacity"] == 2
    assert got["none_because"] is None and got["waiting"] is False

    outsider = await api.c.get(
        "/v1/suggestions",
        params={"participant_id": mentee_id},
        headers=api.as_employee("someone-else"),
    )
    assert outsider.status_code == 404
    unknown = await api.c.get(
        "/v1/suggestions", params={"participant_id": "nope"}, headers=api.admin
    )
    assert unknown.status_code == 404
    missing = await api.c.get("/v1/suggestions", headers=api.admin)
    assert missing.status_code == 422 and missing.json()["errors"][0]["loc"] == [
        "query",
        "participant_id",
    ]
    mentors = await api.items(
        "/v1/participants", params={"program_id": cohort.program_id, "role": "mentor"}
    )
    as_mentor = await api.c.get(
        "/v1/suggestions", params={"participant_id": mentors[0]["id"]}, headers=api.admin
    )
    assert as_mentor.status_code == 422


async def test_no_suggestion_says_why(api: Api) -> None:
    """An empty list of suggestions says why: no mentor enrolled yet, then every mentor's
    place taken (a proposal holds it)."""
    await api.hire(
        *[{"id": n, "name": n, "level": lvl, "languages": ["fr"]} for n, lvl in
          (("ida", 9), ("jo", 2), ("kim", 2))],
        prefix="why",
    )  # fmt: skip
    pid = (await api.program({"name": "Why none"}))["id"]
    jo = await api.enrol(pid, "jo", "mentee", skills_sought=["python"])

    async def suggested(participant: dict[str, Any], count: int) -> Any:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": participant["id"]}, headers=api.admin
        )
        return r.json() if r.status_code == 200 and len(r.json()["suggestions"]) == count else None

    alone = await eventually(lambda: suggested(jo, 0), what="matching hearing of jo")
    assert (alone["none_because"], alone["waiting"]) == ("no_mentor", False)
    await api.enrol(pid, "ida", "mentor", skills_offered=["python"], capacity=1)
    await eventually(lambda: suggested(jo, 1), what="matching hearing of ida")
    await api.ok("POST", f"/v1/matching-runs/{(await _draft(api, pid))['id']}/publish")
    kim = await api.enrol(pid, "kim", "mentee", skills_sought=["python"])
    full = await eventually(lambda: suggested(kim, 0), what="matching hearing of kim")
    assert full["none_because"] == "every_mentor_full", full


async def test_every_pair_and_match_carries_its_explanation(api: Api) -> None:
    cohort = await _cohort(api)
    draft = await api.ok(
        "POST", "/v1/matching-runs", expect=201, json={"program_id": cohort.program_id}
    )
    (pair,) = await api.pairs(draft["id"])
    why = pair["explanation"]
    assert sum(why["contributions"].values()) == pytest.approx(pair["score"], abs=1e-5)
    # Both mentors have room: Eve gets her favourite, and Bob is the next best.
    assert why["top_choice"] is None and why["why_not_top_choice"] is None
    assert why["next_best"]["score"] <= pair["score"]
    await api.ok("POST", f"/v1/matching-runs/{draft['id']}/publish")
    (match,) = await api.matches(run_id=draft["id"])
    assert match["explanation"] == why
    fetched = await api.ok(
        "GET", f"/v1/matches/{match['id']}", headers=api.as_employee(cohort.mentee)
    )
    assert fetched["explanation"]["contributions"] == why["contributions"]


async def test_enrolment_criteria_and_programme_rules_drive_the_run(api: Api) -> None:
    await api.hire(
        {"id": "cto", "name": "Cto", "level": 12, "languages": ["fr"], "timezone": "Europe/Paris"},
        {
            "id": "dev",
            "name": "Dev",
            "level": 3,
            "languages": ["fr"],
            "manager_id": "cto",
            "timezone": "Europe/Paris",
        },
        {
            "id": "coach",
            "name": "Coach",
            "level": 9,
            "languages": ["fr"],
            "timezone": "America/New_York",
        },
        prefix="rules",
    )
    bad = await api.c.post(
        "/v1/programs", headers=api.admin, json={"name": "x", "weights": {"charisma": 5}}
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == ["body", "weights"]
    program = await api.program(
        {
            "name": "Rules",
            "weights": {"skills": 8, "themes": 6, "timezone": 0},
            "max_timezone_gap_h": 8,
        },
    )
    pid = program["id"]
    bad = await api.c.post(
        "/v1/participants",
        headers=api.admin,
        json={"program_id": pid, "employee_id": "dev", "role": "mentee", "answers": [9]},
    )
    assert bad.status_code == 422 and bad.json()["errors"][0]["loc"] == [
        "body",
        "answers",
        "list",
        0,
    ]
    # The CTO offers exactly what the developer seeks, but is in their reporting line.
    await api.enrol(pid, "cto", "mentor", skills_offered=["architecture"], themes=["growth"])
    await api.enrol(pid, "coach", "mentor", skills_offered=["architecture"], availability=[3, 4, 3])
    dev = await api.enrol(
        pid,
        "dev",
        "mentee",
        skills_sought=["architecture"],
        themes=["growth"],
        answers=[5, 4, 2],
        availability=[4, 30],
    )
    assert dev["manager_chain"] == ["cto"] and dev["tz_offset_h"] in (1, 2)

    async def coach_only() -> Any:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": dev["id"]}, headers=api.admin
        )
        return r.json() if r.status_code == 200 and r.json()["suggestions"] else None

    got = await eventually(coach_only, what="matching hearing of the cohort")
    assert [s["mentor_employee_id"] for s in got["suggestions"]] == ["coach"]  # never the CTO
    contributions = got["suggestions"][0]["contributions"]
    assert contributions["timezone"] == 0  # weighted 0 by the programme
    assert contributions["availability"] > 0  # slot 4 in common
    run = await api.ok("POST", "/v1/matching-runs", expect=201, json={"program_id": pid})
    assert [p["mentor_employee_id"] for p in await api.pairs(run["id"])] == ["coach"]


async def test_a_stable_programme_runs_deferred_acceptance_with_its_audit(api: Api) -> None:
    bad = await api.c.post(
        "/v1/programs", headers=api.admin, json={"name": "x", "matching_policy": "random"}
    )
    assert bad.status_code == 422
    cohort = await enrolled_cohort(api)  # created with the default (optimal) policy
    program = await api.program({"name": "Stable", "matching_policy": "stable"})
    await api.enrol(program["id"], cohort.mentors[0], "mentor", skills_offered=["python"])
    mentee = await api.enrol(program["id"], cohort.mentee, "mentee", skills_sought=["python"])

    async def known() -> bool:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": mentee["id"]}, headers=api.admin
        )
        return r.status_code == 200 and len(r.json()["suggestions"]) == 1

    await eventually(known, what="matching hearing of the stable programme")
    run = await api.ok("POST", "/v1/matching-runs", expect=201, json={"program_id": program["id"]})
    assert run["policy"] == "stable" and run["blocking_pairs"] == 0
    assert not run["certificate_holds"]  # stability, not optimality, is what it promises
    assert [p["mentor_employee_id"] for p in await api.pairs(run["id"])] == [cohort.mentors[0]]


async def test_two_drafts_published_at_once_match_each_mentee_once(api: Api) -> None:
    cohort = await _cohort(api)
    first, second = [
        await api.ok(
            "POST", "/v1/matching-runs", expect=201, json={"program_id": cohort.program_id}
        )
        for _ in range(2)
    ]
    answers = await asyncio.gather(
        *(
            api.c.post(f"/v1/matching-runs/{run['id']}/publish", headers=api.admin)
            for run in (first, second)
        )
    )
    assert sorted(r.status_code for r in answers) == [200, 409]
    assert len(await api.matches(program_id=cohort.program_id)) == 1


async def test_a_declined_proposal_is_replaced_at_once(api: Api) -> None:
    cohort = await _cohort(api)
    match = await proposed_match(api, cohort)
    declined = await api.ok(
        "POST",
        f"/v1/matches/{match['id']}/decline",
        headers=api.as_employee(cohort.mentee),
        json={"reason": "not_a_fit", "note": "we met already"},
    )
    assert (declined["status"], declined["end_reason"]) == ("declined", "not_a_fit")
    # What the mentee wrote is for HR: the parties see the category, admins the note too.
    assert declined["end_note"] is None
    seen = await api.ok("GET", f"/v1/matches/{match['id']}")
    assert (seen["end_reason"], seen["end_note"]) == ("not_a_fit", "we met already")
    mentor_view = await api.ok(
        "GET", f"/v1/matches/{match['id']}", headers=api.as_employee(match["mentor_employee_id"])
    )
    assert mentor_view["end_note"] is None
    found = await api.matches(program_id=cohort.program_id, status="proposed")
    (replacement,) = found
    assert replacement["replaces_match_id"] == match["id"]
    assert replacement["mentor_employee_id"] != match["mentor_employee_id"]
    again = await api.c.post(
        f"/v1/matches/{match['id']}/decline", headers=api.admin, json={"reason": "other"}
    )
    assert again.status_code == 409


async def test_a_circles_programme_forms_diverse_circles_around_mentors(api: Api) -> None:
    """Format "circles": each mentor leads a group as large as their capacity, at most half
    of it from one department, mentees grouped with the mentor they share most themes with;
    published, each member gets a match with the circle's mentor."""
    depts = ["ops", "ops", "ops", "sales", "sales", "it"]
    await api.hire(
        {"id": "lead-a", "name": "Ada", "level": 9, "languages": ["fr"], "department": "hr"},
        {"id": "lead-b", "name": "Bea", "level": 9, "languages": ["fr"], "department": "hr"},
        *[
            {"id": f"m{k}", "name": f"M{k}", "level": 2, "languages": ["fr"], "department": d}
            for k, d in enumerate(depts)
        ],
        {"id": "m-en", "name": "Eng", "level": 2, "languages": ["en"], "department": "it"},
        prefix="circles",
    )
    program = await api.program({"name": "Circles", "format": "circles"})
    pid = program["id"]
    lead_a = await api.enrol(pid, "lead-a", "mentor", capacity=4, themes=["leadership"])
    lead_b = await api.enrol(pid, "lead-b", "mentor", capacity=4, themes=["data"])
    # The three ops mentees all want leadership: one of them has to join the data circle.
    for k in range(6):
        await api.enrol(pid, f"m{k}", "mentee", themes=["leadership" if k < 3 else "data"])
    await api.enrol(pid, "m-en", "mentee", themes=["data"])  # shares no language: unplaced

    async def full_run() -> Any:
        """A run once matching has heard of all 9 enrolments (the unplaced one included:
        publishing a run made before it arrived would answer 409, inputs changed)."""
        r = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
        if r.status_code != 201:
            return None
        run = r.json()
        heard = run["mentees_considered"] == 7 and run["mentors_considered"] == 2
        return run if heard and run["matched"] == 6 else None

    run = await eventually(full_run, what="a circles run over everyone")
    assert run["policy"] == "circles" and run["status"] == "draft"
    circles = {c["mentor_participant_id"]: c for c in run["circles"]}
    assert set(circles) == {lead_a["id"], lead_b["id"]}
    pairs = await api.pairs(run["id"])
    employee_of = {p["mentee_participant_id"]: p["mentee_employee_id"] for p in pairs}
    members = {
        lead: sorted(employee_of[i] for i in c["mentee_participant_ids"])
        for lead, c in circles.items()
    }
    for people in members.values():
        # at most half of a circle of 4 (2) from one department
        assert max(sum(depts[int(e[1:])] == d for e in people) for d in set(depts)) <= 2
    a, b = members[lead_a["id"]], members[lead_b["id"]]
    assert len(a) == 2 and set(a) < {"m0", "m1", "m2"}  # two ops, both sharing leadership
    assert len(b) == 4 and {"m3", "m4", "m5"} < set(b)  # the data mentees and the third ops
    assert circles[lead_a["id"]]["shared_themes"] == 1.0
    assert circles[lead_b["id"]]["shared_themes"] == 0.75
    assert circles[lead_b["id"]]["departments"] == 3
    assert "m-en" not in employee_of.values()
    pair = pairs[0]
    assert pair["explanation"]["circle"]["mentor_participant_id"] == pair["mentor_participant_id"]
    assert sum(pair["explanation"]["contributions"].values()) == pytest.approx(
        pair["score"], abs=1e-5
    )

    published = await api.ok("POST", f"/v1/matching-runs/{run['id']}/publish")
    matches = await api.matches(run_id=run["id"])
    assert len(matches) == 6
    assert {m["mentor_participant_id"] for m in matches} == set(circles)
    assert published["circles"] == run["circles"]
