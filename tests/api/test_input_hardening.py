"""Inputs that used to answer 500, or to be stored and fail later, answer a clear 422 (issue
13, bounded inputs): non-finite numbers, lone surrogates, NUL characters in a body, a path or
a query, far-off dates, time zones the tz database does not know; and a 422 never echoes a
large body back."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx

from tests.helpers import Api, process_memory_kib
from tests.helpers.fuzz import serving_process

JSON = {"content-type": "application/json"}


async def _post(api: Api, path: str, raw: str, headers: dict[str, str]) -> object:
    return await api.c.post(path, content=raw.encode(), headers={**headers, **JSON})


async def test_bodies_that_json_cannot_carry_are_a_422(api: Api) -> None:
    for raw in (
        '{"name": "x", "min_score": NaN, "weights": {"zz": 1}}',
        '{"name": "x", "min_score": Infinity}',
        '{"name": "x", "min_score": 1e400, "weights": {"zz": 1}}',
        '{"name": "\\ud800"}',
        '{"name": "a\\u0000b"}',
        '{"name": "ok", "description": "x\\u0000"}',
    ):
        r = await _post(api, "/v1/programs", raw, api.admin)
        assert r.status_code == 422, (raw, r.status_code, r.text)
        assert r.json()["errors"][0]["type"] == "json_invalid", raw
    assert await api.items("/v1/programs") == []  # nothing written


async def test_nul_in_a_path_or_query_is_a_422(api: Api) -> None:
    assert (await api.c.get("/v1/programs/a%00b", headers=api.admin)).status_code == 422
    r = await api.c.get("/v1/participants?program_id=a%00", headers=api.admin)
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["query"], r.text
    # ...as the document says of every string parameter of the URL.
    document = (await api.c.get("/openapi.json")).json()
    parameter = document["paths"]["/v1/participants"]["get"]["parameters"][0]
    assert parameter["name"] == "program_id"
    assert parameter["schema"]["anyOf"][0]["pattern"] == "^[^\\x00]*$", parameter


async def test_far_off_dates_and_unknown_time_zones_are_refused(api: Api) -> None:
    def hired(event_id: str, **employee: object) -> dict[str, object]:
        person = {"id": event_id, "name": "Z", "languages": ["fr"], **employee}
        return {"event_id": event_id, "type": "hired", "employee": person}

    far = {**hired("far"), "occurred_at": "9999-12-31T23:59:59-14:00"}
    for event, field in (
        (far, "occurred_at"),
        (hired("folder", timezone="America"), "timezone"),
        (hired("mars", timezone="Mars/Olympus"), "timezone"),
    ):
        r = await api.c.post("/v1/hris/events", headers=api.hris, json={"events": [event]})
        assert r.status_code == 422 and field in r.text, (event, r.text)
    fine = await api.c.post(
        "/v1/hris/events",
        headers=api.hris,
        json={"events": [hired("paris", timezone="Europe/Paris")]},
    )
    assert fine.status_code == 200
    assert [e["id"] for e in await api.items("/v1/employees")] == ["paris"]
    r = await api.c.post(
        "/v1/sessions",
        headers=api.admin,
        json={"match_id": "m", "scheduled_at": "0001-01-01T00:00:00+14:00"},
    )
    assert r.status_code == 422 and "scheduled_at" in r.text


async def test_a_422_never_echoes_a_large_body(api: Api) -> None:
    events = [
        {"event_id": f"e{k}", "type": "hired", "employee": {"id": f"e{k}"}} for k in range(2000)
    ]
    r = await api.c.post("/v1/hris/events", headers=api.hris, json={"events": events})
    assert r.status_code == 422
    assert len(r.content) < 20_000, len(r.content)  # 2,000 bad events, a bounded answer
    errors = r.json()["errors"]
    assert len(errors) <= 20 and all(len(str(d.get("input", ""))) <= 210 for d in errors)


async def test_bodies_are_bounded_before_anything_is_parsed_or_authenticated(api: Api) -> None:
    big = '{"name": "' + "x" * 2_000_000 + '"}'
    r = await api.c.post("/v1/programs", content=big.encode(), headers=JSON)  # no token
    assert r.status_code == 413 and "larger than 1000000 bytes" in r.text
    r = await _post(api, "/v1/programs", big, api.admin)
    assert r.status_code == 413

    async def chunks() -> Any:  # no declared length: read only up to the limit
        for _ in range(20):
            yield b" " * 100_000

    r = await api.c.post("/v1/programs", content=chunks(), headers={**api.admin, **JSON})
    assert r.status_code == 413
    # An HRIS batch has room for 10,000 events: 1.3 MB is fine (1,500 large events: each is
    # applied and published, so fewer make the test quicker).
    events = [
        {"event_id": f"big-{k}-" + "e" * 150, "type": "hired",
         "employee": {"id": f"big-{k}", "name": "N" * 190, "department": "D" * 190,
                      "location": "L" * 190, "languages": ["fr"]}}
        for k in range(1500)
    ]  # fmt: skip
    r = await api.c.post("/v1/hris/events", headers=api.hris, json={"events": events})
    assert len(r.request.content) > 1_000_000 and r.status_code == 200
    assert await api.items("/v1/programs") == []


async def test_an_integer_beyond_64_bits_in_a_failing_body_is_a_422(api: Api) -> None:
    """JSON allows any integer; the 422 naming it must still encode (it was a 500)."""
    body = b'{"name": "P", "max_timezone_gap_h": 18446744073709551616123}'
    r = await api.c.post(
        "/v1/programs", headers={**api.admin, "content-type": "application/json"}, content=body
    )
    assert r.status_code == 422, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "max_timezone_gap_h"]


def _rss_bytes(pid: int) -> int:
    return process_memory_kib(pid, "VmRSS") * 1024


async def test_memory_stays_flat_under_parallel_oversized_unauthenticated_bodies(
    tmp_path: Path,
) -> None:
    """16 clients at once send 40 MB bodies without a token to a real `binome serve`, half
    with their length declared, half streamed without one: each is refused (413) after at
    most the 1 MB limit was read, so the process grows by a few MB, not by the 640 MB sent."""
    chunk = b" " * 1_000_000

    async def streamed() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield chunk

    async def send(c: httpx.AsyncClient, declared: bool) -> int | str:
        headers = {**JSON, **({"content-length": str(40 * len(chunk))} if declared else {})}
        try:
            r = await c.post("/v1/programs", content=streamed(), headers=headers)
        except httpx.TransportError as exc:  # the server closed while the body was still sent
            return type(exc).__name__
        return r.status_code

    with serving_process({"BINOME_DATA_DIR": str(tmp_path / "data")}) as (url, pid):
        async with httpx.AsyncClient(base_url=url, timeout=60) as c:
            await send(c, True)  # the server's buffers as they are after one refusal
            before = _rss_bytes(pid)
            answers = await asyncio.gather(*(send(c, k % 2 == 0) for k in range(16)))
            grown = _rss_bytes(pid) - before
            assert (await c.get("/readyz")).status_code == 200
    assert set(answers) <= {413, "WriteError", "RemoteProtocolError", "ReadError"}, answers
    assert answers.count(413) >= 8, answers
    assert grown < 64_000_000, f"the server grew by {grown / 1e6:.0f} MB"


async def test_lists_strings_and_ids_are_bounded(api: Api) -> None:
    """What tests/unit/test_bounds.py finds stated, the server enforces: 10,000 skills, a
    5,000-character name in a PATCH (the patch keeps the create's bounds), a 300-character
    id in a path, each a 422 naming it, and nothing stored."""
    pid = (await api.program({"name": "Bounded"}))["id"]
    await api.hire({"id": "ann", "name": "Ann", "languages": ["fr"]})
    enrol = {"program_id": pid, "employee_id": "ann", "role": "mentor"}
    for field, value in (
        ("skills_offered", [f"s{k}" for k in range(10_000)]),
        ("skills_offered", ["x" * 101]),
        ("themes", [f"t{k}" for k in range(51)]),
    ):
        r = await api.c.post("/v1/participants", headers=api.admin, json={**enrol, field: value})
        assert r.status_code == 422 and field in r.text, (field, r.text[:300])
    assert await api.items("/v1/participants", params={"program_id": pid}) == []
    r = await api.c.patch(f"/v1/programs/{pid}", headers=api.admin, json={"name": "n" * 5000})
    assert r.status_code == 422 and '"name"' in r.text, r.text[:300]
    assert (await api.ok("GET", f"/v1/programs/{pid}"))["name"] == "Bounded"
    r = await api.c.get(f"/v1/programs/{'p' * 300}", headers=api.admin)
    assert r.status_code == 422 and "program_id" in r.text, r.text[:300]
