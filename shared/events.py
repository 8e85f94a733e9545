"""The event envelope, the registry of event contracts, and their CloudEvents 1.0 wire form.

Every event that crosses a service boundary is a subclass of `EventData` declared in
`shared/contracts/`: one source of truth for producers and consumers. Its `TYPE` is versioned
(`binome.<producer>.<entity>.<fact>.v1`); a breaking change adds a `.v2` class beside it.

On the wire (Kafka and the embedded bus alike) an event is a CloudEvents 1.0 *binary mode*
message: attributes in `ce_*` headers, the JSON data as the value, and the aggregate id as the
key so that the events of one entity stay in order.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, ClassVar

import orjson
from pydantic import BaseModel, ConfigDict, Field, ValidationError

SPEC_VERSION = "1.0"
_REGISTRY: dict[str, type[EventData]] = {}


class EventData(BaseModel):
    """Base of every event contract. Subclasses set TYPE and are registered by it."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    TYPE: ClassVar[str]
    KEY: ClassVar[str]  # the field holding the aggregate id

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Called once pydantic has built the class, so model_fields is known here.
        super().__pydantic_init_subclass__(**kwargs)
        type_ = cls.__dict__.get("TYPE")
        if type_:
            if type_ in _REGISTRY:
                raise RuntimeError(f"event type {type_} declared twice")
            if cls.KEY not in cls.model_fields:
                raise RuntimeError(f"{cls.__name__}.KEY names no field")
            _REGISTRY[type_] = cls

    def key(self) -> str:
        """The aggregate id: events with the same key stay in order."""
        return str(getattr(self, self.KEY))


def contract_for(type_: str) -> type[EventData] | None:
    return _REGISTRY.get(type_)


def event_types() -> list[str]:
    """Every event type declared (the contracts imported so far: `shared.contracts` all)."""
    return sorted(_REGISTRY)


def producer_of(type_: str) -> str:
    """`binome.matching.match.proposed.v1` -> `matching`."""
    return type_.split(".")[1]


# Topic names. `prefix` (BINOME_TOPIC_PREFIX) lets several environments share one cluster.
def topic_for(type_: str, prefix: str = "") -> str:
    return topic_of(producer_of(type_), prefix)


def topic_of(service: str, prefix: str = "") -> str:
    return f"{prefix}binome.{service}.events"


def dead_letter_topic(group: str, prefix: str = "") -> str:
    return f"{prefix}binome.deadletter.{group}"


