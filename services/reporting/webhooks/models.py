"""Webhook endpoints, their deliveries and each delivery's attempts (reporting's tables), and
the bodies of the webhook routes."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated, Any

from pydantic import BaseModel, StringConstraints
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index, String, Text
from sqlmodel import Field

from services.reporting.models import Base
from services.reporting.webhooks.domain import DeliveryStatus
from shared.api import Instant, Request


class WebhookEndpoint(Base, table=True):
    """An organisation's receiver: its URL, the event types it gets, its signing secrets
    (the current one first; a rotated-out one with the time it stops signing)."""

    __tablename__ = "webhook_endpoint"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    url: str = Field(max_length=2000)
    description: str | None = Field(default=None, max_length=500)
    event_types: list[str] = Field(default_factory=list, sa_type=JSON)
    secrets: list[dict[str, Any]] = Field(default_factory=list, sa_type=JSON)
    enabled: bool = True
    disabled_reason: str | None = Field(default=None, max_length=300)
    disabled_at: datetime | None = None
    failing_since: datetime | None = None  # the first failure since the last success
    created_at: datetime


class WebhookDelivery(Base, table=True):
    """One event for one endpoint: sent, retried on its schedule, logged. Its id is the
    `webhook-id` header: the same on every attempt, so a receiver can drop a duplicate."""

    __tablename__ = "webhook_delivery"
    __table_args__ = (
        Index("ix_webhook_delivery_due", "status", "next_attempt_at"),
        Index("ix_webhook_delivery_endpoint", "endpoint_id", "created_at", "id"),
    )
    id: str = Field(primary_key=True, max_length=36)
    endpoint_id: str = Field(max_length=36)
    org: str = Field(max_length=100)
    event_id: str = Field(max_length=100)
    event_type: str = Field(max_length=200)
    payload: str = Field(sa_type=Text)  # the CloudEvent, structured JSON: the body sent
    status: DeliveryStatus = Field(default=DeliveryStatus.pending, sa_type=String(10))
    attempts: int = 0  # in this round (a replay starts a new one)
    total_attempts: int = 0
    next_attempt_at: datetime | None = None
    last_status: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    created_at: datetime
    delivered_at: datetime | None = None


class WebhookAttempt(Base, table=True):
    """One try of a delivery: when, what the receiver answered (or why it could not), how
    long it took."""

    __tablename__ = "webhook_attempt"
    id: str = Field(primary_key=True, max_length=36)
    delivery_id: str = Field(index=True, max_length=36)
    number: int
    at: datetime
    status_code: int | None = None
    error: str | None = Field(default=None, max_length=500)
    duration_ms: int
    response: str | None = Field(default=None, max_length=500)  # the body's first characters


# --- bodies -----------------------------------------------------------------------------------

EventType = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class WebhookEndpointIn(Request):
    url: str = PydanticField(max_length=2000)
    event_types: list[EventType] = PydanticField(min_length=1, max_length=100)
    description: str | None = PydanticField(default=None, max_length=500)


class WebhookEndpointPatch(Request):
    url: str | None = PydanticField(default=None, max_length=2000)
    event_types: list[EventType] | None = PydanticField(default=None, min_length=1, max_length=100)
    description: str | None = PydanticField(default=None, max_length=500)
    enabled: bool | None = None  # true re-enables a disabled endpoint; false pauses it


class SecretRotationIn(Request):
    keep_previous_for: timedelta = PydanticField(
        default=timedelta(days=1), ge=timedelta(0), le=timedelta(days=7)
    )


class RecoverIn(Request):
    since: Instant


class WebhookEndpointPublic(BaseModel):
    id: str
    url: str
    description: str | None
    event_types: list[str]
    enabled: bool
    disabled_reason: str | None
    disabled_at: datetime | None
    failing_since: datetime | None
    created_at: datetime
    previous_secret_expires_at: datetime | None


class WebhookEndpointCreated(WebhookEndpointPublic):
    secret: str


class WebhookDeliveryPublic(BaseModel):
    id: str
    endpoint_id: str
    event_id: str
    event_type: str
    status: DeliveryStatus
    attempts: int
    total_attempts: int
    next_attempt_at: datetime | None
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class WebhookAttemptPublic(BaseModel):
    number: int
    at: datetime
    status_code: int | None
    error: str | None
    duration_ms: int
    response: str | None


class WebhookDeliveryDetail(WebhookDeliveryPublic):
    payload: dict[str, Any]
    attempt_log: list[WebhookAttemptPublic]


class Recovered(BaseModel):
    requeued: int
