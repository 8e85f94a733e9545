"""The data subject's rights as tests/api/test_gdpr.py (SQLite) and tests/infra/test_gdpr_pg.py
(PostgreSQL, Kafka) check them: one scenario, each database read its own way."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
from aiokafka.admin import AIOKafkaAdminClient
from sqlalchemy.engine import make_url

from services import SERVICE_NAMES
from services.cli import in_flight
from shared.messaging.kafka_bus import KafkaBus
from tests.helpers import Api, binome_cli, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

COMMENT = "Eve wrote this about her mentor's patience"
EMAIL = "eve.mentee@acme.com"

Rows = dict[str, list[tuple[str, str]]]  # service -> (table, a row as text)
# One read an employee may make of each service (enrollment, matching, sessions, feedback,
# reporting).
EMPLOYEE_READS = (
    "/v1/programs", "/v1/matches", "/v1/sessions", "/v1/feedback",
    "/v1/recognition/employees/{eve}",
)  # fmt: skip
Log = Callable[[], Awaitable[list[str]]]  # every record the event log holds, as text
# The CLI's purge, forgetting at once whatever every group has read (and every dead letter).
FORGET_NOW = {"BINOME_EVENT_RETENTION": "PT0S", "BINOME_DEAD_LETTER_RETENTION": "PT0S"}


async def _settled(api: Api) -> None:
    async def done() -> bool:
        r = await api.c.get("/status", headers=api.admin)
        return r.status_code == 200 and in_flight(r.json()) is None

    await eventually(done, timeout=60, what="nothing left in flight")


async def _mentee_with_history(api: Api) -> tuple[str, dict[str, Any]]:
    """A mentee with an email, a held session she rated with a comment and a calendar feed."""
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    eve, mid = cohort.mentee, match["id"]
    me = {"id": eve, "name": "Eve Mentee", "email": EMAIL, "department": "Marketing", "level": 2}
    await api.ok(
        "POST", "/v1/hris/events", headers=api.hris,
        json={"events": [{"event_id": f"mail-{eve}", "type": "updated", "employee": me}]},
    )  # fmt: skip
    mentee, mentor = api.as_employee(eve), api.as_employee(match["mentor_employee_id"])
    at = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    body = {"match_id": mid, "scheduled_at": at, "duration_minutes": 60}

    async def planned() -> Any:  # 404 until sessions hears of the match
        r = await api.c.post("/v1/sessions", headers=mentee, json=body)
        return r.json() if r.status_code == 201 else None

    held = await eventually(planned, what="sessions hearing of the match")
    await api.ok("POST", f"/v1/sessions/{held['id']}/complete", json={}, headers=mentor)

    async def rated() -> Any:  # 404 until feedback hears the session was held
        rating = {"session_id": held["id"], "rating": 5, "comment": COMMENT}
        r = await api.c.post("/v1/feedback", headers=mentee, json=rating)
        return r.json() if r.status_code == 201 else None

    await eventually(rated, what="feedback hearing of the held session")
    await api.ok("POST", "/v1/calendar-feeds", headers=mentee, json={}, expect=201)
    await _settled(api)
    return eve, match


def sqlite_rows(data_dir: Path) -> Callable[[], Awaitable[Rows]]:
    """Every row of every service's SQLite database, as text."""

    async def rows() -> Rows:
        return _sqlite_rows(data_dir)

    return rows


def _sqlite_rows(data_dir: Path) -> Rows:
    found: dict[str, list[tuple[str, str]]] = {}
    for service in SERVICE_NAMES:
        db = sqlite3.connect(data_dir / f"{service}.db")
        try:
            tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
            found[service] = [
                (table, " | ".join(str(v) for v in row))
                for table in tables
                for row in db.execute(f'SELECT * FROM "{table}"')  # noqa: S608 (their names)
            ]
        finally:
            db.close()
    return found


