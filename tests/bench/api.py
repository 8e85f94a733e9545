"""API under load (scripts/bench-api.sh): 50 concurrent clients mixing reads and writes against
the distributed stack (five service processes on PostgreSQL and Kafka, one per service unless
`--workers`, and nginx as the gateway), first through the gateway, then straight to each
resource's service, in one run.

The mix, per request: 25 % a programme, 20 % a page of employees of a department, 15 % the
programme's participants, 10 % its matches, 10 % its report, 15 % an enrolment (a write that
emits an event), 5 % an HRIS update of one employee (a write that emits events). Prints
requests/s, p50/p95/p99 latency and errors (any non-2xx, or a transport error).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import logging
import os
import random
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import asyncpg
import httpx
from sqlalchemy.engine import make_url

from services import SERVICE_NAMES
from services.proxy import resource_table
from shared.auth import Role, mint_token
from shared.settings import Settings
from tests.helpers import drop_database, free_port, spawn_proxy
from tests.helpers.kafka import delete_topics

ROOT = Path(__file__).resolve().parents[2]
# The service processes run on the Kafka bus: they refuse the public development secret, and
# a benchmark is not one caller of a real deployment (no rate limits).
os.environ.setdefault("BINOME_JWT_SECRET", secrets.token_urlsafe(48))
os.environ.setdefault("BINOME_RATE_LIMIT_PER_TOKEN", "off")
os.environ.setdefault("BINOME_RATE_LIMIT_PER_ADDRESS", "off")


async def _databases(pg: str, tag: str) -> str:
    url = make_url(pg)
    conn = await asyncpg.connect(
        host=url.host, port=url.port, user=url.username, database="postgres"
    )
    try:
        for svc in SERVICE_NAMES:
            await conn.execute(f'CREATE DATABASE "bench_{tag}_{svc}"')
    finally:
        await conn.close()
    return f"{pg.rstrip('/')}/bench_{tag}_{{service}}"


def _spawn(args: list[str], env: dict[str, str], log: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "services.cli", *args, "--log-level", "warning"],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )


async def _ready(url: str, probe: str = "/readyz") -> None:
    async with httpx.AsyncClient(timeout=2) as c:
        for _ in range(900):
            try:
                if (await c.get(f"{url}{probe}")).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            await asyncio.sleep(0.1)
    raise TimeoutError(f"{url} not ready")


@dataclass
class Result:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    by_kind: dict[str, list[float]] = field(default_factory=dict)
    examples: list[str] = field(default_factory=list)


def _target(method: str, url: str, auth: str, body: dict | None = None) -> bytes:
    """One request in vegeta's JSON target format."""
    target: dict = {"method": method, "url": url, "header": {"Authorization": [auth]}}
    if body is not None:
        target["body"] = base64.b64encode(json.dumps(body).encode()).decode()
        target["header"]["Content-Type"] = ["application/json"]
    return (json.dumps(target) + "\n").encode()


def _mix(route: Callable[[str], str], seed: dict, org: str) -> Iterator[bytes]:
    """The requests, drawn at random in the mix's proportions, without end."""
    settings = Settings()
    admin = f"Bearer {mint_token(settings, org=org, role=Role.admin)}"
    hris = f"Bearer {mint_token(settings, org=org, role=Role.hris)}"
    program = seed["program"]
    free: list[str] = seed["unenrolled"]  # shared by the runs: each employee enrols once
    while True:
        r = random.random()
        if r < 0.25:
            yield _target("GET", route(f"/v1/programs/{program}"), admin)
        elif r < 0.45:
            query = urlencode({"department": f"d{random.randrange(8)}", "limit": 20})
            yield _target("GET", route("/v1/employees") + "?" + query, admin)
        elif r < 0.60:
            query = urlencode({"program_id": program, "limit": 20})
            yield _target("GET", route("/v1/participants") + "?" + query, admin)
        elif r < 0.70:
            query = urlencode({"program_id": program, "limit": 20})
            yield _target("GET", route("/v1/matches") + "?" + query, admin)
        elif r < 0.80:
            yield _target("GET", route(f"/v1/reports/programs/{program}"), admin)
        elif r < 0.95 and free:
            body = {
                "program_id": program,
                "employee_id": free.pop(),
                "role": "mentee",
                "skills_sought": ["python"],
            }
            yield _target("POST", route("/v1/participants"), admin, body)
        else:
            eid = random.choice(seed["employees"])
            event = {
                "event_id": f"upd-{uuid.uuid4().hex}",
                "type": "updated",
                "employee": {
                    "id": eid,
                    "name": eid.upper(),
                    "department": f"d{random.randrange(8)}",
                    "level": random.randrange(1, 10),
                    "languages": ["fr", "en"],
                },
            }
            yield _target("POST", route("/v1/hris/events"), hris, {"events": [event]})


def _kind(method: str, url: str) -> str:
    parts = urlsplit(url).path.split("/")  # "", "v1", resource, ...
    if method == "POST":
        return "enrol" if parts[2] == "participants" else "hris"
    if parts[2] == "programs":
        return "program"
    return {"reports": "report"}.get(parts[2], parts[2])


