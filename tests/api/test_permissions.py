"""Least privilege, through the real routes: the permission table (shared.permissions) covers
every operation of the API and is what the routes enforce, before any body is read; admins act
as admins, hris only pushes employee events, a terminated employee is refused at once, and
input is never coerced into a type the schema does not say."""

from __future__ import annotations

import re
from typing import Any

import pytest

from shared.auth import Role
from shared.permissions import PERMISSIONS, PUBLIC
from tests.helpers import Api, auth, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

BROKEN = b'{"name": '  # not even JSON: a forbidden caller must not learn that


def _operations(app: Any) -> set[str]:
    return {
        f"{method.upper()} {path}"
        for path, item in app.openapi()["paths"].items()
        for method in item
        if path.startswith("/v1/")
    }


async def test_every_operation_is_in_the_table(app: Any) -> None:
    """A new route is not served until the table says who may call it (a route missing from
    it stops the service from building); the table names no operation that does not exist."""
    assert _operations(app) == set(PERMISSIONS)


async def test_the_matrix_every_operation_by_every_kind_of_caller(api: Api) -> None:
    callers: dict[str, dict[str, str]] = {
        "none": {},
        "admin": api.admin,
        "employee": api.as_employee("emp-1"),
        "hris": api.hris,
    }
    seen: list[tuple[str, str, int]] = []
    for operation, roles in sorted(PERMISSIONS.items()):
        method, template = operation.split(" ", 1)
        url = re.sub(r"\{[^}]+\}", "x-1", template)
        for who, headers in callers.items():
            r = await api.c.request(
                method, url, headers={**headers, "content-type": "application/json"}, content=BROKEN
            )
            seen.append((operation, who, r.status_code))
            if roles is PUBLIC:  # its own secret (an unknown one: 404), or a public asset
                assert r.status_code in (200, 404), (operation, who, r.text)
            elif who == "none":
                assert r.status_code == 401, (operation, r.text)
                assert r.headers["www-authenticate"].startswith("Bearer")
            elif Role(who) not in roles:
                assert r.status_code == 403, (operation, who, r.text)
                assert r.json()["detail"] == f"requires role {', '.join(sorted(roles))}"
                assert r.headers["content-type"] == "application/problem+json"
            else:  # allowed: the request reaches validation or the use case
                assert r.status_code not in (401, 403, 500), (operation, who, r.text)
    assert len(seen) == 4 * len(PERMISSIONS)


async def test_authentication_comes_before_the_body(api: Api) -> None:
    not_utf8 = b"\xff\xfe{"
    for headers, expected in ((), 401), ((api.hris,), 403):
        h = {"content-type": "application/json", **(headers[0] if headers else {})}
        r = await api.c.post("/v1/programs", headers=h, content=not_utf8)
        assert r.status_code == expected, r.text
        r = await api.c.post("/v1/programs", headers=h, content=b"{")
        assert r.status_code == expected, r.text
    r = await api.c.post(
        "/v1/programs", headers={**api.admin, "content-type": "application/json"}, content=not_utf8
    )
    assert r.status_code == 422 and r.json()["errors"][0]["type"] == "json_invalid", r.text


async def test_admins_act_as_admins_and_hris_reads_nothing(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    mentee = match["mentee_employee_id"]
    admin_as_mentee = auth(api.settings, role="admin", employee_id=mentee)
    r = await api.c.post(
        "/v1/feedback", headers=admin_as_mentee, json={"session_id": "s-1", "rating": 1}
    )
    assert r.status_code == 403, r.text  # rating is the parties' own
    # The employee id in an admin's token is ignored: the admin sees as an admin, not as them.
    assert len(await api.items("/v1/participants", headers=admin_as_mentee)) == len(
        await api.items("/v1/participants")
    )
    hris_as_mentee = auth(api.settings, role="hris", employee_id=mentee)
    for path in ("/v1/employees", f"/v1/employees/{mentee}", "/v1/programs", "/v1/matches"):
        r = await api.c.get(path, headers=hris_as_mentee)
        assert r.status_code == 403, (path, r.text)


async def test_not_yours_and_does_not_exist_answer_alike(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    other = next(m for m in cohort.mentors if m != match["mentor_employee_id"])
    stranger = api.as_employee(other)
    at = "2030-01-01T10:00:00Z"
    answers = []
    for match_id in (match["id"], "no-such-match"):
        r = await api.c.post(
            "/v1/sessions", headers=stranger, json={"match_id": match_id, "scheduled_at": at}
        )
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1] and answers[0][0] == 404, answers
    answers = []
    for session_id in (await _held_session(api, match), "no-such-session"):
        r = await api.c.post(
            "/v1/feedback", headers=stranger, json={"session_id": session_id, "rating": 4}
        )
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1] and answers[0][0] == 404, answers


async def _held_session(api: Api, match: dict[str, Any]) -> str:
    body = {"match_id": match["id"], "scheduled_at": "2030-01-01T10:00:00Z"}

    async def planned() -> Any:
        r = await api.c.post("/v1/sessions", headers=api.admin, json=body)
        return r.json()["id"] if r.status_code == 201 else None

    return await eventually(planned, what="sessions hearing of the match")