def pg_rows(url_template: str) -> Callable[[], Awaitable[Rows]]:
    """Every row of every service's PostgreSQL database (schema public), as text."""

    async def rows() -> Rows:
        found: Rows = {}
        for service in SERVICE_NAMES:
            url = make_url(url_template.format(service=service))
            conn = await asyncpg.connect(
                host=url.host, port=url.port, user=url.username, password=url.password,
                database=url.database,
            )  # fmt: skip
            try:
                tables = await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
                )
                found[service] = [
                    (t["tablename"], " | ".join(str(v) for v in row.values()))
                    for t in tables
                    for row in await conn.fetch(f'SELECT * FROM "{t["tablename"]}"')
                ]
            finally:
                await conn.close()
        return found

    return rows


def sqlite_log(data_dir: Path) -> Log:
    """Every record of the embedded bus's log, as text."""

    async def records() -> list[str]:
        db = sqlite3.connect(data_dir / "bus.db")
        try:
            return [
                f"{topic} | {key} | {headers} | {value.decode(errors='replace')}"
                for topic, key, headers, value in db.execute(
                    "SELECT topic, key, headers, value FROM log"
                )
            ]
        finally:
            db.close()

    return records


def kafka_log(bootstrap: str, prefix: str) -> Log:
    """Every record of every topic of this deployment (its prefix), dead letters included."""

    async def records() -> list[str]:
        bus = KafkaBus(bootstrap, client_id="gdpr-test")
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
        await admin.start()
        try:
            topics = [t for t in await admin.list_topics() if t.startswith(prefix)]
        finally:
            await admin.close()
        return [
            f"{m.topic} | {m.key} | {m.headers} | {(m.value or b'').decode(errors='replace')}"
            for topic in sorted(topics)
            for m in await bus.read_topic(topic)
        ]

    return records


def _clean(where: str, row: str, eve: str, org: str) -> bool:
    """Nothing of her in the row (another organisation's employee of the same id aside)."""
    assert "Eve Mentee" not in row and EMAIL not in row, (where, row)
    assert COMMENT not in row, (where, row)
    if eve in row:
        assert f"{org}-globex" in row, (where, row)
    return True


async def _nowhere(rows: Callable[[], Awaitable[Rows]], eve: str, org: str) -> None:
    for service, held_rows in (await rows()).items():
        for table, row in held_rows:
            _clean(f"{service}.{table}", row, eve, org)


