"""The events as an AsyncAPI 3.0 document, generated from the contracts (shared/contracts/) and
the services' handlers: what each service sends on its topic and what it receives.

Served at `GET /asyncapi.json` by every process (its own services' operations), kept in the
repository as `docs/asyncapi.json` (all five; a test keeps it current) and validated by the
AsyncAPI parser in the tests.

On the wire an event is a CloudEvents 1.0 message in Kafka's binary mode: the attributes in
`ce_*` headers, the JSON data as the value, the aggregate id as the key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic.json_schema import models_json_schema

import shared.contracts  # noqa: F401  (registers every contract)
from shared.events import _REGISTRY, SPEC_VERSION, EventData, producer_of, topic_of
from shared.vocabulary import describe

if TYPE_CHECKING:
    from shared.service import ServiceDef

REF = "#/components/schemas/{model}"

# The CloudEvents attributes every message carries as headers.
HEADERS: dict[str, Any] = {
    "type": "object",
    "required": ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "ce_org"],
    "properties": {
        "ce_specversion": {"type": "string", "const": SPEC_VERSION},
        "ce_id": {"type": "string", "description": "The event id (redeliveries keep it)."},
        "ce_source": {"type": "string", "description": "`/binome/<producing service>`."},
        "ce_type": {"type": "string", "description": "The versioned event type."},
        "ce_subject": {"type": "string", "description": "The aggregate id (also the key)."},
        "ce_time": {"type": "string", "format": "date-time"},
        "ce_org": {"type": "string", "description": "The tenant."},
        "ce_traceparent": {"type": "string", "description": "W3C trace context."},
        "content-type": {"type": "string", "const": "application/json"},
    },
}


def _message_id(type_: str) -> str:
    """`binome.matching.match.proposed.v1` -> `matching.match.proposed.v1`."""
    return type_.removeprefix("binome.")


def _contracts() -> dict[str, type[EventData]]:
    return {
        t: c for t, c in sorted(_REGISTRY.items()) if t.startswith("binome.")
        and producer_of(t) != "testkit"
    }  # fmt: skip


def document(definitions: Sequence[ServiceDef], *, title: str = "Binôme events") -> dict:
    """The AsyncAPI 3.0 document of the events and of these services' operations."""
    contracts = _contracts()
    _, schemas = models_json_schema(
        [(c, "validation") for c in contracts.values()], ref_template=REF
    )
    messages = {
        _message_id(t): {
            "name": t,
            "title": c.__name__,
            "summary": (c.__doc__ or t).strip().splitlines()[0],
            "contentType": "application/json",
            "headers": {"$ref": "#/components/schemas/CloudEventHeaders"},
            "payload": {"$ref": REF.format(model=c.__name__)},
            "bindings": {"kafka": {"key": {"type": "string", "description": f"`{c.KEY}`"}}},
        }
        for t, c in contracts.items()
    }
    producers = sorted({producer_of(t) for t in contracts})
    channels = {
        p: {
            "address": topic_of(p),
            "description": f"Every event {p} produces, keyed by aggregate id.",
            "messages": {
                m: {"$ref": f"#/components/messages/{m}"}
                for m in (_message_id(t) for t in contracts if producer_of(t) == p)
            },
        }
        for p in producers
    }
    operations: dict[str, Any] = {}
    for d in definitions:
        sent = [t for t in contracts if producer_of(t) == d.name]
        if sent:
            operations[f"{d.name}.send"] = {
                "action": "send",
                "channel": {"$ref": f"#/channels/{d.name}"},
                "summary": f"{d.name} publishes its events (through its outbox).",
                "messages": [
                    {"$ref": f"#/channels/{d.name}/messages/{_message_id(t)}"} for t in sent
                ],
            }
        for p in producers:
            heard = [t for t in d.handlers if t in contracts and producer_of(t) == p]
            if heard:
                operations[f"{d.name}.receive.{p}"] = {
                    "action": "receive",
                    "channel": {"$ref": f"#/channels/{p}"},
                    "summary": f"{d.name} applies these {p} events (group binome-{d.name}).",
                    "messages": [
                        {"$ref": f"#/channels/{p}/messages/{_message_id(t)}"} for t in sorted(heard)
                    ],
                }
    return describe(
        {
            "asyncapi": "3.0.0",
            "info": {
                "title": title,
                "version": "1",
                "description": (
                    "CloudEvents 1.0 in Kafka's binary mode: attributes in `ce_*` headers, the "
                    "JSON data as the value, the aggregate id as the key. A breaking change to an "
                    "event adds a `.v2` type beside the `.v1`."
                ),
            },
            "defaultContentType": "application/json",
            "servers": {
                "kafka": {
                    "host": "localhost:9092",
                    "protocol": "kafka",
                    "description": "BINOME_KAFKA_BOOTSTRAP (topics take BINOME_TOPIC_PREFIX).",
                }
            },
            "channels": channels,
            "operations": operations,
            "components": {
                "messages": messages,
                "schemas": {"CloudEventHeaders": HEADERS, **schemas.get("$defs", {})},
            },
        }
    )
