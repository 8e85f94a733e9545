"""The webhook routes (admins): endpoints, secrets, the delivery log, replays."""

from __future__ import annotations

from typing import Annotated

import orjson
from fastapi import Depends, Query, Request, Response

from services.reporting.webhooks import usecases
from services.reporting.webhooks.domain import DeliveryStatus
from services.reporting.webhooks.models import (
    Recovered,
    RecoverIn,
    SecretRotationIn,
    WebhookAttemptPublic,
    WebhookDelivery,
    WebhookDeliveryDetail,
    WebhookDeliveryPublic,
    WebhookEndpoint,
    WebhookEndpointCreated,
    WebhookEndpointIn,
    WebhookEndpointPatch,
    WebhookEndpointPublic,
)
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.conditional import IfMatch
from shared.paging import Page, Window, listing
from shared.problems import PRECONDITION_RESPONSES
from shared.settings import Settings
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("reporting")]

router = v1_router("reporting")
TAGS: list = ["webhooks"]


async def _settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


AppSettings = Annotated[Settings, Depends(_settings)]


def _endpoint(endpoint: WebhookEndpoint, uow: UnitOfWork) -> WebhookEndpointPublic:
    return usecases.public(endpoint, uow.now())


def _created(endpoint: WebhookEndpoint, secret: str, uow: UnitOfWork) -> WebhookEndpointCreated:
    return WebhookEndpointCreated(**_endpoint(endpoint, uow).model_dump(), secret=secret)


def _delivery(delivery: WebhookDelivery) -> WebhookDeliveryPublic:
    return WebhookDeliveryPublic.model_validate(delivery, from_attributes=True)


@router.post("/webhooks", tags=TAGS, status_code=201, response_model=WebhookEndpointCreated)
async def create_webhook(
    data: WebhookEndpointIn, principal: CurrentPrincipal, uow: Uow, settings: AppSettings
) -> WebhookEndpointCreated:
    """Subscribe an https URL to event types: each event is POSTed to it as a CloudEvent
    (structured JSON), signed the Standard Webhooks way with the secret returned here (and
    only here): headers webhook-id, webhook-timestamp, webhook-signature."""
    endpoint, secret = await usecases.create_endpoint(
        uow=uow, org=principal.org, data=data, settings=settings
    )
    return _created(endpoint, secret, uow)


@router.get("/webhooks", tags=TAGS, response_model=listing(WebhookEndpointPublic))
async def list_webhooks(
    principal: CurrentPrincipal, uow: Uow, page: Page
) -> Window[WebhookEndpointPublic]:
    """The organisation's webhook endpoints, the oldest first."""
    found = await usecases.list_endpoints(uow=uow, org=principal.org, page=page)
    return found.map(lambda e: _endpoint(e, uow))


@router.get("/webhooks/{endpoint_id}", tags=TAGS, response_model=WebhookEndpointPublic)
async def get_webhook(
    endpoint_id: str, principal: CurrentPrincipal, uow: Uow
) -> WebhookEndpointPublic:
    """An endpoint: what it gets, whether it is enabled (and why not), since when it fails."""
    endpoint = await usecases.get_endpoint(uow=uow, org=principal.org, endpoint_id=endpoint_id)
    return _endpoint(endpoint, uow)


@router.patch(
    "/webhooks/{endpoint_id}",
    tags=TAGS,
    response_model=WebhookEndpointPublic,
    responses=PRECONDITION_RESPONSES,
)
async def update_webhook(
    endpoint_id: str,
    data: WebhookEndpointPatch,
    principal: CurrentPrincipal,
    uow: Uow,
    settings: AppSettings,
    if_match: IfMatch = None,
) -> WebhookEndpointPublic:
    """Change the URL, event types or description; `enabled` re-enables or pauses it. With
    `If-Match`, only if the endpoint is still the version read (else 412)."""
    endpoint = await usecases.update_endpoint(
        uow=uow,
        org=principal.org,
        endpoint_id=endpoint_id,
        data=data,
        settings=settings,
        if_match=if_match,
    )
    return _endpoint(endpoint, uow)