# Processes of this machine known by name, the rest by the process they descend from.
_BY_NAME = {"postgres": "PostgreSQL", "java": "Kafka", "nginx": "gateway (nginx)"}


def _cpu_seconds(owners: Mapping[int, str]) -> dict[str, float]:
    """CPU seconds used so far by each group of this machine's live processes (Linux's /proc):
    PostgreSQL's, Kafka's and nginx's by their own names, any other descending from one of
    `owners` (a service's process and its workers) for that owner's name."""
    tick = os.sysconf("SC_CLK_TCK")
    procs: dict[int, tuple[str, int, int]] = {}  # pid: name, parent, ticks
    for entry in os.scandir("/proc"):
        if entry.name.isdigit():
            try:
                stat = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # ended meanwhile
            name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") :]
            fields = rest.split()  # ")", state, ppid, ... utime (13th), stime (14th)
            procs[int(entry.name)] = (name, int(fields[2]), int(fields[12]) + int(fields[13]))
    used: dict[str, float] = {}
    for pid, (name, _parent, ticks) in procs.items():
        group, ancestor = _BY_NAME.get(name), pid
        for _ in range(4 if group is None else 0):
            if ancestor in owners:
                group = owners[ancestor]
                break
            ancestor = procs.get(ancestor, ("", 0, 0))[1]
        if group is not None:
            used[group] = used.get(group, 0.0) + ticks / tick
    return used


def _load(
    route: Callable[[str], str],
    clients: int,
    seconds: float,
    seed: dict,
    org: str,
    owners: Mapping[int, str],
) -> tuple[Result, float, dict[str, float]]:
    """`clients` workers of vegeta, each sending the mix's next request once its previous one
    is answered (a closed loop, as 50 users would), for `seconds`. Returns the results, the
    elapsed time and the cores each group of processes used meanwhile (`_cpu_seconds`), the
    load generator's included."""
    vegeta = os.environ["BENCH_VEGETA"]
    out = Path(tempfile.mkdtemp(prefix="binome-bench-vegeta-")) / "results.bin"
    attack = [
        vegeta, "attack", "-format=json", "-lazy", "-rate=0", f"-workers={clients}",
        f"-max-workers={clients}", f"-duration={seconds}s", "-timeout=30s", f"-output={out}",
    ]  # fmt: skip
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    used_before = _cpu_seconds(owners)
    t0 = time.perf_counter()
    proc = subprocess.Popen(attack, stdin=subprocess.PIPE)
    assert proc.stdin is not None
    stdin = proc.stdin

    def feed() -> None:  # vegeta reads the next target when a worker is free (-lazy)
        try:
            for target in _mix(route, seed, org):
                stdin.write(target)
        except (BrokenPipeError, ValueError, OSError):
            pass  # the attack is over

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    proc.wait()
    elapsed = time.perf_counter() - t0
    used = _cpu_seconds(owners)
    cpu = {group: (spent - used_before.get(group, 0.0)) / elapsed
           for group, spent in used.items()}  # fmt: skip
    after = resource.getrusage(resource.RUSAGE_CHILDREN)  # vegeta, once it has ended
    cpu["load generator (vegeta)"] = (
        after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime
    ) / elapsed
    encoded = subprocess.run(
        [vegeta, "encode", "-to", "json", str(out)], check=True, capture_output=True
    ).stdout
    result = Result()
    first, last = float("inf"), 0.0
    for line in encoded.splitlines():
        row = json.loads(line)
        ms = row["latency"] / 1e6
        kind = _kind(row["method"], row["url"])
        result.latencies.append(ms)
        result.by_kind.setdefault(kind, []).append(ms)
        sent = datetime.fromisoformat(row["timestamp"]).timestamp()
        first, last = min(first, sent), max(last, sent + ms / 1000)
        if not 200 <= row["code"] < 300:
            result.errors += 1
            if len(result.examples) < 3:
                answer = base64.b64decode(row.get("body") or b"").decode(errors="replace")
                result.examples.append(f"{kind}: {row['code']} {row['error']} {answer[:120]}")
    return result, last - first, cpu


async def _seed(gateway: str, org: str, employees: int) -> dict:
    settings = Settings()
    admin = {"Authorization": f"Bearer {mint_token(settings, org=org, role=Role.admin)}"}
    hris = {"Authorization": f"Bearer {mint_token(settings, org=org, role=Role.hris)}"}
    ids = [f"emp{i}" for i in range(employees)]
    async with httpx.AsyncClient(base_url=gateway, timeout=60) as c:
        events = [
            {
                "event_id": f"hire-{e}",
                "type": "hired",
                "employee": {
                    "id": e,
                    "name": e.upper(),
                    "department": f"d{i % 8}",
                    "level": 1 + i % 10,
                    "languages": ["fr", "en"],
                },
            }
            for i, e in enumerate(ids)
        ]
        r = await c.post("/v1/hris/events", json={"events": events}, headers=hris)
        r.raise_for_status()
        r = await c.post("/v1/programs", json={"name": "Load"}, headers=admin)
        r.raise_for_status()
        program = r.json()["id"]
        opening = {"status": "enrolling"}
        r = await c.post(f"/v1/programs/{program}/status", json=opening, headers=admin)
        r.raise_for_status()
        mentors = ids[:40]
        for e in mentors:
            body = {
                "program_id": program,
                "employee_id": e,
                "role": "mentor",
                "skills_offered": ["python"],
                "capacity": 3,
            }
            (await c.post("/v1/participants", json=body, headers=admin)).raise_for_status()
    unenrolled = ids[40:]
    random.shuffle(unenrolled)
    return {"program": program, "employees": ids, "unenrolled": unenrolled}


