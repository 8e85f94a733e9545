"""Webhook subscriptions and their delivery log: an organisation's admins subscribe URLs to
event types, rotate secrets, read what was sent and replay it; every event heard is queued
for the endpoints subscribed to it (`fan_out`, a reaction of reporting's consumer)."""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from sqlalchemy import update
from sqlmodel import col, select

from services.reporting.webhooks import domain
from services.reporting.webhooks.delivery import vetted_address
from services.reporting.webhooks.domain import DeliveryStatus
from services.reporting.webhooks.models import (
    RecoverIn,
    SecretRotationIn,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEndpointIn,
    WebhookEndpointPatch,
    WebhookEndpointPublic,
)
from shared import bulk
from shared.api import as_utc, new_id
from shared.conditional import check_if_match
from shared.contracts import catalogue
from shared.errors import Conflict, Invalid, NotFound
from shared.events import Event, EventData, to_structured
from shared.paging import PageParams, Window, page_of
from shared.settings import Settings
from shared.uow import UnitOfWork

SECRET_BYTES = 32


def _event_types(types: list[str]) -> list[str]:
    known = set(catalogue())
    if domain.ALL in types:
        if len(types) > 1:
            raise Invalid('"*" already means every event type', field="event_types")
        return types
    for i, type_ in enumerate(types):
        if type_ not in known:
            raise Invalid(
                f"unknown event type {type_!r} (see /asyncapi.json)", field=f"event_types.{i}"
            )
    return sorted(set(types))


async def _url(url: str, settings: Settings) -> str:
    if settings.webhook_allow_private:
        domain.checked_url(url, allow_private=True)
    else:  # names resolved now too: a private target is refused before anything is sent
        await vetted_address(url, allow_private=False)
    return url