@router.delete(
    "/webhooks/{endpoint_id}",
    tags=TAGS,
    status_code=204,
    response_class=Response,
    responses=PRECONDITION_RESPONSES,
)
async def delete_webhook(
    endpoint_id: str, principal: CurrentPrincipal, uow: Uow, if_match: IfMatch = None
) -> Response:
    """The endpoint, its deliveries and their log. With `If-Match`, only if the endpoint is
    still the version read (else 412)."""
    await usecases.delete_endpoint(
        uow=uow, org=principal.org, endpoint_id=endpoint_id, if_match=if_match
    )
    return Response(status_code=204)


@router.post(
    "/webhooks/{endpoint_id}/secret/rotate", tags=TAGS, response_model=WebhookEndpointCreated
)
async def rotate_webhook_secret(
    endpoint_id: str, data: SecretRotationIn, principal: CurrentPrincipal, uow: Uow
) -> WebhookEndpointCreated:
    """A new signing secret (returned here only); the previous one signs beside it (two
    signatures in webhook-signature) for `keep_previous_for`."""
    endpoint, secret = await usecases.rotate_secret(
        uow=uow, org=principal.org, endpoint_id=endpoint_id, data=data
    )
    return _created(endpoint, secret, uow)


@router.get(
    "/webhooks/{endpoint_id}/deliveries",
    tags=TAGS,
    response_model=listing(WebhookDeliveryPublic),
)
async def list_webhook_deliveries(
    endpoint_id: str,
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    status: DeliveryStatus | None = None,
    event_type: Annotated[str | None, Query(min_length=1, max_length=200)] = None,
) -> Window[WebhookDeliveryPublic]:
    """The endpoint's delivery log, the oldest first: each event's status, attempts, last
    answer and next attempt."""
    found = await usecases.list_deliveries(
        uow=uow, org=principal.org, endpoint_id=endpoint_id, page=page, status=status,
        event_type=event_type,
    )  # fmt: skip
    return found.map(_delivery)


@router.get(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}",
    tags=TAGS,
    response_model=WebhookDeliveryDetail,
)
async def get_webhook_delivery(
    endpoint_id: str, delivery_id: str, principal: CurrentPrincipal, uow: Uow
) -> WebhookDeliveryDetail:
    """A delivery: the CloudEvent sent and every attempt (status, error, duration)."""
    delivery, attempts = await usecases.get_delivery(
        uow=uow, org=principal.org, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return WebhookDeliveryDetail(
        **dict(_delivery(delivery)),
        payload=orjson.loads(delivery.payload),
        attempt_log=[
            WebhookAttemptPublic.model_validate(a, from_attributes=True) for a in attempts
        ],
    )


@router.post(
    "/webhooks/{endpoint_id}/deliveries/{delivery_id}/replay",
    tags=TAGS,
    response_model=WebhookDeliveryPublic,
)
async def replay_webhook_delivery(
    endpoint_id: str, delivery_id: str, principal: CurrentPrincipal, uow: Uow
) -> WebhookDeliveryPublic:
    """Send a delivery again now, with a fresh retry schedule (409 while it is pending)."""
    delivery = await usecases.replay(
        uow=uow, org=principal.org, endpoint_id=endpoint_id, delivery_id=delivery_id
    )
    return _delivery(delivery)


@router.post("/webhooks/{endpoint_id}/recover", tags=TAGS, response_model=Recovered)
async def recover_webhook(
    endpoint_id: str, data: RecoverIn, principal: CurrentPrincipal, uow: Uow
) -> Recovered:
    """Send again every failed delivery created since `since` (once the receiver is fixed)."""
    n = await usecases.recover(uow=uow, org=principal.org, endpoint_id=endpoint_id, data=data)
    return Recovered(requeued=n)