def _p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98] if len(values) > 1 else values[0]


def _row(name: str, result: Result, elapsed: float) -> str:
    lat = sorted(result.latencies)
    q = statistics.quantiles(lat, n=100) if len(lat) > 1 else [lat[0]] * 99
    return (
        f"{name:24} {len(lat) / elapsed:9.0f} {q[49]:8.1f} {q[94]:8.1f} {q[98]:8.1f} "
        f"{result.errors:7d}"
    )


async def main() -> None:
    # The figures, not the clients' reconnection chatter while topics are being created.
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("aiokafka").setLevel(logging.CRITICAL)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--employees", type=int, default=5_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help=(
            "processes per service. One on this 2-core machine: two gave the same throughput "
            "and 1.6 times the p99, their queues being unequal (README, The API under load)"
        ),
    )
    args = parser.parse_args()
    kafka, pg = os.environ["BENCH_KAFKA_BOOTSTRAP"], os.environ["BENCH_PG_URL"]
    tag = uuid.uuid4().hex[:8]
    db_url = await _databases(pg, tag)
    logs = Path(tempfile.mkdtemp(prefix="binome-bench-api-"))
    kept = (
        "BINOME_JWT_SECRET",
        "BINOME_RATE_LIMIT_PER_TOKEN",
        "BINOME_RATE_LIMIT_PER_ADDRESS",
        "BINOME_MAX_CONCURRENT_REQUESTS",
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_") or k in kept}
    env.update(
        BINOME_BUS="kafka",
        BINOME_KAFKA_BOOTSTRAP=kafka,
        BINOME_DATABASE_URL=db_url,
        BINOME_TOPIC_PREFIX=f"bench{tag}.",
    )
    procs: list[subprocess.Popen] = []
    urls: dict[str, str] = {}
    try:
        for svc in SERVICE_NAMES:
            port = free_port()
            urls[svc] = f"http://127.0.0.1:{port}"
            procs.append(
                _spawn(
                    [
                        "serve",
                        "--service",
                        svc,
                        "--port",
                        str(port),
                        "--workers",
                        str(args.workers),
                    ],
                    env,
                    logs / f"{svc}.log",
                )
            )
        gport = free_port()
        procs.append(spawn_proxy(urls, logs / "gateway", gport))
        for url in urls.values():
            await _ready(url)
        gateway = f"http://127.0.0.1:{gport}"
        await _ready(gateway, "/healthz")
        seed = await _seed(gateway, "bench", args.employees)
        for url in urls.values():  # the seed's events applied everywhere: both paths start even
            settled = await asyncio.create_subprocess_exec(
                sys.executable, "-m", "services.cli", "wait", "--settled", "--url", url,
                "--timeout", "600", cwd=ROOT,
            )  # fmt: skip
            await settled.wait()
        table = resource_table(urls)
        owners = {p.pid: svc for p, svc in zip(procs, SERVICE_NAMES, strict=False)}
        owners[os.getpid()] = "this benchmark (vegeta's requests)"

        def direct(path: str) -> str:
            return urls[table[path.split("/")[2]]] + path

        print(
            f"API under load: {args.clients} clients, {args.seconds:.0f} s each, mixed reads and "
            f"writes, {args.workers} process(es) per service (one run, this machine; logs in "
            f"{logs})"
        )
        print(f"{'path':24} {'req/s':>9} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} {'errors':>7}")
        print("-" * 68)
        for name, route in (
            ("through the gateway (nginx)", lambda p: gateway + p),
            ("direct to the services", direct),
        ):
            result, elapsed, cpu = await asyncio.to_thread(
                _load, route, args.clients, args.seconds, seed, "bench", owners
            )
            print(_row(name, result, elapsed))
            print(
                f"  CPU, in cores (of {os.cpu_count()}): "
                + ", ".join(f"{g} {c:.2f}" for g, c in sorted(cpu.items(), key=lambda i: -i[1]))
            )
            print(
                "  "
                + ", ".join(
                    f"{kind} p50 {statistics.median(v):.0f} / p99 {_p99(v):.0f}"
                    for kind, v in sorted(result.by_kind.items())
                )
            )
            for example in result.examples:
                print(f"  e.g. {example}")
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        # Nothing left behind: the broker and the server outlive the benchmark.
        await delete_topics(kafka, (f"bench{tag}.",))
        for svc in SERVICE_NAMES:
            await drop_database(pg, f"bench_{tag}_{svc}")


if __name__ == "__main__":
    asyncio.run(main())