async def test_a_terminated_employee_is_refused_at_once_and_back_when_rehired(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    leaver = match["mentee_employee_id"]
    token = api.as_employee(leaver)
    reads = ["/v1/participants", "/v1/matches", "/v1/sessions", "/v1/feedback", "/v1/surveys"]
    for path in reads:
        assert (await api.c.get(path, headers=token)).status_code == 200, path

    def push(kind: str, **extra: Any) -> Any:
        event = {"event_id": f"{kind}-{leaver}", "type": kind, **extra}
        return api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [event]})

    await push("terminated", employee_id=leaver)

    async def refused_everywhere() -> bool:
        answers = [(await api.c.get(path, headers=token)) for path in reads]
        return all(a.status_code == 401 for a in answers)

    await eventually(refused_everywhere, what="the leaver's token refused by every service")
    r = await api.c.get("/v1/matches", headers=token)
    assert r.json() == {
        "type": "about:blank",
        "title": "Unauthorized",
        "status": 401,
        "detail": "this employee's access has ended",
        "instance": "/v1/matches",
    }
    assert "invalid_token" in r.headers["www-authenticate"]

    employee = await api.ok("GET", f"/v1/employees/{leaver}")
    await push("hired", employee={"id": leaver, "name": employee["name"]})

    async def back() -> bool:
        answers = [(await api.c.get(path, headers=token)) for path in reads]
        return all(a.status_code == 200 for a in answers)

    await eventually(back, what="the rehired employee's access back")


COERCIONS = [
    ("/v1/programs", {"name": "P", "auto_publish": "yes"}, "auto_publish", "bool_type"),
    ("/v1/programs", {"name": "P", "cross_department": 0}, "cross_department", "bool_type"),
    ("/v1/programs", {"name": "P", "max_timezone_gap_h": "3"}, "max_timezone_gap_h", "int_type"),
    ("/v1/programs", {"name": "P", "max_timezone_gap_h": 3.5}, "max_timezone_gap_h", "int_from_float"),  # noqa: E501
    ("/v1/programs", {"name": "P", "min_score": "0.5"}, "min_score", "float_type"),
    ("/v1/programs", {"name": "P", "rematch_threshold": "3"}, "mentor_low_rating", None),
    (
        "/v1/hris/events",
        {"events": [{"event_id": "1", "type": "hired",
                     "employee": {"id": "e", "name": "E", "level": False}}]},
        "level", "int_type",
    ),
    ("/v1/sessions", {"match_id": "m", "scheduled_at": 0}, "scheduled_at", "value_error"),
    ("/v1/sessions", {"match_id": 7, "scheduled_at": "2030-01-01T10:00Z"}, "match_id", "string_type"),  # noqa: E501
]  # fmt: skip


@pytest.mark.parametrize(("path", "body", "field", "kind"), COERCIONS)
async def test_no_coercion(api: Api, path: str, body: dict, field: str, kind: str | None) -> None:
    headers = api.hris if path == "/v1/hris/events" else api.admin
    r = await api.c.post(path, headers=headers, json=body)
    assert r.status_code == 422, r.text
    error = next(e for e in r.json()["errors"] if field in map(str, e["loc"]))
    assert kind is None or error["type"] == kind, error


async def test_an_integer_is_json_s_integer(api: Api) -> None:
    """JSON (and JSON Schema's `integer`) does not tell 6 from 6.0: both are the integer 6."""
    made = await api.ok(
        "POST", "/v1/programs", expect=201, json={"name": "P", "max_timezone_gap_h": 6.0}
    )
    assert made["max_timezone_gap_h"] == 6 and isinstance(made["max_timezone_gap_h"], int)


async def test_a_year_out_of_range_is_refused_as_the_schema_says(api: Api) -> None:
    """1970 to 2199, as written (the schema's pattern): an offset does not move a time out."""
    pattern = (await api.c.get("/openapi.json")).json()["components"]["schemas"]["SessionCreate"][
        "properties"
    ]["scheduled_at"]["pattern"]
    assert re.match(pattern, "1970-01-01T00:30:00+01:00") and not re.match(pattern, "2200-01-01")
    for when, status in (("2200-01-01T00:00:00Z", 422), ("1969-12-31T23:59:59Z", 422)):
        r = await api.c.post(
            "/v1/sessions", headers=api.admin, json={"match_id": "m", "scheduled_at": when}
        )
        assert r.status_code == status and r.json()["errors"][0]["loc"] == [
            "body",
            "scheduled_at",
        ], r.text
    r = await api.c.get("/v1/reports/kpis", headers=api.admin, params={"from": "2200-01-01"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query", "from"], r.text


async def test_iso_strings_remain_what_they_stand_for(api: Api) -> None:
    program = await api.ok(
        "POST", "/v1/programs", expect=201,
        json={"name": "P", "starts_on": "2030-01-01", "relationship_duration": "P180D",
              "engagement": {"cadence": "P14D"}},
    )  # fmt: skip
    assert (program["starts_on"], program["relationship_duration"]) == ("2030-01-01", "P180D")
    assert program["engagement"]["cadence"] == "P14D"


async def test_a_domain_error_about_a_query_parameter_is_located_in_the_query(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    everyone = await api.items("/v1/participants", params={"program_id": cohort.program_id})
    mentor = next(p for p in everyone if p["role"] == "mentor")
    await eventually(lambda: _known(api, mentor["id"]), what="matching hearing of the mentor")
    r = await api.c.get(
        "/v1/suggestions", headers=api.admin, params={"participant_id": mentor["id"]}
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["query", "participant_id"]


async def _known(api: Api, participant_id: str) -> bool:
    r = await api.c.get(
        "/v1/suggestions", headers=api.admin, params={"participant_id": participant_id}
    )
    return r.status_code != 404