async def create_endpoint(
    *, uow: UnitOfWork, org: str, data: WebhookEndpointIn, settings: Settings
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint, enabled, and its signing secret (shown this once)."""
    secret = domain.secret_text(secrets.token_bytes(SECRET_BYTES))
    endpoint = WebhookEndpoint(
        id=new_id(),
        org=org,
        url=await _url(data.url, settings),
        description=data.description,
        event_types=_event_types(data.event_types),
        secrets=[{"secret": secret, "expires_at": None}],
        created_at=uow.now(),
    )
    uow.session.add(endpoint)
    await uow.commit()
    return endpoint, secret


async def list_endpoints(*, uow: UnitOfWork, org: str, page: PageParams) -> Window[WebhookEndpoint]:
    q = select(WebhookEndpoint).where(WebhookEndpoint.org == org)
    return await page_of(
        uow.session, q, page, col(WebhookEndpoint.created_at), col(WebhookEndpoint.id)
    )


async def get_endpoint(
    *, uow: UnitOfWork, org: str, endpoint_id: str, for_update: bool = False
) -> WebhookEndpoint:
    endpoint = await uow.session.get(WebhookEndpoint, endpoint_id, with_for_update=for_update)
    if endpoint is None or endpoint.org != org:
        raise NotFound("webhook endpoint not found")
    return endpoint


def public(endpoint: WebhookEndpoint, now: datetime) -> WebhookEndpointPublic:
    """The endpoint as its reads answer it: never its secrets."""
    return WebhookEndpointPublic.model_validate(
        {
            **endpoint.model_dump(exclude={"secrets", "org"}),
            "previous_secret_expires_at": previous_secret_expiry(endpoint, now),
        }
    )


async def update_endpoint(
    *,
    uow: UnitOfWork,
    org: str,
    endpoint_id: str,
    data: WebhookEndpointPatch,
    settings: Settings,
    if_match: str | None = None,
) -> WebhookEndpoint:
    """Change what was sent, if the endpoint is still the version `if_match` names
    (shared.conditional); `enabled: true` re-enables a disabled endpoint (its failures
    forgotten), `false` pauses it (no delivery queued or sent meanwhile)."""
    endpoint = await get_endpoint(uow=uow, org=org, endpoint_id=endpoint_id, for_update=True)
    check_if_match(if_match, lambda: public(endpoint, uow.now()), "webhook endpoint")
    sent = data.model_fields_set
    for name in ("url", "event_types", "enabled"):
        if name in sent and getattr(data, name) is None:
            raise Invalid(f"{name} cannot be null", field=name)
    if data.url is not None:
        endpoint.url = await _url(data.url, settings)
    if data.event_types is not None:
        endpoint.event_types = _event_types(data.event_types)
    if "description" in sent:
        endpoint.description = data.description
    if data.enabled is True and not endpoint.enabled:
        endpoint.enabled = True
        endpoint.disabled_reason = endpoint.disabled_at = endpoint.failing_since = None
        # The receiver is back: what was still being attempted goes now, not at its next
        # retry (failed ones wait for `recover`).
        d = WebhookDelivery.__table__.c  # type: ignore[attr-defined]
        conn = await uow.session.connection()
        await conn.execute(
            update(WebhookDelivery.__table__)  # type: ignore[attr-defined]
            .where(d.endpoint_id == endpoint.id, d.status == DeliveryStatus.pending)
            .values(next_attempt_at=uow.now())
        )
    elif data.enabled is False and endpoint.enabled:
        endpoint.enabled = False
        endpoint.disabled_reason, endpoint.disabled_at = "paused by an admin", uow.now()
    uow.session.add(endpoint)
    await uow.commit()
    return endpoint


async def delete_endpoint(
    *, uow: UnitOfWork, org: str, endpoint_id: str, if_match: str | None = None
) -> None:
    """The endpoint, its deliveries and their log, gone (if it is still the version
    `if_match` names)."""
    endpoint = await get_endpoint(uow=uow, org=org, endpoint_id=endpoint_id, for_update=True)
    check_if_match(if_match, lambda: public(endpoint, uow.now()), "webhook endpoint")
    conn = await uow.session.connection()
    d, a = WebhookDelivery.__table__, WebhookAttempt.__table__  # type: ignore[attr-defined]
    ids = select(d.c.id).where(d.c.endpoint_id == endpoint.id).scalar_subquery()
    await conn.execute(a.delete().where(a.c.delivery_id.in_(ids)))
    await conn.execute(d.delete().where(d.c.endpoint_id == endpoint.id))
    await uow.session.delete(endpoint)
    await uow.commit()


async def rotate_secret(
    *, uow: UnitOfWork, org: str, endpoint_id: str, data: SecretRotationIn
) -> tuple[WebhookEndpoint, str]:
    """A new signing secret (shown this once); the previous one keeps signing beside it for
    `keep_previous_for`, so receivers can switch without losing a delivery."""
    endpoint = await get_endpoint(uow=uow, org=org, endpoint_id=endpoint_id)
    secret = domain.secret_text(secrets.token_bytes(SECRET_BYTES))
    endpoint.secrets = domain.rotated(
        endpoint.secrets, secret, now=uow.now(), keep_previous=data.keep_previous_for
    )
    uow.session.add(endpoint)
    await uow.commit()
    return endpoint, secret


def previous_secret_expiry(endpoint: WebhookEndpoint, now: datetime) -> datetime | None:
    live = [
        s for s in endpoint.secrets[1:] if s["secret"] in domain.live_secrets(endpoint.secrets, now)
    ]
    return max((datetime.fromisoformat(s["expires_at"]) for s in live), default=None)


async def list_deliveries(
    *,
    uow: UnitOfWork,
    org: str,
    endpoint_id: str,
    page: PageParams,
    status: DeliveryStatus | None,
    event_type: str | None,
) -> Window[WebhookDelivery]:
    endpoint = await get_endpoint(uow=uow, org=org, endpoint_id=endpoint_id)
    q = select(WebhookDelivery).where(WebhookDelivery.endpoint_id == endpoint.id)
    if status is not None:
        q = q.where(WebhookDelivery.status == status)
    if event_type is not None:
        q = q.where(WebhookDelivery.event_type == event_type)
    return await page_of(
        uow.session, q, page, col(WebhookDelivery.created_at), col(WebhookDelivery.id)
    )


async def get_delivery(
    *, uow: UnitOfWork, org: str, endpoint_id: str, delivery_id: str
) -> tuple[WebhookDelivery, list[WebhookAttempt]]:
    endpoint = await get_endpoint(uow=uow, org=org, endpoint_id=endpoint_id)
    delivery = await uow.session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint.id:
        raise NotFound("webhook delivery not found")
    attempts = await uow.session.exec(
        select(WebhookAttempt)
        .where(WebhookAttempt.delivery_id == delivery.id)
        .order_by(col(WebhookAttempt.number))
    )
    return delivery, list(attempts.all())


async def replay(
    *, uow: UnitOfWork, org: str, endpoint_id: str, delivery_id: str
) -> WebhookDelivery:
    """Send a delivery again now (failed, or succeeded and wanted again), with a fresh
    retry schedule; its log keeps every earlier attempt."""
    delivery, _ = await get_delivery(
        uow=uow, org=org, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    if delivery.status == DeliveryStatus.pending:
        raise Conflict("this delivery is still being attempted")
    delivery.status, delivery.attempts, delivery.next_attempt_at = (
        DeliveryStatus.pending,
        0,
        uow.now(),
    )
    uow.session.add(delivery)
    await uow.commit()
    return delivery


async def recover(*, uow: UnitOfWork, org: str, endpoint_id: str, data: RecoverIn) -> int:
    """Every failed delivery of the endpoint created since `since`, sent again (after the
    receiver was fixed and the endpoint re-enabled). How many."""
    endpoint = await get_endpoint(uow=uow, org=org, endpoint_id=endpoint_id)
    if as_utc(data.since) > uow.now():
        raise Invalid("since is in the future", field="since")
    d = WebhookDelivery.__table__.c  # type: ignore[attr-defined]
    conn = await uow.session.connection()
    done = await conn.execute(
        update(WebhookDelivery.__table__)  # type: ignore[attr-defined]
        .where(
            d.endpoint_id == endpoint.id,
            d.status == DeliveryStatus.failed,
            d.created_at >= as_utc(data.since),
        )
        .values(status=DeliveryStatus.pending, attempts=0, next_attempt_at=uow.now())
    )
    await uow.commit()
    return done.rowcount


# --- the reaction: every event heard, queued for its subscribers ----------------------------

_MEMO = "webhooks.endpoints"


async def _subscribers(uow: UnitOfWork, org: str) -> list[tuple[str, list[str]]]:
    """The org's enabled endpoints (id, event types), read once per batch of events."""
    known: dict[str, list[tuple[str, list[str]]]] = uow.memo.setdefault(_MEMO, {})
    if org not in known:
        rows = await uow.session.exec(
            select(WebhookEndpoint.id, WebhookEndpoint.event_types).where(
                WebhookEndpoint.org == org, col(WebhookEndpoint.enabled)
            )
        )
        known[org] = [(id_, list(types)) for id_, types in rows.all()]
    return known[org]


def delivery_id(endpoint_id: str, event_id: str) -> str:
    """The same for one event and one endpoint, however often the event is heard."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"binome:webhook:{endpoint_id}:{event_id}"))


async def fan_out(uow: UnitOfWork, event: Event, data: EventData) -> None:
    """Queue the event for each enabled endpoint of its organisation subscribed to its type
    (nothing twice: a delivery's id is the endpoint's and the event's)."""
    targets = [
        id_
        for id_, types in await _subscribers(uow, event.org)
        if domain.subscribed(types, event.type)
    ]
    if not targets:
        return
    body, now = to_structured(event).decode(), uow.now()
    rows = [
        {
            "id": delivery_id(endpoint, event.id),
            "endpoint_id": endpoint,
            "org": event.org,
            "event_id": event.id,
            "event_type": event.type,
            "payload": body,
            "status": DeliveryStatus.pending.value,
            "attempts": 0,
            "total_attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        for endpoint in targets
    ]
    conn = await uow.session.connection()
    table = WebhookDelivery.__table__  # type: ignore[attr-defined]
    await conn.execute(*bulk.write(conn, table, rows, conflict=["id"]))
