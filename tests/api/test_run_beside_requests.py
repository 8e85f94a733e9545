"""A long matching run does not hold up the API: the solve and the heavy conversions run off
the event loop, so a request sent while a cohort's run is under way answers before the run
ends (an ordering, not a timing: nothing here depends on how fast the machine is)."""

from __future__ import annotations

import asyncio
import random
import sys
import time

from shared.app import SWITCH_INTERVAL
from tests.helpers import Api, eventually

MENTEES, MENTORS = 1_500, 300


async def _cohort(api: Api) -> str:
    rng = random.Random(3)
    skills = [f"s{i}" for i in range(30)]
    await api.hire(
        *[
            {"id": f"e{i}", "name": f"E{i}", "level": 1 + i % 10, "languages": ["fr"]}
            for i in range(MENTEES + MENTORS)
        ]
    )
    pid = str((await api.program({"name": "Big"}))["id"])
    lines = [
        {"program_id": pid, "employee_id": f"e{i}", "role": "mentor",
         "skills_offered": rng.sample(skills, 4), "capacity": 5}
        for i in range(MENTORS)
    ] + [
        {"program_id": pid, "employee_id": f"e{i}", "role": "mentee",
         "skills_sought": rng.sample(skills, 2), "answers": [rng.randint(1, 5) for _ in range(4)]}
        for i in range(MENTORS, MENTORS + MENTEES)
    ]  # fmt: skip
    for k in range(0, len(lines), 1_000):
        await api.ok("POST", "/v1/participants/batch", json={"participants": lines[k : k + 1_000]})
    return pid


async def test_a_request_sent_during_a_run_answers_before_the_run_ends(api: Api) -> None:
    pid = await _cohort(api)

    async def heard() -> bool:  # matching knows the whole cohort
        last = await api.items(f"/v1/participants?program_id={pid}&role=mentee")
        r = await api.c.get(
            "/v1/suggestions", headers=api.admin, params={"participant_id": last[-1]["id"]}
        )
        return r.status_code == 200 and r.json()["none_because"] != "no_mentor"

    await eventually(heard, timeout=120, interval=0.5, what="matching hearing of the cohort")
    run = asyncio.create_task(
        api.c.post("/v1/matching-runs", headers=api.admin, json={"program_id": pid})
    )
    answered_during_run = []
    while not run.done():
        r = await api.c.get(f"/v1/programs/{pid}", headers=api.admin)
        assert r.status_code == 200
        if not run.done():
            answered_during_run.append(time.monotonic())
        await asyncio.sleep(0.02)
    result = await run
    assert result.status_code == 201, result.text
    assert result.json()["matched"] > MENTEES // 2
    # Several requests sent after the run began came back while it was still going.
    assert len(answered_during_run) >= 3, answered_during_run
    # The engine's thread hands the GIL back to the event loop within a millisecond.
    assert sys.getswitchinterval() == SWITCH_INTERVAL
