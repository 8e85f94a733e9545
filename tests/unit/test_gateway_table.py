"""The gateway routes every resource of every service's OpenAPI document to that service: a
route a service serves but its router does not list (a nested router, say) would be
unreachable behind nginx while every in-process test passed."""

from __future__ import annotations

from services import SERVICE_NAMES, load_all
from services.proxy import Layout, nginx_conf, resource_table, root_table
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


def test_scim_is_routed_to_enrollment() -> None:
    """SCIM's `/scim/v2/...` lies outside `/v1`: the gateway sends it to enrollment too."""
    urls = {name: f"http://binome-{name}:8000" for name in SERVICE_NAMES}
    assert root_table(urls) == {"scim": "enrollment"}
    assert "location ~ ^/scim(?:/|$) {" in nginx_conf(urls, Layout(root="/srv"))
