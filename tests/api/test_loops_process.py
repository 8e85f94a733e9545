"""`binome serve` in two processes (shared.companion): the API process's commits wake the loops
process's relays and timer schedulers at once (here their polls are ten minutes apart, so only
a wake-up can be heard in time); the API's /livez, /status and /metrics speak for the loops
process; a dead loops process is said and replaced; each process ends with the other."""

from __future__ import annotations

import asyncio
import fcntl
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from shared.companion import Companion
from shared.settings import Settings
from tests.api.test_mentor_requests import POLICY, _ask, _cohort
from tests.helpers import Api, child_processes, eventually, free_port, ready
from tests.helpers.metrics import promtool_lint, value

ROOT = Path(__file__).resolve().parents[2]
SLOW_POLLS = {"BINOME_OUTBOX_POLL_INTERVAL_S": "600", "BINOME_TIMER_POLL_INTERVAL_S": "600"}


def _loops_process(pid: int) -> int | None:
    """The loops process `binome serve` (pid) runs, if any (not matching's flow process)."""
    for child in child_processes(pid):
        with suppress(FileNotFoundError):
            if b"--loops-of" in Path(f"/proc/{child}/cmdline").read_bytes():
                return child
    return None


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] == "Z"


def _free(lock: Path) -> bool:
    with lock.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False
        return True


@asynccontextmanager
async def _serving(data: Path, **env: str) -> AsyncIterator[tuple[subprocess.Popen, Api]]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "BINOME_DATA_DIR": str(data), **env},
        stdout=(data.parent / "serve.log").open("ab"),
        stderr=subprocess.STDOUT,
    )
    try:
        await eventually(lambda: ready(url), timeout=120, what="binome serve ready")
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            yield server, Api(client, Settings())
    finally:
        server.terminate()
        server.wait(timeout=60)


async def test_the_api_processs_commits_wake_the_loops_process(tmp_path: Path) -> None:
    async with _serving(tmp_path / "data", **SLOW_POLLS) as (server, api):
        loops = _loops_process(server.pid)
        assert loops is not None
        # The enrolments reach matching (relayed at once: woken, not polled).
        ids = await _cohort(api, requests={**POLICY, "expires_after": "PT1S", "cascade": False})
        # A request arms its expiry in the API process; the loops process's scheduler hears of
        # it and fires it a second later.
        r = await _ask(api, ids, "eve", "bob")
        assert r.status_code == 201, r.text

        async def expired() -> bool:
            rows = await api.items("/v1/mentor-requests", params={"program_id": ids["program"]})
            return [x["status"] for x in rows] == ["expired"]

        await eventually(expired, timeout=30, what="the request's expiry, fired by the loops")
        status = await api.ok("GET", "/status")
        assert status["loops_process"] == {
            "pid": loops,
            "running": True,
            "restarts": 0,
            "answering": True,
        }
        # Its figures are the loops process's: the API process relays and applies nothing.
        assert status["services"]["enrollment"]["relay"]["published"] >= 8
        assert status["services"]["matching"]["consumer"]["applied"] >= 8
        assert status["services"]["matching"]["timers"]["fired"] >= 1


async def test_a_dead_loops_process_is_said_and_replaced(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with _serving(data) as (server, api):
        first = _loops_process(server.pid)
        assert first is not None
        os.kill(first, signal.SIGKILL)

        async def dead() -> Any:
            r = await api.c.get("/livez")
            return r.json() if r.status_code == 503 else None

        assert (await eventually(dead, what="/livez saying so"))["dead_loops"] == ["loops-process"]

        async def alive() -> bool:
            return (await api.c.get("/livez")).status_code == 200

        await eventually(alive, timeout=60, what="a new loops process")
        second = _loops_process(server.pid)
        assert second not in (None, first)
        # It goes on where the first stopped: what is enrolled now reaches matching.
        await _cohort(api)
        status = await api.ok("GET", "/status")
        assert status["loops_process"]["restarts"] == 1
        assert status["loops_process"]["pid"] == second

        # /metrics: the API process's own families, then the loops process's, each family
        # once: the exposition parses, and promtool finds nothing to say.
        text = (await api.c.get("/metrics")).text
        lint = promtool_lint(text)
        assert lint.returncode == 0, lint.stdout + lint.stderr
        families = [f.name for f in text_string_to_metric_families(text)]
        assert len(families) == len(set(families))
        assert value(text, "binome_loops_process_up") == 1
        applied = value(text, "binome_consumer_applied_total", group="binome-matching")
        assert applied is not None and applied >= 8
        assert "binome_http_requests" in families
        assert "binome_matching_run_duration_seconds" in families
        openmetrics = await api.c.get(
            "/metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert openmetrics.text.count("# EOF") == 1 and openmetrics.text.endswith("# EOF\n")
    # The API process stopped (SIGTERM) and stopped its loops process first, leaving no
    # socket behind in the data folder.
    assert _gone(second)
    assert sorted(p.name for p in data.glob(".binome-*.sock")) == []


async def test_the_loops_process_ends_with_the_api_process(tmp_path: Path) -> None:
    data = tmp_path / "data"
    async with _serving(data) as (server, _api):
        loops = _loops_process(server.pid)
        assert loops is not None
        server.kill()  # no time to stop it
        server.wait(timeout=30)
        await eventually(lambda: asyncio.sleep(0, _gone(loops)), what="the loops process ending")
    # Both gone, the data folder is free again (the loops process held its lock too)
    # (the kernel lets go of a dead process's lock a moment after it is gone).
    await eventually(lambda: asyncio.sleep(0, _free(data / ".binome.lock")), what="the lock")


async def test_a_loops_process_that_cannot_start_stops_the_server_starting(
    tmp_path: Path,
) -> None:
    """A loops process ending as it starts (a mistake a restart would repeat) fails the API
    process's start at once, said, instead of restarting it forever."""
    companion = Companion(["false"], tmp_path)
    with pytest.raises(RuntimeError, match="the loops process ended as it started"):
        await asyncio.wait_for(companion.start(), 30)
    assert companion.restarts == 0 and companion.dead_loops() == ["loops-process"]
