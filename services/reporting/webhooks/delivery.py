"""The webhook dispatcher: a background loop of reporting sending due deliveries.

Each round claims a batch of due deliveries (PostgreSQL: `FOR UPDATE SKIP LOCKED`, so
replicas share them) by moving their next attempt past a lease, commits, sends them
concurrently (at most `webhook_concurrency` at once), then records each attempt, the
delivery's next state and its endpoint's in one transaction. A process dying mid-round leaves
its deliveries due again when the lease ends: a receiver may get one twice, with the same
`webhook-id`, which Standard Webhooks receivers drop.

Each request goes to an address resolved and vetted just before it is sent (a public one,
unless private receivers are allowed), to that address itself (the name is kept for the TLS
certificate and the Host header): a name re-pointed between the check and the connection
(DNS rebinding) cannot send it elsewhere. Redirects are not followed.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from sqlalchemy import func, select, update
from sqlmodel import col
from sqlmodel import select as orm_select

from services.reporting.webhooks import domain
from services.reporting.webhooks.domain import DeliveryStatus
from services.reporting.webhooks.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from shared.api import as_utc, new_id
from shared.clock import Clock
from shared.db import reading
from shared.errors import Invalid
from shared.messaging.loop import PollingLoop
from shared.settings import Settings

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncEngine

    from shared.service import ServiceRuntime
    from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

USER_AGENT = "Binome-Webhooks/1"
BATCH = 200


async def vetted_address(url: str, *, allow_private: bool) -> str:
    """The address to send to: the URL's host resolved, every address it resolves to public
    (else Invalid naming the first refused), unless private receivers are allowed."""
    host, port = domain.checked_url(url, allow_private=allow_private)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise Invalid(f"the host {host} does not resolve ({exc.strerror})", field="url") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow_private:
        for address in addresses:
            why = domain.refused_address(address)
            if why:
                raise Invalid(f"the URL's host {host} resolves to {why} ({address})", field="url")
    return addresses[0]


@dataclass(frozen=True)
class _Claimed:
    id: str
    url: str
    secrets: list[str]
    payload: str
    attempts: int
    total_attempts: int


@dataclass(frozen=True)
class _Result:
    status_code: int | None
    error: str | None
    response: str | None
    duration_ms: int


class WebhookDispatcher(PollingLoop):
    NAME = "webhook-dispatcher"

    def __init__(
        self,
        *,
        engine: AsyncEngine,
        uow_factory: Callable[[], AbstractAsyncContextManager[UnitOfWork]],
        clock: Clock,
        settings: Settings,
    ) -> None:
        super().__init__(
            clock=clock,
            poll_interval_s=settings.timer_poll_interval_s,
            base_backoff_s=settings.consumer_retry_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
        )
        self._engine = engine
        self._uow = uow_factory
        self._settings = settings
        self._client = httpx.AsyncClient(
            timeout=settings.webhook_timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=settings.webhook_concurrency),
            headers={"user-agent": USER_AGENT},
        )
        self.sent = self.failed = 0

    @classmethod
    def of(cls, runtime: ServiceRuntime) -> WebhookDispatcher:
        return cls(
            engine=runtime.engine,
            uow_factory=runtime.uow,
            clock=runtime.clock,
            settings=runtime.settings,
        )

    async def _round(self) -> int:
        return await self.send_due()

    async def stop(self) -> None:
        await super().stop()
        await self._client.aclose()

    def _due(self) -> Any:
        d, e = WebhookDelivery.__table__.c, WebhookEndpoint.__table__.c  # type: ignore[attr-defined]
        return (
            select(d.id)
            .join(WebhookEndpoint.__table__, e.id == d.endpoint_id)  # type: ignore[attr-defined]
            .where(d.status == DeliveryStatus.pending, e.enabled)
        )

    async def _next_due(self) -> datetime | None:
        d = WebhookDelivery.__table__.c  # type: ignore[attr-defined]
        async with reading(self._engine) as conn:
            due: datetime | None = await conn.scalar(
                self._due().with_only_columns(func.min(d.next_attempt_at))
            )
        return due

    async def send_due(self) -> int:
        """One round: claim, send, record. How many were sent."""
        began = self._clock.now()  # the attempts' time, whenever their outcome is written
        claimed = await self._claim(began)
        if not claimed:
            return 0
        gate = asyncio.Semaphore(self._settings.webhook_concurrency)

        async def send(c: _Claimed) -> _Result:
            async with gate:
                return await self._send(c)

        results = await asyncio.gather(*(send(c) for c in claimed))
        await self._record(list(zip(claimed, results, strict=True)), began)
        return len(claimed)

    async def _claim(self, now: datetime) -> list[_Claimed]:
        lease = now + timedelta(seconds=2 * self._settings.webhook_timeout_s + 30)
        d = WebhookDelivery.__table__.c  # type: ignore[attr-defined]
        async with self._uow() as uow:
            conn = await uow.session.connection()
            due = self._due().where(d.next_attempt_at <= now).order_by(d.next_attempt_at, d.id)
            due = due.limit(BATCH)
            if conn.dialect.name == "postgresql":
                due = due.with_for_update(of=WebhookDelivery.__table__, skip_locked=True)  # type: ignore[attr-defined]
            ids = list((await conn.execute(due)).scalars())
            if not ids:
                return []
            await conn.execute(
                update(WebhookDelivery.__table__)  # type: ignore[attr-defined]
                .where(d.id.in_(ids))
                .values(next_attempt_at=lease)
            )
            e = WebhookEndpoint.__table__.c  # type: ignore[attr-defined]
            rows = await conn.execute(
                select(d.id, d.payload, d.attempts, d.total_attempts, e.url, e.secrets)
                .join(WebhookEndpoint.__table__, e.id == d.endpoint_id)  # type: ignore[attr-defined]
                .where(d.id.in_(ids))
            )
            claimed = [
                _Claimed(
                    id=r.id,
                    url=r.url,
                    secrets=domain.live_secrets(r.secrets, now),
                    payload=r.payload,
                    attempts=r.attempts,
                    total_attempts=r.total_attempts,
                )
                for r in rows
            ]
            await uow.commit()
        return claimed

    async def _send(self, c: _Claimed) -> _Result:
        started = time.perf_counter()
        body = c.payload.encode()
        timestamp = int(time.time())  # the wall clock: what receivers check freshness by
        headers = {
            "content-type": "application/cloudevents+json",
            "webhook-id": c.id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": domain.signature_header(
                c.secrets, msg_id=c.id, timestamp=timestamp, body=body
            ),
        }
        try:
            address = await vetted_address(
                c.url, allow_private=self._settings.webhook_allow_private
            )
            parts = urlsplit(c.url)
            host = parts.hostname or ""
            netloc = f"[{address}]" if ":" in address else address
            if parts.port:
                netloc += f":{parts.port}"
            headers["host"] = parts.netloc.rsplit("@", 1)[-1]
            target = urlunsplit(parts._replace(netloc=netloc))
            response = await self._client.post(
                target, content=body, headers=headers, extensions={"sni_hostname": host}
            )
            text = response.text[:500] if response.content else None
            return _Result(response.status_code, None, text, _ms(started))
        except Invalid as exc:
            return _Result(None, exc.message[:500], None, _ms(started))
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            return _Result(None, error[:500], None, _ms(started))

    async def _record(self, done: list[tuple[_Claimed, _Result]], now: datetime) -> None:
        s = self._settings
        async with self._uow() as uow:
            ids = [c.id for c, _ in done]
            query = orm_select(WebhookDelivery).where(col(WebhookDelivery.id).in_(ids))
            deliveries = {x.id: x for x in (await uow.session.exec(query)).all()}
            endpoints: dict[str, WebhookEndpoint] = {}
            for c, r in done:
                delivery = deliveries.get(c.id)
                if delivery is None:  # its endpoint was deleted meanwhile
                    continue
                endpoint = endpoints.get(delivery.endpoint_id) or await uow.session.get(
                    WebhookEndpoint, delivery.endpoint_id
                )
                delivery.attempts += 1
                delivery.total_attempts += 1
                uow.session.add(
                    WebhookAttempt(
                        id=new_id(),
                        delivery_id=delivery.id,
                        number=delivery.total_attempts,
                        at=now,
                        status_code=r.status_code,
                        error=r.error,
                        duration_ms=r.duration_ms,
                        response=r.response,
                    )
                )
                delivery.last_status, delivery.last_error = r.status_code, r.error
                if domain.succeeded(r.status_code):
                    self.sent += 1
                    delivery.status = DeliveryStatus.succeeded
                    delivery.delivered_at, delivery.next_attempt_at = now, None
                    if endpoint is not None:
                        endpoint.failing_since = None
                else:
                    self.failed += 1
                    if r.error is None:
                        delivery.last_error = f"the receiver answered {r.status_code}"
                    nxt = domain.next_attempt(delivery.attempts, s.webhook_retry_schedule, now)
                    delivery.next_attempt_at = nxt
                    if nxt is None:
                        delivery.status = DeliveryStatus.failed
                    if endpoint is not None and endpoint.enabled:
                        since = as_utc(endpoint.failing_since or now)
                        endpoint.failing_since = since
                        why = domain.disabling(
                            status_code=r.status_code,
                            failing_since=since,
                            now=now,
                            disable_after=s.webhook_disable_after,
                        )
                        if why:
                            endpoint.enabled = False
                            endpoint.disabled_reason, endpoint.disabled_at = why, now
                            log.warning("webhook endpoint %s disabled: %s", endpoint.id, why)
                uow.session.add(delivery)
                if endpoint is not None:
                    endpoints[endpoint.id] = endpoint
                    uow.session.add(endpoint)
            await uow.commit()

    async def status(self) -> dict[str, Any]:
        """What ops see: deliveries due and how late the oldest is, failed ones, disabled
        endpoints, and this process's counts."""
        d, e = WebhookDelivery.__table__.c, WebhookEndpoint.__table__.c  # type: ignore[attr-defined]
        now = self._clock.now()
        async with reading(self._engine) as conn:
            due, oldest = (
                await conn.execute(
                    self._due()
                    .with_only_columns(func.count(), func.min(d.next_attempt_at))
                    .where(d.next_attempt_at <= now)
                )
            ).one()
            failed = await conn.scalar(
                select(func.count()).where(d.status == DeliveryStatus.failed)
            )
            disabled = await conn.scalar(select(func.count()).where(e.enabled.is_(False)))
        return {
            "alive": self.alive,
            "due": due,
            "oldest_due_age_s": None
            if oldest is None
            else round((now - as_utc(oldest)).total_seconds(), 3),
            "failed_deliveries": failed,
            "disabled_endpoints": disabled,
            "sent": self.sent,
            "failed_attempts": self.failed,
            "failures": self.failures,
            "last_error": self.last_error,
        }


def _ms(started: float) -> int:
    return round((time.perf_counter() - started) * 1000)


def dispatcher(runtime: ServiceRuntime) -> WebhookDispatcher:
    return WebhookDispatcher.of(runtime)
