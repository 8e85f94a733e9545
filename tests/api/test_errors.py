"""Bad input gets a clear 4xx, never a 500, and nothing is half-written (embedded mode)."""

from __future__ import annotations

import asyncio

import httpx
from sqlalchemy import func, select

from shared.auth import Role, mint_token
from shared.settings import Settings
from tests.helpers import Api, auth, eventually
from tests.helpers.scenario import active_match, enrolled_cohort, schedule_session


async def test_missing_or_invalid_token_is_401(
    client: httpx.AsyncClient, settings: Settings
) -> None:
    assert (await client.get("/v1/programs")).status_code == 401
    bad = {"Authorization": "Bearer not.a.jwt"}
    r = await client.get("/v1/programs", headers=bad)
    assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
    expired = mint_token(settings, org="acme", role=Role.admin, ttl_s=-5)
    r = await client.get("/v1/programs", headers={"Authorization": f"Bearer {expired}"})
    assert r.status_code == 401
    forged = mint_token(
        Settings(jwt_secret="someone-elses-secret-0123456789ab"), org="acme", role=Role.admin
    )
    r = await client.get("/v1/programs", headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401


async def test_wrong_role_is_403(api: Api) -> None:
    employee = api.as_employee("u1")
    r = await api.c.post("/v1/programs", json={"name": "x"}, headers=employee)
    assert r.status_code == 403
    r = await api.c.post(
        "/v1/hris/events",
        headers=employee,
        json={"events": [{"event_id": "e", "type": "terminated", "employee_id": "u1"}]},
    )
    assert r.status_code == 403
    r = await api.c.get("/v1/participants", headers=api.hris)
    assert r.status_code == 403
    r = await api.c.get(f"/v1/reports/programs/{'x' * 36}", headers=employee)
    assert r.status_code == 403


async def test_malformed_body_is_422_naming_the_field(api: Api) -> None:
    r = await api.c.post(
        "/v1/programs", json={"engagement": {"mentor_low_rating": 9}}, headers=api.admin
    )
    assert r.status_code == 422
    fields = {tuple(e["loc"]) for e in r.json()["errors"]}
    assert ("body", "name") in fields
    assert ("body", "engagement", "mentor_low_rating") in fields
    r = await api.c.post(
        "/v1/feedback", json={"session_id": "s", "rating": 7}, headers=api.as_employee("u1")
    )
    assert r.status_code == 422
    assert [e["loc"] for e in r.json()["errors"]] == [["body", "rating"]]
    r = await api.c.post(
        "/v1/sessions",
        headers=api.admin,
        json={"match_id": "m", "scheduled_at": "2026-01-01T10:00:00"},
    )
    assert r.status_code == 422  # a time without a timezone is ambiguous
    assert r.json()["errors"][0]["loc"] == ["body", "scheduled_at"]
    r = await api.c.post("/v1/programs", content=b"{broken", headers=api.admin)
    assert r.status_code == 422


async def test_unknown_references_and_unknown_ids_are_404_naming_what(api: Api) -> None:
    """A body naming something that does not exist (or another organisation's) answers 404,
    as its own URL would, with the field at fault in `errors`."""
    r = await api.c.post(
        "/v1/participants",
        headers=api.admin,
        json={"program_id": "nope", "employee_id": "nobody", "role": "mentee"},
    )
    assert r.status_code == 404, r.text
    assert r.json()["errors"] == [
        {"loc": ["body", "program_id"], "msg": "unknown program", "type": "not_found"}
    ]
    assert r.json()["detail"] == "body.program_id: unknown program"
    r = await api.c.post(
        "/v1/sessions",
        headers=api.admin,
        json={"match_id": "nope", "scheduled_at": "2030-01-01T10:00:00Z"},
    )
    assert r.status_code == 404 and r.json()["errors"][0]["loc"] == ["body", "match_id"], r.text
    for path in (
        "/v1/programs/nope",
        "/v1/participants/nope",
        "/v1/matches/nope",
        "/v1/sessions/nope",
        "/v1/feedback/nope",
        "/v1/employees/nope",
        "/v1/matching-runs/nope",
        "/v1/reports/programs/nope",
    ):
        assert (await api.c.get(path, headers=api.admin)).status_code == 404, path
    r = await api.c.post("/v1/matches/nope/accept", json={"side": "mentor"}, headers=api.admin)
    assert r.status_code == 404


async def test_hris_batch_is_all_or_nothing_and_idempotent(api: Api, app) -> None:  # type: ignore[no-untyped-def]
    good = {
        "event_id": "h1",
        "type": "hired",
        "employee": {"id": "u1", "name": "Una", "languages": ["fr"]},
    }
    bad = {"event_id": "t1", "type": "terminated", "employee_id": "ghost"}
    r = await api.c.post("/v1/hris/events", json={"events": [good, bad]}, headers=api.hris)
    assert r.status_code == 404  # the batch names an employee nobody hired
    assert r.json()["errors"][0]["loc"] == ["body", "events", "1", "employee_id"]
    assert (await api.c.get("/v1/employees/u1", headers=api.admin)).status_code == 404
    # ...and no event escaped: the outbox rows were rolled back with the change.
    runtime = app.state.runtimes["enrollment"]
    async with runtime.engine.connect() as conn:
        assert (await conn.execute(select(func.count()).select_from(runtime.outbox))).scalar() == 0

    first = await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [good]})
    again = await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [good]})
    assert first["results"] == [{"event_id": "h1", "status": "applied"}]
    assert again["results"] == [{"event_id": "h1", "status": "duplicate"}]
    r = await api.c.post(
        "/v1/hris/events", headers=api.hris, json={"events": [{"event_id": "x", "type": "hired"}]}
    )
    assert r.status_code == 422  # a hired event needs the employee


