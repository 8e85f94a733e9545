"""The gateway routes every resource of every service's OpenAPI document to that service: a
route a service serves but its router does not list (a nested router, say) would be
unreachable behind nginx while every in-process test passed."""

from __future__ import annotations

from services import SERVICE_NAMES, load_all
from services.proxy import resource_table
from shared.app import build_app
from shared.settings import Settings


def test_every_v1_resource_is_routed_to_its_service() -> None:
    table = resource_table({name: f"http://binome-{name}:8000" for name in SERVICE_NAMES})
    for definition in load_all():
        doc = build_app([definition], Settings(), name=definition.name).openapi()
        resources = {p.split("/")[2] for p in doc["paths"] if p.startswith("/v1/")}
        assert resources, definition.name
        for resource in resources:
            assert table.get(resource) == definition.name, (resource, definition.name)
