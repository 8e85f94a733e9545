"""Every request body rejects a field it does not know with a 422 naming it, instead of
dropping it silently (HR would believe its programme's objectives were saved)."""

from __future__ import annotations

import pytest

from tests.helpers import Api

HIRED = {"event_id": "1", "type": "hired", "employee": {"id": "e", "name": "E", "shoe": 42}}
AT = "2030-01-01T10:00:00Z"
BODIES = [
    ("/v1/programs", {"name": "P", "budget_eur": 3}, "budget_eur"),
    ("/v1/participants", {"program_id": "p", "employee_id": "e", "role": "mentee", "x": 1}, "x"),
    ("/v1/hris/events", {"events": [], "source": "workday"}, "source"),
    ("/v1/hris/events", {"events": [HIRED]}, "shoe"),
    ("/v1/participants/x/withdraw", {"reason": "other", "why": "?"}, "why"),
    ("/v1/matching-runs", {"program_id": "p", "dry": True}, "dry"),
    ("/v1/matches/x/accept", {"side": "mentor", "really": True}, "really"),
    ("/v1/matches/x/decline", {"reason": "other", "x": 1}, "x"),
    ("/v1/matches/x/end", {"reason": "completed", "x": 1}, "x"),
    ("/v1/sessions", {"match_id": "m", "scheduled_at": AT, "room": "A"}, "room"),
    ("/v1/sessions/x/complete", {"notes": "n", "x": 1}, "x"),
    ("/v1/sessions/x/cancel", {"reason": "other", "x": 1}, "x"),
    ("/v1/sessions/x/no-show", {"absent": "mentor", "x": 1}, "x"),
    ("/v1/group-sessions", {"program_id": "p", "scheduled_at": AT, "x": 1}, "x"),
    ("/v1/feedback", {"session_id": "s", "rating": 5, "stars": 5}, "stars"),
]


@pytest.mark.parametrize(("path", "body", "unknown"), BODIES)
async def test_an_unknown_field_is_a_422_naming_it(
    api: Api, path: str, body: dict, unknown: str
) -> None:
    headers = api.as_employee("e") if path == "/v1/feedback" else api.admin  # employees rate
    r = await api.c.post(path, headers=headers, json=body)
    assert r.status_code == 422, r.text
    extra = [e for e in r.json()["errors"] if e["type"] == "extra_forbidden"]
    assert extra and extra[0]["loc"][-1] == unknown, r.text