async def test_another_organisation_sees_nothing(api: Api, settings: Settings) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    other = auth(settings, org="globex", role="admin")
    for path in (
        f"/v1/programs/{cohort.program_id}",
        f"/v1/participants/{cohort.mentee_participant['id']}",
        f"/v1/matches/{match['id']}",
        f"/v1/employees/{cohort.mentee}",
    ):
        assert (await api.c.get(path, headers=other)).status_code == 404, path
    assert await api.items("/v1/programs", headers=other) == []
    assert await api.items("/v1/matches", headers=other) == []
    r = await api.c.post(f"/v1/matches/{match['id']}/end", json={"reason": "other"}, headers=other)
    assert r.status_code == 404
    r = await api.c.post(
        "/v1/participants",
        headers=other,
        json={"program_id": cohort.program_id, "employee_id": cohort.mentee, "role": "mentee"},
    )
    assert r.status_code == 404 and r.json()["errors"][0]["loc"] == ["body", "program_id"]


async def test_employees_act_only_on_their_own_records(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    mentor, outsider = cohort.mentors[0], "someone-else"
    r = await api.c.post(
        "/v1/participants",
        headers=api.as_employee(outsider),
        json={"program_id": cohort.program_id, "employee_id": cohort.mentee, "role": "mentor"},
    )
    assert r.status_code == 403
    mine = await api.items("/v1/participants", headers=api.as_employee(mentor))
    assert [p["employee_id"] for p in mine] == [mentor]
    r = await api.c.get(
        f"/v1/participants/{cohort.mentee_participant['id']}", headers=api.as_employee(mentor)
    )
    assert r.status_code == 404
    match = await active_match(api, cohort)
    r = await api.c.get(f"/v1/matches/{match['id']}", headers=api.as_employee(outsider))
    assert r.status_code == 404


async def test_forbidden_state_changes_are_409(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    r = await api.c.post(
        "/v1/participants",
        headers=api.admin,
        json={"program_id": cohort.program_id, "employee_id": cohort.mentee, "role": "mentee"},
    )
    assert r.status_code == 409  # already enrolled
    match = await active_match(api, cohort)
    planned = await schedule_session(api, match, days=3)
    mentee = api.as_employee(cohort.mentee)

    async def feedback_knows_session() -> bool:
        r = await api.c.post(
            "/v1/feedback", headers=mentee, json={"session_id": planned["id"], "rating": 4}
        )
        return r.status_code == 409  # 422 (unknown) until the event arrives, then 409

    await eventually(feedback_knows_session, what="feedback refusing a planned session")
    await api.ok(
        "POST",
        f"/v1/sessions/{planned['id']}/cancel",
        headers=mentee,
        json={"reason": "unavailable", "note": "sick"},
    )
    r = await api.c.post(f"/v1/sessions/{planned['id']}/complete", json={}, headers=mentee)
    assert r.status_code == 409
    ended = await api.ok("POST", f"/v1/matches/{match['id']}/end", json={"reason": "completed"})
    assert ended["status"] == "ended"
    r = await api.c.post(f"/v1/matches/{match['id']}/accept", json={}, headers=mentee)
    assert r.status_code == 409
    r = await api.c.post(
        f"/v1/matches/{match['id']}/end", json={"reason": "other"}, headers=api.admin
    )
    assert r.status_code == 409

    async def sessions_refuses() -> bool:
        r = await api.c.post(
            "/v1/sessions",
            headers=mentee,
            json={"match_id": match["id"], "scheduled_at": "2030-01-01T10:00:00Z"},
        )
        return r.status_code == 409

    await eventually(sessions_refuses, what="sessions refusing an ended match")


async def test_concurrent_identical_requests_write_once(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    await api.hire({"id": "newbie", "name": "New", "languages": ["fr"]}, prefix="race")
    body = {"program_id": cohort.program_id, "employee_id": "newbie", "role": "mentee"}
    answers = await asyncio.gather(
        *(api.c.post("/v1/participants", json=body, headers=api.admin) for _ in range(5))
    )
    assert sorted(r.status_code for r in answers) == [201, 409, 409, 409, 409]
