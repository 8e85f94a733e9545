"""Programme design and enrolment through HTTP: objectives, dates, the lifecycle (draft ->
enrolling -> running -> closed), eligibility judged on the HRIS directory, approval, and
formats that mean what they say."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from shared.clock import ManualClock
from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

DESIGN: dict[str, Any] = {
    "name": "Data literacy",
    "description": "Managers learn to read dashboards from analysts.",
    "objectives": {
        "business_goal": "Every manager decides from data by the end of the year.",
        "skills": [
            {"name": " SQL ", "description": "Query the warehouse"},
            {"name": "Dashboards", "description": "Read and build them"},
        ],
    },
    "relationship_duration": "P180D",
}


async def _participants(api: Api, program_id: str) -> list[dict[str, Any]]:
    return await api.items("/v1/participants", params={"program_id": program_id})


async def test_a_programme_is_designed_then_moves_through_its_lifecycle(
    api: Api, clock: ManualClock
) -> None:
    today = clock.now().date()
    await api.hire({"id": "lc-ana", "name": "Ana", "level": 3, "languages": ["fr"]}, prefix="lc")
    body = {
        **DESIGN,
        "enrolment_opens": str(today - timedelta(days=1)),
        "enrolment_closes": str(today + timedelta(days=10)),
        "starts_on": str(today + timedelta(days=14)),
        "ends_on": str(today + timedelta(days=200)),
    }
    made = await api.program(body, status=None)
    pid = made["id"]
    assert made["status"] == "draft"
    assert made["objectives"]["skills"][0] == {"name": "sql", "description": "Query the warehouse"}
    assert made["relationship_duration"] == "P180D" and made["ends_on"] == body["ends_on"]
    assert (await api.ok("GET", f"/v1/programs/{pid}"))["objectives"] == made["objectives"]

    enrol = {"program_id": pid, "employee_id": "lc-ana", "role": "mentee"}
    draft = await api.c.post("/v1/participants", json=enrol, headers=api.admin)
    assert draft.status_code == 409 and "draft" in draft.json()["detail"]

    drafts = await api.items("/v1/programs", params={"status": "draft"})
    assert pid in [p["id"] for p in drafts]
    assert pid not in [p["id"] for p in await api.items("/v1/programs?status=enrolling")]
    bad_filter = await api.c.get("/v1/programs?status=paused", headers=api.admin)
    assert bad_filter.status_code == 422

    # Steps out of order, unknown statuses and employees are refused, naming the way.
    skip = await api.c.post(
        f"/v1/programs/{pid}/status", json={"status": "running"}, headers=api.admin
    )
    assert skip.status_code == 409 and "enrolling" in skip.json()["detail"]
    as_employee = api.as_employee("lc-ana")
    r = await api.c.post(
        f"/v1/programs/{pid}/status", json={"status": "enrolling"}, headers=as_employee
    )
    assert r.status_code == 403
    opened = await api.ok("POST", f"/v1/programs/{pid}/status", json={"status": "enrolling"})
    assert opened["status"] == "enrolling"
    back = await api.c.post(
        f"/v1/programs/{pid}/status", json={"status": "draft"}, headers=api.admin
    )
    assert back.status_code == 409

    # The objectives' skills are the programme's vocabulary.
    typo = await api.c.post(
        "/v1/participants", json={**enrol, "skills_sought": ["sqll"]}, headers=api.admin
    )
    assert typo.status_code == 422 and "sqll" in typo.text and "skills_sought" in typo.text
    assert await _participants(api, pid) == []
    ana = await api.enrol(pid, "lc-ana", "mentee", skills_sought=["SQL"])
    assert ana["skills_sought"] == ["sql"] and ana["status"] == "active"

    # Dates keep their order, on creation and on PATCH (validated merged).
    wrong = await api.c.post(
        "/v1/programs",
        json={"name": "x", "starts_on": "2027-03-01", "ends_on": "2027-01-01"},
        headers=api.admin,
    )
    assert wrong.status_code == 422 and "starts_on" in wrong.text
    for bad in ("PT0S", "-P1D", "soon"):
        r = await api.c.post(
            "/v1/programs", json={"name": "x", "relationship_duration": bad}, headers=api.admin
        )
        assert r.status_code == 422 and "relationship_duration" in r.text, (bad, r.text)
    r = await api.c.patch(
        f"/v1/programs/{pid}", json={"enrolment_closes": str(today - timedelta(days=5))},
        headers=api.admin,
    )  # fmt: skip
    assert r.status_code == 422 and "enrolment_opens" in r.text
    patched = await api.ok("PATCH", f"/v1/programs/{pid}", json={"requires_approval": True})
    assert patched["requires_approval"] is True

    started = await api.ok("POST", f"/v1/programs/{pid}/status", json={"status": "running"})
    assert started["status"] == "running"
    closed = await api.ok(
        "POST", f"/v1/programs/{pid}/status", json={"status": "closed", "note": "budget cut"}
    )
    assert closed["status"] == "closed"
    frozen = await api.c.patch(f"/v1/programs/{pid}", json={"name": "again"}, headers=api.admin)
    assert frozen.status_code == 409 and "closed" in frozen.text
    late = await api.c.post("/v1/participants", json={**enrol, "role": "mentor"}, headers=api.admin)
    assert late.status_code == 409
    assert (await api.ok("GET", f"/v1/programs/{pid}"))["name"] == "Data literacy"


async def test_enrolment_is_open_between_its_dates(api: Api, clock: ManualClock) -> None:
    today = clock.now().date()
    await api.hire({"id": "win-bo", "name": "Bo", "level": 3, "languages": ["fr"]}, prefix="win")
    soon = await api.program({"name": "Later", "enrolment_opens": str(today + timedelta(days=3))})
    enrol = {"program_id": soon["id"], "employee_id": "win-bo", "role": "mentee"}
    early = await api.c.post("/v1/participants", json=enrol, headers=api.admin)
    assert early.status_code == 409 and "opens on" in early.text
    clock.advance(timedelta(days=3))
    assert (await api.c.post("/v1/participants", json=enrol, headers=api.admin)).status_code == 201
    past = await api.program({"name": "Past", "enrolment_closes": str(today)})
    clock.advance(timedelta(days=1))
    enrol = {"program_id": past["id"], "employee_id": "win-bo", "role": "mentee"}
    late = await api.c.post("/v1/participants", json=enrol, headers=api.admin)
    assert late.status_code == 409 and "closed on" in late.text


async def test_closing_a_programme_ends_its_relationships(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    pid = cohort.program_id
    await api.ok("POST", f"/v1/programs/{pid}/status", json={"status": "closed"})

    async def ended() -> dict[str, Any] | None:
        m = await api.ok("GET", f"/v1/matches/{match['id']}")
        return m if m["status"] == "ended" else None

    done = await eventually(ended, what="the match ending with its programme")
    assert done["end_reason"] == "programme_closed"
    seen = await api.ok("GET", f"/v1/matches/{match['id']}", headers=api.as_employee(cohort.mentee))
    assert seen["end_reason"] == "programme_closed"  # not a judgement: the parties see it
    run = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
    assert run.status_code == 409 and "closed" in run.text
    assert await api.matches(program_id=pid, status="proposed") == []


async def test_eligibility_is_judged_on_the_directory_and_directory_facts_win(
    api: Api, clock: ManualClock
) -> None:
    today = clock.now().date()
    old = str(today - timedelta(days=800))
    new = str(today - timedelta(days=30))
    await api.hire(
        {"id": "el-sam", "name": "Sam", "level": 9, "department": "Data", "languages": ["fr"],
         "hired_on": old},
        {"id": "el-kim", "name": "Kim", "level": 2, "department": "Data", "languages": ["fr"],
         "hired_on": old},
        {"id": "el-lou", "name": "Lou", "level": 8, "department": "Data", "languages": ["fr"],
         "hired_on": new},
        {"id": "el-max", "name": "Max", "languages": ["fr"], "department": "Sales"},
        prefix="el",
    )  # fmt: skip
    rules = {
        "mentor": {"min_level": 6, "departments": ["data", "it"], "min_tenure": "P200D"},
        "mentee": {"max_level": 5, "languages": ["fr", "en"]},
    }
    p = await api.program({"name": "Eligible", "eligibility": rules})
    pid = p["id"]
    assert p["eligibility"]["mentor"]["min_tenure"] == "P200D"

    def enrol(emp: str, role: str, **extra: Any) -> Any:
        body = {"program_id": pid, "employee_id": emp, "role": role, **extra}
        return api.c.post("/v1/participants", json=body, headers=api.as_employee(emp))

    # Kim (level 2) cannot mentor; Lou was hired a month ago; Max's level is unknown.
    r = await enrol("el-kim", "mentor")
    assert r.status_code == 422 and "level 2 is outside 6-20" in r.text
    r = await enrol("el-lou", "mentor")
    assert r.status_code == 422 and "less than 200 days" in r.text
    r = await enrol("el-max", "mentor")
    detail = r.json()["errors"][0]["msg"]
    assert r.status_code == 422 and "level unknown" in detail and "department Sales" in detail
    # Claiming another level than the directory's is refused; so is an override by oneself.
    r = await enrol("el-kim", "mentee", level=20)
    assert r.status_code == 422 and "directory says level 2" in r.text
    r = await enrol("el-kim", "mentee", level=2, languages=["en"])
    assert r.status_code == 422 and "languages" in r.text
    r = await enrol("el-kim", "mentee", level=20, override_note="trust me")
    assert r.status_code == 403
    assert await _participants(api, pid) == []  # nothing written

    # A level the employee adds does not make them eligible: the rules read the directory.
    r = await enrol("el-max", "mentee", level=1)
    assert r.status_code == 422 and "level unknown in the directory" in r.text
    # Where no rule needs it, what the directory lacks the employee may add, and languages
    # beyond its own.
    free = (await api.program({"name": "Open to all"}))["id"]
    body = {"program_id": free, "employee_id": "el-max", "role": "mentee", "level": 1,
            "languages": ["fr", "de"]}  # fmt: skip
    max_ = await api.ok(
        "POST", "/v1/participants", json=body, headers=api.as_employee("el-max"), expect=201
    )
    assert (max_["level"], max_["languages"]) == (1, ["fr", "de"])
    sam = (await enrol("el-sam", "mentor")).json()
    assert (sam["level"], sam["department"], sam["status"]) == (9, "Data", "active")
    # An admin may enrol someone outside the rules, with a note that is kept.
    body = {"program_id": pid, "employee_id": "el-lou", "role": "mentor",
            "override_note": "joins from a partner firm, 10 years of SQL"}  # fmt: skip
    lou = await api.ok("POST", "/v1/participants", json=body, expect=201)
    assert lou["override_note"].startswith("joins from")
    r = await api.c.post(
        "/v1/programs",
        json={"name": "x", "eligibility": {"mentor": {"min_level": 9, "max_level": 2}}},
        headers=api.admin,
    )
    assert r.status_code == 422 and "min_level" in r.text
    r = await api.c.post(
        "/v1/programs", json={"name": "x", "eligibility": {"boss": {}}}, headers=api.admin
    )
    assert r.status_code == 422 and "boss" in r.text


async def test_a_programme_that_requires_approval_holds_enrolments_pending(api: Api) -> None:
    await api.hire(
        {"id": "ap-ann", "name": "Ann", "level": 8, "languages": ["fr"]},
        {"id": "ap-eve", "name": "Eve", "level": 2, "languages": ["fr"]},
        {"id": "ap-tom", "name": "Tom", "level": 2, "languages": ["fr"]},
        prefix="ap",
    )
    pid = (await api.program({"name": "Gated", "requires_approval": True}))["id"]
    ann = await api.enrol(pid, "ap-ann", "mentor", skills_offered=["sql"])
    assert ann["status"] == "active"  # an admin's enrolment is their approval

    async def own(emp: str) -> dict[str, Any]:
        body = {"program_id": pid, "employee_id": emp, "role": "mentee", "skills_sought": ["sql"]}
        return await api.ok(
            "POST", "/v1/participants", json=body, headers=api.as_employee(emp), expect=201
        )

    eve, tom = await own("ap-eve"), await own("ap-tom")
    assert eve["status"] == tom["status"] == "pending"
    # Matching does not know pending mentees.
    r = await api.c.get("/v1/suggestions", params={"participant_id": eve["id"]}, headers=api.admin)
    assert r.status_code == 404

    r = await api.c.post(
        f"/v1/participants/{eve['id']}/approve", json={}, headers=api.as_employee("ap-eve")
    )
    assert r.status_code == 403
    r = await api.c.post(
        f"/v1/participants/{tom['id']}/reject", json={"reason": "bored"}, headers=api.admin
    )
    assert r.status_code == 422 and "reason" in r.text
    approved = await api.ok(
        "POST", f"/v1/participants/{eve['id']}/approve", json={"note": "manager agrees"}
    )
    assert (approved["status"], approved["decision_note"]) == ("active", "manager agrees")
    rejected = await api.ok(
        "POST",
        f"/v1/participants/{tom['id']}/reject",
        json={"reason": "programme_full", "note": "next cohort in March"},
    )
    assert (rejected["status"], rejected["rejected_reason"]) == ("rejected", "programme_full")
    again = await api.c.post(f"/v1/participants/{tom['id']}/approve", json={}, headers=api.admin)
    assert again.status_code == 409 and "rejected" in again.text

    async def suggested() -> Any:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": eve["id"]}, headers=api.admin
        )
        return r.status_code == 200 and r.json()["suggestions"]

    (only,) = await eventually(suggested, what="matching hearing of the approved mentee")
    assert only["mentor_employee_id"] == "ap-ann"
    pending = await api.items("/v1/participants", params={"program_id": pid, "status": "rejected"})
    assert [p["id"] for p in pending] == [tom["id"]]


async def test_a_reverse_programme_never_pairs_a_more_senior_mentor(api: Api) -> None:
    """Reverse: juniors teach seniors. The level-12 expert offering every skill is never
    proposed to a level-9 manager; a mentor must offer one of the programme's skills."""
    people = [
        ("rv-cto", 12), ("rv-jun", 2), ("rv-ana", 4), ("rv-mid", 9),  # would-be mentors
        ("rv-boss", 9), ("rv-dir", 10), ("rv-vp", 11),  # mentees
    ]  # fmt: skip
    await api.hire(
        *[{"id": e, "name": e, "level": lvl, "languages": ["fr"]} for e, lvl in people],
        prefix="rv",
    )
    body = {
        "name": "Reverse AI",
        "format": "reverse",
        "objectives": {"skills": [{"name": "genai"}, {"name": "tiktok"}]},
    }
    pid = (await api.program(body))["id"]
    r = await api.c.post(
        "/v1/participants",
        json={"program_id": pid, "employee_id": "rv-mid", "role": "mentor"},
        headers=api.admin,
    )
    assert r.status_code == 422 and "skills_offered" in r.text
    for emp in ("rv-cto", "rv-jun", "rv-ana", "rv-mid"):
        await api.enrol(pid, emp, "mentor", skills_offered=["genai", "tiktok"], capacity=2)
    for emp in ("rv-boss", "rv-dir", "rv-vp"):
        await api.enrol(pid, emp, "mentee", skills_sought=["genai"])
    level = dict(people)

    async def run() -> Any:
        r = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
        body = r.json()
        known = r.status_code == 201 and (body["mentors_considered"], body["mentees_considered"])
        return body if known == (4, 3) else None

    result = await eventually(run, what="matching hearing of the cohort")
    pairs = await api.pairs(result["id"])
    assert len(pairs) == 3
    for pair in pairs:
        assert level[pair["mentor_employee_id"]] < level[pair["mentee_employee_id"]], pair
    assert "rv-cto" not in {p["mentor_employee_id"] for p in pairs}
    boss = next(p["mentee_participant_id"] for p in pairs if p["mentee_employee_id"] == "rv-boss")

    async def suggested_mentors() -> set[str]:
        got = await api.ok("GET", "/v1/suggestions", params={"participant_id": boss, "limit": 10})
        return {s["mentor_employee_id"] for s in got["suggestions"]}

    assert await suggested_mentors() == {"rv-jun", "rv-ana"}  # level 9 (equal) is not junior
    # Relaxed explicitly, the rule becomes a preference: every mentor may be suggested.
    await api.ok("PATCH", f"/v1/programs/{pid}", json={"seniority_rule": "preferred"})

    async def relaxed() -> bool:
        return await suggested_mentors() == {"rv-jun", "rv-ana", "rv-mid", "rv-cto"}

    await eventually(relaxed, what="matching taking the relaxed rule")


