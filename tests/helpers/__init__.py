"""Test helpers, in one home (this package) for every tier: clients, tokens, waiting for
eventual state, service processes (here); the core-loop scenario (scenario.py), the
dead-letter scenario (dlq.py), talking to Kafka from outside (kafka.py)."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from shared.auth import Role, mint_token
from shared.settings import BusKind, Settings

T = TypeVar("T")
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session", autouse=True)
def compiled_matching_kernels() -> None:
    """Compile (fresh checkout) or load the engine's kernels once, up front, in the tiers
    that run services (api, infra; imported by their conftest): the service processes then
    load them from numba's cache, and no test's waiting time includes a compilation. The
    unit tier compiles only what a test uses."""
    from services.matching.engine.warm import warm_up

    warm_up()


# This process's test topics (by prefix): deleted when its test session ends
# (tests/infra/conftest.py), so that runs after runs do not pile up partitions on a broker.
PREFIXES: set[str] = set()


def topic_prefix() -> str:
    """Topics and groups of their own per test, so no test reads another's events."""
    prefix = f"t{uuid.uuid4().hex[:8]}."
    PREFIXES.add(prefix)
    return prefix


def kafka_settings(bootstrap: str, database_url: str, prefix: str, **extra: Any) -> Settings:
    """A service under test on Kafka: its own topics (prefix), quick retries and polls."""
    quick: dict[str, Any] = {
        "consumer_retry_backoff_s": 0.01,
        "retry_max_backoff_s": 0.3,
        "outbox_poll_interval_s": 0.2,
    }
    return Settings(
        bus=BusKind.kafka,
        kafka_bootstrap=bootstrap,
        database_url=database_url,
        topic_prefix=prefix,
        **{**quick, **extra},
    )


async def binome_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the `binome` command as ops would, in its own process, with BINOME_* settings."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_")}

    def go() -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "services.cli", *args],
            cwd=ROOT,
            env={**clean, **env},
            capture_output=True,
            text=True,
            timeout=120,
        )

    return await asyncio.to_thread(go)


def auth(
    settings: Settings, *, org: str = "acme", role: str = "admin", employee_id: str | None = None
) -> dict[str, str]:
    token = mint_token(settings, org=org, role=Role(role), employee_id=employee_id)
    return {"Authorization": f"Bearer {token}"}


async def eventually(
    check: Callable[[], Awaitable[T]],
    *,
    timeout: float = 20.0,
    interval: float = 0.05,
    what: str = "condition",
) -> T:
    """Poll until `check` returns a truthy value (events are asynchronous by design)."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = await check()
        if last:
            return last
        await asyncio.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last value: {last!r}")


class Api:
    """A thin client for the core loop, the same against embedded or distributed Binôme."""

    def __init__(self, client: httpx.AsyncClient, settings: Settings, org: str = "acme") -> None:
        self.c = client
        self.settings = settings
        self.org = org
        self.admin = auth(settings, org=org, role="admin")
        self.hris = auth(settings, org=org, role="hris")

    def as_employee(self, employee_id: str) -> dict[str, str]:
        return auth(self.settings, org=self.org, role="employee", employee_id=employee_id)

    async def ok(
        self,
        method: str,
        path: str,
        *,
        headers: dict[str, str] | None = None,
        expect: int = 200,
        **kw: Any,
    ) -> Any:
        r = await self.c.request(method, path, headers=headers or self.admin, **kw)
        assert r.status_code == expect, f"{method} {path} -> {r.status_code} {r.text}"
        return r.json()

    async def items(
        self, path: str, *, headers: dict[str, str] | None = None, params: Any = None
    ) -> list[Any]:
        """Every item of a list, page after page by its cursor; checks the envelope on the way
        (`total` the same on every page and equal to the items walked)."""
        path, _, inline = path.partition("?")  # httpx's params would replace a query in path
        query = dict(urllib.parse.parse_qsl(inline)) | dict(params or {})
        found: list[Any] = []
        totals: set[int] = set()
        while True:
            page = await self.ok("GET", path, headers=headers, params=query)
            assert set(page) == {"items", "total", "next_cursor"}, f"GET {path}: {page}"
            found += page["items"]
            totals.add(page["total"])
            if page["next_cursor"] is None:
                break
            query["cursor"] = page["next_cursor"]
        assert totals == {len(found)}, f"GET {path}: totals {totals}, {len(found)} items walked"
        return found

    async def program(self, body: dict[str, Any], *, status: str | None = "enrolling") -> Any:
        """Create a programme (a draft) and move it on to `status` (enrolling: open to
        enrolment and matching runs; None leaves it a draft)."""
        made = await self.ok("POST", "/v1/programs", json=body, expect=201)
        if status is None:
            return made
        steps = ["enrolling", "running", "closed"]
        for step in steps[: steps.index(status) + 1]:
            made = await self.ok("POST", f"/v1/programs/{made['id']}/status", json={"status": step})
        return made

    async def hire(self, *employees: dict[str, Any], prefix: str = "hire") -> Any:
        events = [
            {"event_id": f"{prefix}-{e['id']}", "type": "hired", "employee": e} for e in employees
        ]
        return await self.ok("POST", "/v1/hris/events", headers=self.hris, json={"events": events})

    async def enrol(self, program_id: str, employee_id: str, role: str, **extra: Any) -> Any:
        body = {"program_id": program_id, "employee_id": employee_id, "role": role, **extra}
        return await self.ok("POST", "/v1/participants", json=body, expect=201)

    async def matches(self, **params: str) -> list[dict[str, Any]]:
        return await self.items("/v1/matches", params=params)

    async def pairs(self, run_id: str) -> list[dict[str, Any]]:
        """A matching run's pairs, every page."""
        return await self.items(f"/v1/matching-runs/{run_id}/pairs")


