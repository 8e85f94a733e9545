"""Schemathesis's CLI against a real `binome serve` process (tests/api/test_fuzz.py on SQLite,
tests/infra/test_fuzz_pg.py on PostgreSQL and Kafka)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from shared.settings import Settings
from tests.helpers import Api, eventually, free_port, topic_prefix

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "api" / "schemathesis.toml"
# The same examples on every run (CI must not be a lottery); FUZZ_RANDOM=1 explores anew.
FIXED = not os.environ.get("FUZZ_RANDOM")


def kafka_pg_env(kafka_bootstrap: str, database_url: str, data_dir: Path) -> dict[str, str]:
    """The BINOME_* settings of a `binome serve` on PostgreSQL and Kafka, topics its own."""
    return {
        "BINOME_DATA_DIR": str(data_dir),
        "BINOME_DATABASE_URL": database_url,
        "BINOME_BUS": "kafka",
        "BINOME_KAFKA_BOOTSTRAP": kafka_bootstrap,
        "BINOME_TOPIC_PREFIX": topic_prefix(),
    }


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`binome serve` on a free port with these BINOME_* settings; its URL once ready."""
    with serving_process(env) as (url, _):
        yield url


@contextmanager
def serving_process(env: dict[str, str]) -> Iterator[tuple[str, int]]:
    """`binome serve` as `serving` starts it: its URL once ready, and its process id."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_")}
    keep = {k: os.environ[k] for k in ("BINOME_JWT_SECRET",) if k in os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env={**clean, **keep, "BINOME_RATE_LIMIT_PER_TOKEN": "off",
                       "BINOME_RATE_LIMIT_PER_ADDRESS": "off", **env},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "binome serve exited"
            time.sleep(0.2)
        else:
            raise AssertionError("binome serve did not become ready")
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def config(folder: Path, seeded: dict[str, list[str]], *, always: bool) -> Path:
    """tests/api/schemathesis.toml, and the seeded ids for their parameters and body fields
    (`match_id` in a path, a query or a body; a mentee's participant id...): drawn from
    dictionaries half of the time, or (`always`) each name's first id in every request,
    documented examples included."""
    bindings = {key: name for name in seeded for key in (name, f"body.{name}")}
    bindings |= {f"body.{field}": name for field, name in ALIASES.items()}
    lines = [CONFIG.read_text(), "", "[parameters]"]
    for key, name in bindings.items():
        value = (
            json.dumps(seeded[name][0])
            if always
            else (f'{{ dictionary = "{name}", probability = {SEEDED_SHARE} }}')
        )
        lines.append(f'"{key}" = {value}')
    for name, ids in seeded.items():
        lines += ["", f"[dictionaries.{name}]", f"values = {json.dumps(ids)}"]
    written = folder / "schemathesis.toml"
    written.write_text("\n".join(lines) + "\n")
    return written


def schemathesis(
    url: str,
    token: str,
    folder: Path,
    *,
    phases: str,
    max_examples: int,
    seeded: dict[str, list[str]],
    always: bool = False,
) -> tuple[int, int]:
    """Every check of schemathesis's CLI over `phases`, `seeded` ids drawn for their
    parameters; fails the test, with the failures, unless none. Returns (operations tested,
    cases generated), from its summary."""
    tool = Path(sys.executable).parent / "schemathesis"
    ran = subprocess.run(
        [str(tool), "--config-file", str(config(folder, seeded, always=always)), "run",
         f"{url}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "all", "--phases", phases,
         "--max-examples", str(max_examples if FIXED else 10 * max_examples), "--workers", "2",
         *(["--generation-deterministic"] if FIXED else []),
         "--wait-for-schema", "60", "--no-color"],
        cwd=folder, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    summary = ran.stdout[ran.stdout.find("SUMMARY") :]
    # What went wrong, above the summary: the FAILURES section, and ERRORS (the tool's own).
    starts = [i for i in (ran.stdout.find("ERRORS"), ran.stdout.find("FAILURES")) if i >= 0]
    failures = ran.stdout[min(starts, default=0) : ran.stdout.find("SUMMARY")]
    assert ran.returncode == 0, failures[:8000] + summary + ran.stderr[-2000:]
    print(summary)  # operations, phases and cases, for the log
    tested = int(summary.split("Tested: ")[1].split()[0])
    generated = int(summary.split("Test cases:")[1].split("generated")[0].strip())
    return tested, generated


# Real objects for the fuzzer to reach past "not found": one programme with its people, a
# matching run, an active relationship with its agreement (a goal and a milestone), a held and
# rated session and a planned one, an assessment, a circle meeting, a mentor request, a
# calendar feed and a dashboard link. Their ids become schemathesis dictionaries, drawn for the
# parameters of the same name half of the time (the other half stays random).
SEEDED_SHARE = 0.5
# Body fields holding ids of a seeded kind under another name.
ALIASES = {
    "mentee_participant_id": "participant_id",
    "mentor_participant_id": "participant_id",
    "mentor_employee_id": "employee_id",
}


async def _once_heard(
    client: httpx.AsyncClient, method: str, path: str, body: Any, headers: Any, expect: int
) -> Any:
    """The answer to a request that succeeds once its service has heard an earlier event
    (404 or 409 until then); its body."""

    async def attempt() -> Any:
        r = await client.request(method, path, json=body, headers=headers)
        return r.json() if r.status_code == expect else None

    return await eventually(attempt, timeout=60, what=f"{method} {path} answering {expect}")


async def seed(url: str, settings: Settings, org: str) -> dict[str, list[str]]:
    """Objects of every kind in `org`, made through the API; their ids by parameter name."""
    async with httpx.AsyncClient(base_url=url, timeout=30) as client:
        api = Api(client, settings, org=org)
        tag = uuid.uuid4().hex[:6]
        ann, bob, eve, fay = (f"{n}-{tag}" for n in ("ann", "bob", "eve", "fay"))
        await api.hire(
            *[
                {"id": e, "name": e, "level": lvl, "department": "Engineering", "languages": ["fr"]}
                for e, lvl in ((ann, 8), (bob, 7), (eve, 2), (fay, 3))
            ],
            prefix=tag,
        )
        requests = {"enabled": True, "expires_after": "P14D", "max_open": 2, "cascade": True}
        pid = (await api.program({"name": f"Fuzz {tag}", "requests": requests}))["id"]
        mentors = [
            await api.enrol(pid, e, "mentor", skills_offered=["python"], capacity=1)
            for e in (ann, bob)
        ]
        mentees = [await api.enrol(pid, e, "mentee", skills_sought=["python"]) for e in (eve,)]

        async def run() -> Any:  # matching hears of enrolments as events
            r = await client.post("/v1/matching-runs", json={"program_id": pid}, headers=api.admin)
            if r.status_code != 201 or r.json()["matched"] != 1:
                return None
            # A draft made before matching heard the last enrolment is refused (409: the
            # cohort changed since): run again, as a client would.
            published = await client.post(
                f"/v1/matching-runs/{r.json()['id']}/publish", headers=api.admin
            )
            return r.json() if published.status_code == 200 else None

        draft = await eventually(run, timeout=60, what="matching hearing of the cohort")
        (match,) = await api.matches(run_id=draft["id"])
        mid = match["id"]
        mentee, mentor = api.as_employee(eve), api.as_employee(match["mentor_employee_id"])
        for side in (mentee, mentor):
            await api.ok("POST", f"/v1/matches/{mid}/accept", json={}, headers=side)
        other = next(m for m in mentors if m["employee_id"] != match["mentor_employee_id"])
        mentees.append(await api.enrol(pid, fay, "mentee", skills_sought=["python"]))
        asked = {"mentee_participant_id": mentees[1]["id"], "mentor_participant_id": other["id"]}
        fay_asks = api.as_employee(fay)
        mentor_request = await _once_heard(
            client, "POST", "/v1/mentor-requests", asked, fay_asks, 201
        )
        goal = {
            "id": "data",
            "title": "Query our data",
            "skills": ["python"],
            "milestones": [{"id": "first", "title": "A first query", "due_on": "2030-01-01"}],
        }
        terms = {"goals": [goal], "rhythm": "P14D"}
        await _once_heard(client, "PUT", f"/v1/agreements/{mid}", terms, mentee, 200)
        for side in (mentee, mentor):
            await api.ok("POST", f"/v1/agreements/{mid}/confirm", headers=side)
        past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
        held = await api.ok(
            "POST",
            "/v1/sessions",
            headers=mentee,
            expect=201,
            json={"match_id": mid, "scheduled_at": past},
        )
        await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentor)
        soon = (datetime.now(UTC) + timedelta(days=7)).isoformat()
        planned = await api.ok(
            "POST",
            "/v1/sessions",
            headers=mentee,
            expect=201,
            json={"match_id": mid, "scheduled_at": soon},
        )
        rating = {"session_id": held["id"], "rating": 4, "comment": "useful"}
        feedback = await _once_heard(client, "POST", "/v1/feedback", rating, mentee, 201)
        await api.ok(
            "POST",
            "/v1/assessments",
            headers=mentee,
            expect=201,
            json={"match_id": mid, "phase": "baseline", "ratings": {"python": 2}},
        )
        meeting = {
            "program_id": pid,
            "scheduled_at": soon,
            "mentor_employee_id": match["mentor_employee_id"],
        }
        group = await _once_heard(client, "POST", "/v1/group-sessions", meeting, api.admin, 201)
        feed = await api.ok("POST", "/v1/calendar-feeds", json={}, headers=mentee, expect=201)
        link = await _once_heard(  # once reporting has heard of the programme
            client,
            "POST",
            "/v1/reports/dashboard-links",
            {"program_id": pid, "expires_in": "PT1H"},
            api.admin,
            201,
        )
        return {
            "program_id": [pid],
            # The mentee of the relationship first, then a mentee outside it.
            "participant_id": [p["id"] for p in (*mentees, *mentors)],
            "employee_id": [eve, fay, ann, bob],
            "run_id": [draft["id"]],
            "match_id": [mid],
            "request_id": [mentor_request["id"]],
            "session_id": [held["id"], planned["id"]],
            "feedback_id": [feedback["id"]],
            "goal_id": ["data"],
            "milestone_id": ["first"],
            "group_id": [group["group_id"]],
            "feed_id": [feed["id"]],
            "token": [
                feed["url"].rsplit("/", 1)[-1].removesuffix(".ics"),
                link["url"].rsplit("/", 1)[-1],
            ],
        }
