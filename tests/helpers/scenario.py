"""Binôme's core loop as one scenario, run against the embedded app and the distributed set.

HRIS pushes employees; an admin creates a programme; mentors and mentees enrol; a matching run
proposes a match; both sides accept; sessions are scheduled and completed; both sides rate
them low (the mentor first, then the mentee 1 then 2); the relationship is at risk, a case
opens recommending re-pairing, and the programme's `rematch` policy takes that action without
review (a grace of PT0S); asynchronously the match ends with low_satisfaction, another mentor
is proposed, the old match's future session is cancelled, and the report counts one rematch.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from tests.helpers import Api, eventually


@dataclass
class LoopResult:
    program_id: str
    first_match: dict[str, Any]
    replacement: dict[str, Any]
    rematch_seconds: float
    second_feedback_trace_id: str
    report: dict[str, Any]


def _when(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


@dataclass
class Cohort:
    program_id: str
    mentors: list[str]  # employee ids
    mentee: str  # employee id
    mentee_participant: dict[str, Any]


async def enrolled_cohort(api: Api, **programme: Any) -> Cohort:
    """Two mentors and one mentee, hired through the HRIS and enrolled in a new programme
    (`programme`: more of its settings, e.g. `engagement`)."""
    tag = uuid.uuid4().hex[:6]
    ann, bob, eve = f"ann-{tag}", f"bob-{tag}", f"eve-{tag}"
    await api.hire(
        {
            "id": ann,
            "name": "Ann Mentor",
            "department": "Engineering",
            "level": 8,
            "languages": ["fr", "en"],
        },
        {"id": bob, "name": "Bob Mentor", "department": "Sales", "level": 7, "languages": ["fr"]},
        {
            "id": eve,
            "name": "Eve Mentee",
            "department": "Marketing",
            "level": 2,
            "languages": ["fr"],
        },
        prefix=tag,
    )
    program = await api.program(
        {
            "name": f"Onboarding {tag}",
            "format": "classic",
            **programme,
        },
    )
    pid = program["id"]
    await api.enrol(pid, ann, "mentor", skills_offered=["Python", "Leadership"], capacity=2)
    await api.enrol(pid, bob, "mentor", skills_offered=["Negotiation"], capacity=2)
    mentee = await api.enrol(pid, eve, "mentee", skills_sought=["python"])
    return Cohort(pid, [ann, bob], eve, mentee)


async def matching_knows_cohort(api: Api, cohort: Cohort, *, timeout: float = 30.0) -> None:
    """Wait until matching has heard of the programme, the mentee and every mentor (the
    suggestions list them), so that a run sees the whole cohort."""

    async def known() -> bool:
        r = await api.c.get(
            "/v1/suggestions",
            headers=api.admin,
            params={"participant_id": cohort.mentee_participant["id"]},
        )
        return r.status_code == 200 and len(r.json()["suggestions"]) == len(cohort.mentors)

    await eventually(known, timeout=timeout, what="matching hearing of the whole cohort")


async def proposed_match(api: Api, cohort: Cohort, *, timeout: float = 30.0) -> dict[str, Any]:
    await matching_knows_cohort(api, cohort, timeout=timeout)
    run = await api.ok(
        "POST", "/v1/matching-runs", expect=201, json={"program_id": cohort.program_id}
    )
    assert run["status"] == "draft" and run["certificate_holds"] and run["matched"] == 1
    published = await api.ok("POST", f"/v1/matching-runs/{run['id']}/publish")
    assert published["status"] == "published"
    (first,) = await api.matches(run_id=run["id"])
    assert first["mentee_participant_id"] == cohort.mentee_participant["id"]
    return first


async def active_match(api: Api, cohort: Cohort, *, timeout: float = 30.0) -> dict[str, Any]:
    first = await proposed_match(api, cohort, timeout=timeout)
    await api.ok(
        "POST", f"/v1/matches/{first['id']}/accept", json={}, headers=api.as_employee(cohort.mentee)
    )
    active = await api.ok(
        "POST",
        f"/v1/matches/{first['id']}/accept",
        json={},
        headers=api.as_employee(first["mentor_employee_id"]),
    )
    assert active["status"] == "active"
    return active


async def schedule_session(
    api: Api, match: dict[str, Any], *, days: float, timeout: float = 30.0
) -> dict[str, Any]:
    """Plan a session (retrying while the sessions service has not heard of the match yet)."""

    async def attempt() -> Any:
        r = await api.c.post(
            "/v1/sessions",
            headers=api.as_employee(match["mentee_employee_id"]),
            json={"match_id": match["id"], "scheduled_at": _when(days), "topic": "python"},
        )
        return r.json() if r.status_code == 201 else None  # 404/409 until sessions knows

    return await eventually(attempt, timeout=timeout, what="session scheduling")


async def run_core_loop(api: Api, *, timeout: float = 30.0) -> LoopResult:
    cohort = await enrolled_cohort(
        api, engagement={"on_at_risk": "rematch", "grace": "PT0S", "min_ratings": 2}
    )
    pid, eve, mentee = cohort.program_id, cohort.mentee, cohort.mentee_participant
    first = await active_match(api, cohort, timeout=timeout)
    mentor_emp = first["mentor_employee_id"]

    s1 = await schedule_session(api, first, days=-2, timeout=timeout)
    s2 = await schedule_session(api, first, days=-1, timeout=timeout)
    s3 = await schedule_session(api, first, days=7, timeout=timeout)
    for s in (s1, s2):
        await api.ok(
            "POST",
            f"/v1/sessions/{s['id']}/complete",
            headers=api.as_employee(eve),
            json={"notes": "done"},
        )

    async def rate(
        session: dict[str, Any], rating: int, traceparent: str | None = None, by: str = eve
    ) -> Any:
        headers = dict(api.as_employee(by))
        if traceparent:
            headers["traceparent"] = traceparent
        r = await api.c.post(
            "/v1/feedback",
            headers=headers,
            json={"session_id": session["id"], "rating": rating, "comment": "not a fit"},
        )
        return r.json() if r.status_code == 201 else None  # until feedback knows it completed

    # The mentor's own ratings are low: one side alone only needs attention.
    for held, rating in ((s1, 2), (s2, 1)):
        await eventually(
            lambda held=held, rating=rating: rate(held, rating, by=mentor_emp),
            timeout=timeout,
            what="the mentor's feedback",
        )
    await eventually(lambda: rate(s1, 1), timeout=timeout, what="first feedback")
    # The test sets the trace id of the second rating so it can find that trace afterwards.
    trace_id = uuid.uuid4().hex
    started = 0.0

    async def second_rating() -> Any:
        nonlocal started
        started = time.monotonic()
        return await rate(s2, 2, traceparent=f"00-{trace_id}-{uuid.uuid4().hex[:16]}-01")

    await eventually(second_rating, timeout=timeout, what="second feedback")

    async def replacement() -> Any:
        found = await api.matches(program_id=pid, participant_id=mentee["id"])
        return next((m for m in found if m["replaces_match_id"] == first["id"]), None)

    new = await eventually(replacement, timeout=timeout, interval=0.01, what="replacement match")
    rematch_seconds = time.monotonic() - started
    assert new["status"] == "proposed"
    assert new["mentor_employee_id"] != mentor_emp
    old = await api.ok("GET", f"/v1/matches/{first['id']}")
    assert old["status"] == "ended" and old["end_reason"] == "low_satisfaction"
    # The parties are not told it was the ratings (the other side's would show through).
    for party in (mentor_emp, first["mentee_employee_id"]):
        seen = await api.ok("GET", f"/v1/matches/{first['id']}", headers=api.as_employee(party))
        assert seen["end_reason"] == "ended_by_programme"

    async def s3_cancelled() -> Any:
        s = await api.ok("GET", f"/v1/sessions/{s3['id']}")
        return s if s["status"] == "cancelled" else None

    cancelled = await eventually(s3_cancelled, timeout=timeout, what="future session cancelled")
    assert cancelled["cancel_reason"] == "match_ended"
    for s in (s1, s2):
        assert (await api.ok("GET", f"/v1/sessions/{s['id']}"))["status"] == "completed"

    expected = {
        "participants_by_role": {"mentor": 2, "mentee": 1},
        "matches_by_status": {"proposed": 1, "active": 0, "declined": 0, "ended": 1},
        "matches_ended_by_reason": {"low_satisfaction": 1},
        "rematches": 1,
        "relationships_at_risk": 1,
        "sessions_by_status": {
            "scheduled": 0,
            "completed": 2,
            "cancelled": 1,
            "unconfirmed": 0,
            "no_show": 0,
        },
        "sessions_completed": 2,
        "ratings": 4,
        "average_rating": 1.5,
        "cases_open": 0,
        "cases_by_outcome": {"repaired": 1},
    }

    async def report() -> Any:
        # Events of different keys travel on different partitions: wait until all arrived.
        r = await api.c.get(f"/v1/reports/programs/{pid}", headers=api.admin)
        if r.status_code != 200:
            return None
        body = r.json()
        return body if {k: body[k] for k in expected} == expected else None

    final = await eventually(report, timeout=timeout, what="report with one rematch")
    return LoopResult(pid, first, new, rematch_seconds, trace_id, final)


async def concurrent_edits_on_one_version(api: Api, edits: int = 6) -> None:
    """`edits` admins read one version of a programme and send their changes at once, each
    with that version's `If-Match`: exactly one is made, the others are refused (412), and the
    programme holds the one made."""
    made = await api.program({"name": f"Race {uuid.uuid4().hex[:6]}"}, status=None)
    path = f"/v1/programs/{made['id']}"
    read = (await api.c.get(path, headers=api.admin)).headers["etag"]
    conditional = {**api.admin, "If-Match": read}
    answers = await asyncio.gather(
        *(api.c.patch(path, json={"description": f"Edit {i}"}, headers=conditional)
          for i in range(edits))
    )  # fmt: skip
    codes = sorted(a.status_code for a in answers)
    assert codes == [200] + [412] * (edits - 1), [a.text for a in answers]
    won = next(a for a in answers if a.status_code == 200).json()["description"]
    assert (await api.ok("GET", path))["description"] == won