def kafka_pg_settings(kafka_bootstrap: str, database_url: str, **extra: Any) -> Settings:
    """Settings of Binôme on the real broker and PostgreSQL, with topics of its own."""
    return Settings(
        bus=BusKind.kafka,
        kafka_bootstrap=kafka_bootstrap,
        database_url=database_url,
        topic_prefix=topic_prefix(),
        outbox_poll_interval_s=0.2,
        **extra,
    )


def process_memory_kib(pid: int, field: str) -> int:
    """A process's memory figure from /proc (`VmRSS`: resident now; `VmHWM`: its peak), KiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise AssertionError(f"no {field} for process {pid}")


def child_processes(pid: int) -> list[int]:
    """The processes `pid` started and that still run (the embedded server's loops process)."""
    return [
        int(child)
        for task in Path(f"/proc/{pid}/task").iterdir()
        for child in (task / "children").read_text().split()
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def ready(url: str, probe: str = "/readyz") -> bool:
    """The process at `url` answers `probe` (a service's /readyz, nginx's /healthz) with 200."""
    try:
        async with httpx.AsyncClient(timeout=2) as c:
            return (await c.get(f"{url}{probe}")).status_code == 200
    except httpx.HTTPError:
        return False


def spawn_testkit(
    name: str, port: int, kafka: str, db_url: str, prefix: str, log: Path, **settings: str
) -> subprocess.Popen:
    """The testkit service as its own OS process on Kafka and PostgreSQL (BINOME_* `settings`
    on top of quick retries)."""
    env = dict(
        os.environ,
        TESTKIT_NAME=name,
        TESTKIT_PORT=str(port),
        BINOME_BUS="kafka",
        BINOME_TOPIC_PREFIX=prefix,
        BINOME_KAFKA_BOOTSTRAP=kafka,
        BINOME_DATABASE_URL=db_url,
        BINOME_CONSUMER_RETRY_BACKOFF_S="0.01",
        **{f"BINOME_{k.upper()}": v for k, v in settings.items()},
    )
    return subprocess.Popen(
        [sys.executable, "-m", "tests.testkit.main"],
        cwd=ROOT,
        env=env,
        stdout=log.open("ab"),
        stderr=subprocess.STDOUT,
    )


def nginx() -> str:
    """Debian's nginx (scripts/lib/nginx.sh installs it and exports TEST_NGINX)."""
    import shutil

    found = os.environ.get("TEST_NGINX") or shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(found).exists():
        raise RuntimeError("nginx not found: run scripts/test.sh, or set TEST_NGINX")
    return found


def spawn_proxy(
    service_urls: dict[str, str], folder: Path, port: int, settings: Settings | None = None
) -> subprocess.Popen:
    """nginx on 127.0.0.1:`port` in front of the services, configured by services.proxy
    (its files, pid and log in `folder`)."""
    import getpass

    from services.proxy import Layout, write

    layout = Layout(root=str(folder), listen=f"127.0.0.1:{port}", user=getpass.getuser())
    write(folder, service_urls, layout, settings)
    return subprocess.Popen(
        [nginx(), "-p", f"{folder}/", "-c", "nginx.conf", "-g", "daemon off;"],
        stdout=(folder / "nginx.log").open("ab"),
        stderr=subprocess.STDOUT,
    )


async def _on_server(pg: str, sql: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(pg)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def create_database(pg: str, name: str) -> str:
    """A new PostgreSQL database on the server at `pg` (benchmarks, module fixtures); its
    URL."""
    await _on_server(pg, f'CREATE DATABASE "{name}"')
    return f"{pg.rstrip('/')}/{name}"


async def drop_database(pg: str, name: str) -> None:
    await _on_server(pg, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
