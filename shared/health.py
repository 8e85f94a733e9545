"""Health that means something, for orchestrators and ops.

- `GET /livez` (also `/healthz`): liveness. The process answers and its background loops (each
  service's outbox relay, each consumer group) are running. 503 names a loop that died: restart
  the process. An outage of the database or the broker is not a reason to restart.
- `GET /readyz`: readiness, i.e. can this process serve the API. Every database of the process
  must answer (503 otherwise, so an orchestrator stops routing requests here). A broker outage
  is *degraded*, still 200: writes go on through the outbox and are published once the broker
  is back, reads never needed it.
- `GET /status`: what ops look at during an incident, per service: the outbox backlog and the
  age of its oldest unsent row, the relay's consecutive failures and last error, the consumer
  group's lag, what this process's consumer applied, dead-lettered and retried, how long it has
  been waiting out a failure, the records in its dead-letter topic, and missing topics.

Each probe is bounded by a timeout, so a hung dependency makes a slow "error", not a hung probe.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from sqlalchemy import func, select

from shared.db import reading
from shared.events import dead_letter_topic
from shared.messaging.bus import Bus
from shared.service import ServiceRuntime

if TYPE_CHECKING:
    from shared.companion import Companion

PROBE_TIMEOUT_S = 2.0
T = TypeVar("T")

router = APIRouter(tags=["ops"])


async def _probe(check: Awaitable[T]) -> T:
    return await asyncio.wait_for(check, PROBE_TIMEOUT_S)


def _error(exc: BaseException) -> str:
    return f"error: {type(exc).__name__}: {exc}"[:300]


def _runtimes(request: Request) -> dict[str, ServiceRuntime]:
    return request.app.state.runtimes


def _bus(request: Request) -> Bus:
    return request.app.state.bus


@router.get("/livez")
@router.get("/healthz", include_in_schema=False)
async def livez(request: Request) -> JSONResponse:
    """Liveness: the process and its background loops are alive (in the embedded server's
    API process, those of its loops process: shared.companion)."""
    here = [r for r in _runtimes(request).values() if r.loops_here]
    dead = [f"outbox-relay:{r.definition.name}" for r in here if not r.relay.alive]
    dead += [
        f"timer-scheduler:{r.definition.name}"
        for r in here
        if r.scheduler is not None and not r.scheduler.alive
    ]
    dead += [f"{w.NAME}:{r.definition.name}" for r in here for w in r.workers if not w.alive]
    dead += _bus(request).dead_loops()
    companion: Companion | None = request.app.state.companion
    if companion is not None:
        dead += companion.dead_loops()
    if dead:
        return JSONResponse(status_code=503, content={"status": "dead", "dead_loops": dead})
    return JSONResponse(content={"status": "ok"})


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Readiness: every database answers (a broker outage only degrades: see /status)."""
    checks: dict[str, str] = {}
    for name, runtime in _runtimes(request).items():
        try:
            await _probe(runtime.ping())
            checks[f"database:{name}"] = "ok"
        except Exception as exc:  # reported, not raised: this is the health answer
            checks[f"database:{name}"] = _error(exc)
    try:
        await _probe(_bus(request).ping())
        checks["bus"] = "ok"
    except Exception as exc:
        checks["bus"] = _error(exc)
    databases_ok = all(v == "ok" for k, v in checks.items() if k.startswith("database:"))
    if not databases_ok:
        status = "unavailable"
    elif checks["bus"] != "ok":
        status = "degraded"
    else:
        status = "ok"
    return JSONResponse(
        status_code=200 if databases_ok else 503, content={"status": status, "checks": checks}
    )


@router.get("/status")
async def status(request: Request) -> dict[str, Any]:
    """Backlogs, lags, dead letters and failures, per service of this process (in the
    embedded server's API process, as its loops process sees them, which runs them; read
    here when it does not answer, its loops' figures then this process's: none)."""
    companion: Companion | None = request.app.state.companion
    if companion is None:
        return await snapshot(_runtimes(request), _bus(request))
    theirs = await companion.status()
    answer = theirs if theirs is not None else await snapshot(_runtimes(request), _bus(request))
    return {**answer, "loops_process": {**companion.about(), "answering": theirs is not None}}


async def snapshot(runtimes: Mapping[str, ServiceRuntime], bus: Bus) -> dict[str, Any]:
    """What /status answers (and /metrics exposes): the bus, then each service's figures."""
    try:
        await _probe(bus.ping())
        bus_state = "ok"
    except Exception as exc:
        bus_state = _error(exc)
    services = {
        name: await _service_status(runtime, bus, bus_ok=bus_state == "ok")
        for name, runtime in runtimes.items()
    }
    return {"bus": bus_state, "services": services}


async def _service_status(runtime: ServiceRuntime, bus: Bus, *, bus_ok: bool) -> dict[str, Any]:
    prefix = runtime.settings.topic_prefix
    out: dict[str, Any] = {}
    o = runtime.outbox
    try:
        async with reading(runtime.engine) as conn:
            row = (
                await _probe(
                    conn.execute(
                        select(func.count(), func.min(o.c.created_at)).where(o.c.sent_at.is_(None))
                    )
                )
            ).one()
        oldest = row[1]
        if oldest is not None and oldest.tzinfo is None:
            oldest = oldest.replace(tzinfo=UTC)
        out["outbox"] = {
            "unsent": row[0],
            "oldest_unsent_age_s": (
                round((datetime.now(UTC) - oldest).total_seconds(), 3) if oldest else None
            ),
        }
    except Exception as exc:
        out["outbox"] = _error(exc)
    relay = runtime.relay
    out["relay"] = {
        "published": relay.published,
        "consecutive_failures": relay.failures,
        "last_error": relay.last_error,
    }
    stats = runtime.consumer.stats
    consumer: dict[str, Any] = {
        "group": runtime.group,
        "applied": stats.applied,
        "dead_lettered": stats.dead_lettered,
        "transient_retries": stats.transient_retries,
        "last_transient_error": stats.last_transient_error,
        "waiting_for_s": (
            round(time.time() - stats.waiting_since, 3) if stats.waiting_since else None
        ),
    }
    topics = runtime.definition.topics(prefix)
    dlq = dead_letter_topic(runtime.group, prefix)
    if bus_ok:
        try:
            if runtime.subscriptions:
                consumer["lag"] = await _probe(bus.backlog(runtime.group, runtime.subscriptions))
            out["dead_letters"] = await _probe(bus.count(dlq))
            out["missing_topics"] = await _probe(bus.missing_topics(topics))
        except Exception as exc:
            out["bus_error"] = _error(exc)
    out["consumer"] = consumer
    if runtime.scheduler is not None:
        try:
            out["timers"] = await _probe(runtime.scheduler.status())
        except Exception as exc:
            out["timers"] = _error(exc)
    for worker in runtime.workers:  # the service's own loops (reporting's webhook dispatcher)
        try:
            out[worker.NAME] = await _probe(worker.status())
        except Exception as exc:
            out[worker.NAME] = _error(exc)
    return out
