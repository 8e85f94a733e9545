"""Logs: JSON lines from a service process (time, level, service, trace and span ids, tenant),
plain lines from the embedded one, and the event being applied on a consumer's records."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import secrets
import signal
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from shared import logs
from shared.auth import Role, mint_token
from shared.settings import Settings
from tests import testkit
from tests.helpers import eventually, free_port, ready

ROOT = Path(__file__).resolve().parents[2]


def _records(log: Path) -> list[dict]:
    """Every line of a JSON log (each must be one JSON object)."""
    return [json.loads(line) for line in log.read_text().splitlines()]


@asynccontextmanager
async def _serve(tmp_path: Path, *args: str, **env: str) -> AsyncIterator[tuple[str, Path]]:
    """`binome serve ARGS` as its own process; its URL and the file its output goes to."""
    port = free_port()
    out = tmp_path / "serve.log"
    environment = dict(os.environ, BINOME_DATA_DIR=str(tmp_path / "data"), **env)
    environment.pop("BINOME_LOG_FORMAT", None)
    environment.update(env)
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port), *args],
        cwd=ROOT,
        env=environment,
        stdout=out.open("wb"),
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        await eventually(lambda: ready(url), timeout=120, what="binome serve ready")
        yield url, out
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


async def test_a_service_writes_json_lines_with_its_trace_and_tenant(tmp_path: Path) -> None:
    org, trace_id = f"acme-{uuid.uuid4().hex[:6]}", secrets.token_hex(16)
    async with _serve(tmp_path, "--service", "enrollment") as (url, out):
        token = mint_token(Settings(), org=org, role=Role.admin)
        headers = {
            "Authorization": f"Bearer {token}",
            "traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01",
        }
        async with httpx.AsyncClient(base_url=url) as c:
            assert (await c.get("/v1/programs", headers=headers)).status_code == 200

        async def access_line(out: Path = out) -> dict | None:
            for record in _records(out):
                if record.get("logger") == "uvicorn.access" and "/v1/programs" in record["message"]:
                    return record
            return None

        record = await eventually(access_line, timeout=10, what="the request's access line")
    lines = _records(out)
    assert any(r["message"] == "Application startup complete." for r in lines)
    assert {r["service"] for r in lines} == {"enrollment"}
    assert not any("color_message" in r for r in lines)
    assert record["level"] == "INFO" and '"GET /v1/programs HTTP/1.1" 200' in record["message"]
    assert record["org"] == org
    assert record["trace_id"] == trace_id and len(record["span_id"]) == 16
    assert datetime.fromisoformat(record["time"]).utcoffset() is not None


async def test_the_embedded_mode_writes_plain_lines_for_a_terminal(tmp_path: Path) -> None:
    async with _serve(tmp_path) as (_url, out):
        pass
    text = out.read_text()
    started = [line for line in text.splitlines() if "Application startup complete" in line]
    # Each of its two processes says it started, by name (the loops process first).
    names = sorted(line.split()[3] for line in started)
    assert names == ["binome", "binome-loops"], started
    assert all(" INFO " in line and not line.startswith("{") for line in started)


@asynccontextmanager
async def _kit(tmp_path: Path) -> AsyncIterator[FastAPI]:
    settings = Settings(data_dir=tmp_path / "data", consumer_retry_backoff_s=0.01)
    app = testkit.app(settings)
    async with app.router.lifespan_context(app):
        yield app


async def test_a_consumers_records_name_the_event_it_applies(tmp_path: Path) -> None:
    """A handler failing for good is logged (with its traceback) under the event's id, type
    and tenant and the consuming service: what an operator greps for next to `binome dlq`."""
    stream = io.StringIO()
    logs.configure("testkit", "json", stream=stream)
    try:
        async with _kit(tmp_path) as app:
            poison = testkit.record(uuid.uuid4().hex, 1, fail=True)
            await app.state.bus.publish([poison])
            event_id = dict(poison.headers)["ce_id"].decode()

            async def gave_up() -> dict | None:
                for line in stream.getvalue().splitlines():
                    record = json.loads(line)
                    if "gives up" in record["message"]:
                        return record
                return None

            record = await eventually(gave_up, timeout=30, what="the give-up record")
            await asyncio.sleep(0)
    finally:
        root = logging.getLogger()
        for handler in [h for h in root.handlers if isinstance(h, logs._Handler)]:
            root.removeHandler(handler)
    assert record["level"] == "ERROR" and record["service"] == "testkit"
    assert (
        record["event_id"] == event_id and record["event_type"] == testkit.CounterIncremented.TYPE
    )
    assert record["org"] == "acme"
    assert "RuntimeError: this event always fails" in record["exc_info"]