QUESTIONS = [
    {"id": "pace", "text": "I like a fast pace", "kind": "scale", "required": True,
     "feeds": "similarity"},
    {"id": "plans", "text": "I plan ahead", "kind": "scale", "feeds": "similarity"},
    {"id": "style", "text": "Your style", "kind": "single", "options": ["structured", "free"]},
    {"id": "topics", "text": "Topics", "kind": "multiple", "options": ["AI", "Data", "Lead"],
     "feeds": "themes"},
]  # fmt: skip


async def _matching_view(app: Any, participant_id: str) -> Any:
    from sqlalchemy import text

    engine = app.state.runtimes["matching"].engine
    async with engine.connect() as conn:
        q = text("SELECT answers, themes FROM participant WHERE id = :id")
        row = (await conn.execute(q, {"id": participant_id})).first()
    return None if row is None else tuple(json.loads(v) for v in row)


async def test_a_questionnaire_defines_the_answers_and_participants_update_theirs(
    api: Api, app: Any
) -> None:
    await api.hire(
        {"id": "qn-ann", "name": "Ann", "level": 8, "languages": ["fr"]},
        {"id": "qn-eve", "name": "Eve", "level": 2, "languages": ["fr"]},
        prefix="qn",
    )
    bad = await api.c.post(
        "/v1/programs",
        json={"name": "x", "questions": [{**QUESTIONS[2], "feeds": "similarity"}]},
        headers=api.admin,
    )
    assert bad.status_code == 422, bad.text  # a choice question feeds themes, never similarity
    assert bad.json()["errors"][0]["loc"][-1] == "feeds", bad.text
    blank = {"id": "t", "text": "Topics?", "kind": "single", "options": ["", " "]}
    bad = await api.c.post(
        "/v1/programs", json={"name": "x", "questions": [blank]}, headers=api.admin
    )  # two options until cleaned, none after: refused, never stored (it was a 500)
    assert bad.status_code == 422 and bad.json()["errors"][0]["type"] == "too_short", bad.text
    made = await api.program({"name": "Asked", "questions": QUESTIONS}, status=None)
    pid = made["id"]
    assert made["questions"][3]["options"] == ["ai", "data", "lead"]
    fine = await api.ok("PATCH", f"/v1/programs/{pid}", json={"questions": QUESTIONS[:3]})
    assert len(fine["questions"]) == 3  # a draft's questionnaire may change
    await api.ok("PATCH", f"/v1/programs/{pid}", json={"questions": QUESTIONS})
    await api.ok("POST", f"/v1/programs/{pid}/status", json={"status": "enrolling"})
    fixed = await api.c.patch(f"/v1/programs/{pid}", json={"questions": []}, headers=api.admin)
    assert fixed.status_code == 409 and "questionnaire is fixed" in fixed.text

    eve_h = api.as_employee("qn-eve")

    async def enrol_eve(answers: Any) -> Any:
        body = {"program_id": pid, "employee_id": "qn-eve", "role": "mentee", "answers": answers}
        return await api.c.post("/v1/participants", json=body, headers=eve_h)

    for answers, names in [
        ({"pace": 4, "mood": 2}, "answers.mood"),
        ({"pace": 7}, "answers.pace"),
        ({"pace": True}, "answers.pace"),
        ({"plans": 3}, "answers.pace"),  # pace is required
        ({"pace": 3, "style": "chaotic"}, "answers.style"),
        ({"pace": 3, "topics": "ai"}, "answers.topics"),
        ({"pace": 3, "topics": ["ai", "cooking"]}, "answers.topics"),
        ([4, 2], "answers"),  # a questionnaire takes answers keyed by question id
    ]:
        r = await enrol_eve(answers)
        assert r.status_code == 422, (answers, r.text)
        assert names.split(".")[-1] in r.json()["errors"][0]["loc"], (answers, r.text)
    assert await _participants(api, pid) == []  # nothing written

    eve = (await enrol_eve({"pace": 5, "style": "Free", "topics": ["AI", "data"]})).json()
    assert eve["answers"] == {"pace": 5, "style": "Free", "topics": ["AI", "data"]}
    seen = await eventually(lambda: _matching_view(app, eve["id"]), what="matching's view")
    assert seen == ([5, 3], ["ai", "data"])  # in the questionnaire's order, 3 if none

    # The participant changes their answers: checked the same way, and matching hears of it.
    ann = await api.enrol(pid, "qn-ann", "mentor", skills_offered=["python"], answers={"pace": 1})
    r = await api.c.patch(
        f"/v1/participants/{eve['id']}", json={"answers": {"pace": 9}}, headers=eve_h
    )
    assert r.status_code == 422 and "pace" in r.text
    r = await api.c.patch(f"/v1/participants/{eve['id']}", json={"shoe": 42}, headers=eve_h)
    assert r.status_code == 422 and "shoe" in r.text
    r = await api.c.patch(f"/v1/participants/{eve['id']}", json={"level": 12}, headers=eve_h)
    assert r.status_code == 422 and "directory says level 2" in r.text
    other = api.as_employee("qn-ann")
    r = await api.c.patch(f"/v1/participants/{eve['id']}", json={"volunteer": False}, headers=other)
    assert r.status_code == 404

    async def run_seeing_both() -> Any:
        r = await api.c.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
        return r.json() if r.status_code == 201 and r.json()["matched"] == 1 else None

    draft = await eventually(run_seeing_both, what="a run with both participants")
    updated = await api.ok(
        "PATCH",
        f"/v1/participants/{eve['id']}",
        headers=eve_h,
        json={"answers": {"pace": 1, "plans": 2}, "skills_sought": ["python"]},
    )
    assert updated["answers"] == {"pace": 1, "plans": 2} and updated["skills_sought"] == ["python"]

    async def heard() -> Any:
        row = await _matching_view(app, eve["id"])
        return row if row and row[0] == [1, 2] else None

    assert await eventually(heard, what="matching hearing of the update") == ([1, 2], [])
    stale = await api.c.post(f"/v1/matching-runs/{draft['id']}/publish", headers=api.admin)
    assert stale.status_code == 409  # the run's inputs changed: run it again
    await api.ok("POST", f"/v1/participants/{ann['id']}/withdraw", json={})
    r = await api.c.patch(
        f"/v1/participants/{ann['id']}", json={"volunteer": False}, headers=api.admin
    )
    assert r.status_code == 409 and "withdrawn" in r.text


async def test_durations_past_a_hundred_years_are_refused(api: Api) -> None:
    """A 10,000-year tenure or cadence is a typo, and would not round-trip as ISO 8601 (found
    by the fuzzer: "P10000Y255M346D" came back as "P10021Y331D", which clients reject)."""
    for body in (
        {"eligibility": {"mentee": {"min_tenure": "P10000Y"}}},
        {"engagement": {"cadence": "P101Y"}},
        {"relationship_duration": "P36501D"},
    ):
        r = await api.c.post(
            "/v1/programs",
            json={"name": "Typo", "format": "classic", **body},
            headers=api.admin,
        )
        assert r.status_code == 422, (body, r.text)
    fine = {"eligibility": {"mentee": {"min_tenure": "P1Y"}}, "engagement": {"cadence": "P7D"}}
    await api.ok(
        "POST", "/v1/programs", json={"name": "Fine", "format": "classic", **fine}, expect=201
    )