async def exported_then_erased(
    api: Api,
    env: dict[str, str],
    rows: Callable[[], Awaitable[Rows]],
    log: Log,
    later: Callable[[], object] | None = None,
) -> None:
    """The scenario: a mentee's history exported, then erased; `env`: the CLI's settings.
    A rebuild replays the topics in event time, so the erasure must come after her history:
    with a test's clock that does not move on its own, `later` moves it, and she leaves the
    company before (her termination's events, else stamped the erasure's time, would come
    in either order); without, the erasure terminates her itself."""
    org = api.org
    eve, match = await _mentee_with_history(api)
    globex = Api(api.c, api.settings, org=f"{org}-globex")
    await globex.hire({"id": eve, "name": "Eve of Globex"})

    # The export: every service's records about her, in one document.
    r = await binome_cli("gdpr", "export", "--org", org, eve, env=env)
    assert r.returncode == 0, r.stderr
    held = json.loads(r.stdout)["services"]
    assert held["enrollment"]["employee"][0]["email"] == EMAIL
    assert [p["role"] for p in held["enrollment"]["participant"]] == ["mentee"]
    assert [m["id"] for m in held["matching"]["match"]] == [match["id"]]
    assert len(held["sessions"]["mentoring_session"]) == 1 and held["sessions"]["calendar_feed"]
    assert "token_sha256" not in held["sessions"]["calendar_feed"][0]  # no credential digest
    assert [f["comment"] for f in held["feedback"]["feedback"]] == [COMMENT]
    assert held["reporting"]["employee"][0]["name"] == "Eve Mentee"
    unknown = await binome_cli("gdpr", "export", "--org", org, "nobody", env=env)
    assert unknown.returncode == 2 and "no data held on employee 'nobody'" in unknown.stderr

    # The erasure: refused to employees, unknown ids answered 404, a second request the first.
    r = await api.c.post(f"/v1/employees/{eve}/erasure", headers=api.as_employee(eve))
    assert r.status_code == 403
    r = await api.c.post("/v1/employees/nobody/erasure", headers=api.admin)
    assert r.status_code == 404 and "employee not found" in r.text
    if later is not None:
        leave = {"event_id": f"leave-{eve}", "type": "terminated", "employee_id": eve}
        await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [leave]})
        await _settled(api)  # its consequences (her match ended...) stamped before the move
        later()
    her_token = api.as_employee(eve)  # minted before her erasure
    erasure = await api.ok("POST", f"/v1/employees/{eve}/erasure", expect=202)
    assert erasure["pseudonym"].startswith("erased-")
    # Asked again: the same erasure while enrollment has not applied it yet, else (her record
    # gone) the employee is unknown; never a second erasure.
    again = await api.c.post(f"/v1/employees/{eve}/erasure", headers=api.admin)
    if again.status_code == 200:
        assert again.json()["id"] == erasure["id"]
    else:
        assert again.status_code == 404 and "employee not found" in again.text, again.text

    async def complete() -> Any:  # 404 until reporting hears of it
        r = await api.c.get(f"/v1/reports/erasures/{erasure['id']}", headers=api.admin)
        return r.json() if r.status_code == 200 and r.json()["completed_at"] else None

    status = await eventually(complete, timeout=60, what="every service confirming")
    assert status["pending"] == [] and set(status["confirmed"]) == set(SERVICE_NAMES)
    assert status["pseudonym"] == erasure["pseudonym"]
    await _settled(api)
    # Her tokens stay refused by every service (her revocation kept as a digest of her id);
    # the other organisation's Eve is served.
    for path in EMPLOYEE_READS:
        r = await api.c.get(path.format(eve=eve), headers=her_token)
        assert r.status_code == 401 and "access has ended" in r.text, (path, r.text)
        theirs = await api.c.get(path.format(eve=eve), headers=globex.as_employee(eve))
        assert theirs.status_code == 200, (path, theirs.text)

    # No database holds her id, name, email or words (another organisation's Eve aside)...
    await _nowhere(rows, eve, org)
    pid = match["program_id"]
    kpis = await api.ok("GET", f"/v1/reports/programs/{pid}/kpis")
    # ... even once reporting's projection is rebuilt from its archive (scrubbed like the
    # rest: her events replayed under the pseudonym, each still valid under its contract).
    rebuilt = await binome_cli("reporting", "rebuild", env=env)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert "(0 undecodable or off contract, skipped; the switch" in rebuilt.stdout, rebuilt.stdout
    await _nowhere(rows, eve, org)
    assert await api.ok("GET", f"/v1/reports/programs/{pid}/kpis") == kpis  # the same figures
    r = await api.c.get(f"/v1/employees/{eve}", headers=api.admin)
    assert r.status_code == 404
    theirs = await globex.ok("GET", f"/v1/employees/{eve}")
    assert theirs["name"] == "Eve of Globex"
    gone = await binome_cli("gdpr", "export", "--org", org, eve, env=env)
    assert gone.returncode == 2

    # What she took part in still counts, under the pseudonym.
    relationship = await api.ok("GET", f"/v1/reports/relationships/{match['id']}")
    assert relationship["sessions_completed"] == 1
    kept = await api.ok("GET", f"/v1/matches/{match['id']}")
    assert kept["mentee_employee_id"] == erasure["pseudonym"]
    assert (await api.ok("POST", f"/v1/employees/{eve}/erasure", expect=404)) is not None

    # The event log cannot be edited: her events leave it by being forgotten once every
    # group has read them and the retention has passed (here at once: FORGET_NOW).
    assert any("Eve Mentee" in record for record in await log())
    await _settled(api)

    async def forgotten() -> bool:  # a group's last commit may follow its last delivery
        purged = await binome_cli("events", "purge", env=env | FORGET_NOW)
        assert purged.returncode == 0, purged.stderr
        return all(eve not in record or f"{org}-globex" in record for record in await log())

    await eventually(forgotten, timeout=60, interval=1, what="the log forgetting her")
    for record in await log():
        _clean("event log", record, eve, org)
