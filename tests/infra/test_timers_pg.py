"""Durable timers on PostgreSQL with separate processes: a process SIGKILLed while timers fire
leaves each of them fired exactly once in effect after its restart, and two replicas of a
service share the due timers without ever both firing one (FOR UPDATE SKIP LOCKED).

The testkit's timer handler is deliberately not idempotent (a row per firing), so a timer
fired twice in effect would show as two rows."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import uuid
from pathlib import Path

import httpx
import pytest

from tests.helpers import eventually, free_port, ready, spawn_testkit, topic_prefix

pytestmark = pytest.mark.infra


async def _counts(client: httpx.AsyncClient, run: str) -> dict[str, int]:
    return (await client.get(f"/v1/testkit/{run}")).json()


async def _fired(client: httpx.AsyncClient, run: str, n: int) -> dict[str, int] | None:
    counts = await _counts(client, run)
    return counts if counts["distinct"] >= n else None


async def test_sigkill_while_timers_fire_then_restart_fires_each_once(
    kafka_bootstrap: str,
    pg_databases,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = await pg_databases([name])
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log, prefix, run, n = tmp_path / "timers.log", topic_prefix(), uuid.uuid4().hex[:10], 5000

    def spawn() -> subprocess.Popen:
        return spawn_testkit(
            name, port, kafka_bootstrap, url, prefix, log, timer_poll_interval_s="0.05"
        )

    proc = spawn()
    try:
        async with httpx.AsyncClient(base_url=base, timeout=30) as client:
            await eventually(lambda: ready(base), timeout=60, what="testkit ready")
            armed = await client.post(f"/v1/testkit/{run}/timers", json={"count": n})
            assert armed.status_code == 201
            at_kill = await eventually(
                lambda: _fired(client, run, 500), interval=0.01, what="timers firing"
            )
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=10)
            assert at_kill["rows"] < n, "every timer fired before the kill; arm more"

            proc = spawn()
            await eventually(lambda: ready(base), timeout=60, what="testkit restarted")
            await eventually(lambda: _fired(client, run, n), timeout=120, what="all timers")
            await asyncio.sleep(1.0)  # a timer fired twice would show up meanwhile
            final = await _counts(client, run)
    finally:
        proc.kill()
        proc.wait(timeout=10)
    assert final == {"rows": n, "distinct": n, "total": n}, log.read_text()[-3000:]


async def test_two_replicas_share_due_timers_and_never_fire_one_twice(
    kafka_bootstrap: str,
    pg_databases,
    tmp_path: Path,  # type: ignore[no-untyped-def]
) -> None:
    name = f"testkit_{uuid.uuid4().hex[:8]}"
    url = await pg_databases([name])
    ports = [free_port(), free_port()]
    log, prefix, run, n = tmp_path / "replicas.log", topic_prefix(), uuid.uuid4().hex[:10], 6000
    procs = [
        spawn_testkit(name, port, kafka_bootstrap, url, prefix, log, timer_poll_interval_s="0.02")
        for port in ports
    ]
    try:
        for port in ports:
            base = f"http://127.0.0.1:{port}"
            await eventually(lambda base=base: ready(base), timeout=60, what="replica ready")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{ports[0]}", timeout=30) as c:
            # Due in a second, so that both replicas are polling when they come due.
            armed = await c.post(f"/v1/testkit/{run}/timers", json={"count": n, "due_in": "PT1S"})
            assert armed.status_code == 201
            await eventually(lambda: _fired(c, run, n), timeout=120, what="all timers fired")
            await asyncio.sleep(1.0)
            final = await _counts(c, run)
            by_process = (await c.get(f"/v1/testkit/{run}/processes")).json()
    finally:
        for proc in procs:
            proc.kill()
            proc.wait(timeout=10)
    assert final == {"rows": n, "distinct": n, "total": n}, log.read_text()[-3000:]
    assert len(by_process) == 2, f"one replica fired them all: {by_process}"