class Event(BaseModel):
    """A CloudEvent as Binôme uses it. `org` is an extension attribute scoping the tenant."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: str(uuid.uuid4()))
    type: str
    source: str
    subject: str
    time: datetime = Field(default_factory=lambda: datetime.now(UTC))
    org: str
    data: dict[str, Any]
    traceparent: str | None = None
    tracestate: str | None = None

    @classmethod
    def of(
        cls, data: EventData, *, org: str, time: datetime | None = None, **trace: str | None
    ) -> Event:
        """`time`: when it happened, on the emitting service's clock (now, by default). The
        envelope is built from values this process made (the contract already validated), so
        without validating them again: a programme re-judged at once emits tens of thousands."""
        return cls.model_construct(
            id=str(uuid.uuid4()),
            type=data.TYPE,
            time=time or datetime.now(UTC),
            source=f"/binome/{producer_of(data.TYPE)}",
            subject=data.key(),
            org=org,
            data=data.model_dump(mode="json"),
            traceparent=trace.get("traceparent"),
            tracestate=trace.get("tracestate"),
        )

    def parse(self) -> EventData:
        contract = contract_for(self.type)
        if contract is None:
            raise UnknownEventType(self.type)
        return contract.model_validate(self.data)


class UnknownEventType(Exception):
    pass


class UndecodableEvent(Exception):
    pass


def to_wire(event: Event) -> tuple[list[tuple[str, bytes]], bytes]:
    """CloudEvents binary mode: (headers, value)."""
    attrs = _attributes(
        event.id, event.type, event.subject, event.time, event.org,
        event.traceparent, event.tracestate, source=event.source,
    )  # fmt: skip
    return [(k, v.encode()) for k, v in attrs], orjson.dumps(event.data)


def wire_of(
    data: EventData,
    *,
    org: str,
    time: datetime,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> tuple[str, list[tuple[str, str]], str]:
    """A new event straight in its wire form, (id, headers, JSON value) as text, without
    building its envelope (`Event.of` then `to_wire` give the same): what the outbox stores,
    for the tens of thousands of events a bulk use case emits."""
    id_ = str(uuid.uuid4())
    attrs = _attributes(id_, data.TYPE, data.key(), time, org, traceparent, tracestate)
    return id_, attrs, data.model_dump_json()


def _attributes(
    id_: str,
    type_: str,
    subject: str,
    time: datetime,
    org: str,
    traceparent: str | None,
    tracestate: str | None,
    *,
    source: str | None = None,
) -> list[tuple[str, str]]:
    attrs = [
        ("ce_specversion", SPEC_VERSION),
        ("ce_id", id_),
        ("ce_source", source or f"/binome/{producer_of(type_)}"),
        ("ce_type", type_),
        ("ce_subject", subject),
        ("ce_time", time.isoformat()),
        ("ce_org", org),
        ("content-type", "application/json"),
    ]
    # The CloudEvents distributed-tracing extension carries W3C trace context.
    if traceparent:
        attrs += [("ce_traceparent", traceparent), ("traceparent", traceparent)]
    if tracestate:
        attrs.append(("ce_tracestate", tracestate))
    return attrs


def to_structured(event: Event) -> bytes:
    """CloudEvents 1.0 *structured* mode (`application/cloudevents+json`): the same attributes
    as the binary mode's `ce_*` headers and the data, in one JSON object: what leaves Binôme
    over HTTP (webhooks)."""
    attrs = _attributes(
        event.id, event.type, event.subject, event.time, event.org,
        event.traceparent, event.tracestate, source=event.source,
    )  # fmt: skip
    doc: dict[str, Any] = {k.removeprefix("ce_"): v for k, v in attrs if k.startswith("ce_")}
    return orjson.dumps({**doc, "datacontenttype": "application/json", "data": event.data})


def type_on_wire(headers: list[tuple[str, bytes]] | None) -> str | None:
    """The type a message's headers name (`ce_type`), the rest left undecoded; None if they
    name none readable."""
    for k, v in headers or []:
        if k == "ce_type":
            try:
                return v.decode()
            except UnicodeDecodeError:
                return None
    return None


def from_wire(headers: list[tuple[str, bytes]] | None, value: bytes | None) -> Event:
    try:
        h = {k: v.decode() for k, v in headers or []}
        if h.get("ce_specversion") != SPEC_VERSION:
            raise UndecodableEvent(f"not a CloudEvents {SPEC_VERSION} message")
        data = orjson.loads(value or b"")
        if not isinstance(data, dict):
            raise UndecodableEvent(f"its data is a JSON {type(data).__name__}, not an object")
        # Every field is of its type already (strings from the headers, a datetime, a dict):
        # built without validating them again, as `Event.of` does; every consumer decodes
        # every event it handles.
        return Event.model_construct(
            id=h["ce_id"],
            type=h["ce_type"],
            source=h["ce_source"],
            subject=h.get("ce_subject", ""),
            time=datetime.fromisoformat(h["ce_time"]),
            org=h["ce_org"],
            data=data,
            traceparent=h.get("ce_traceparent"),
            tracestate=h.get("ce_tracestate"),
        )
    except UndecodableEvent:
        raise
    except (
        KeyError,
        ValueError,
        UnicodeDecodeError,
        ValidationError,
        orjson.JSONDecodeError,
    ) as exc:
        raise UndecodableEvent(f"{type(exc).__name__}: {exc}") from exc
