"""SCIM checked from the outside: the independent scim2-tester suite and a scripted
scim2-client session against a running `binome serve` (tests/api/test_scim_compliance.py on
SQLite, tests/infra/test_scim_pg.py on PostgreSQL)."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2
from scim2_client.engines.httpx2 import SyncSCIMClient
from scim2_models import (
    EnterpriseUser,
    Error,
    PatchOp,
    PatchOperation,
    SearchRequest,
    User,
)
from scim2_tester import Status, check_server

from shared.auth import Role, mint_token
from shared.settings import Settings


def scim_client(url: str, org: str) -> SyncSCIMClient:
    """A client of the organisation's `/scim/v2`, with a token its admin minted, the server
    discovered (its schemas, resource types and configuration)."""
    admin = mint_token(Settings(), org=org, role=Role.admin)
    made = httpx.post(
        f"{url}/v1/scim-credentials", json={"label": "scim2-tester"},
        headers={"Authorization": f"Bearer {admin}"},
    )  # fmt: skip
    assert made.status_code == 201, made.text
    http = httpx2.Client(
        base_url=f"{url}/scim/v2", headers={"Authorization": f"Bearer {made.json()['token']}"}
    )
    client = SyncSCIMClient(http)
    client.discover()
    return client


def compliance_failures(url: str, org: str) -> tuple[int, list[str]]:
    """scim2-tester's every check (discovery, CRUD, PATCH add/replace/remove of each
    attribute, queries with attributes, random URLs): how many ran, and those that did not
    succeed, described."""
    results = check_server(scim_client(url, org))
    failed = [
        f"{r.status.name} {r.title}: {r.reason} {str(r.data)[:300]}"
        for r in results
        if r.status is not Status.SUCCESS
    ]
    return len(results), failed


def client_session(url: str, org: str) -> dict[str, Any]:
    """An identity provider's session through scim2-client: create a user with the enterprise
    extension, find them by userName, deactivate them by PATCH, refuse a malformed filter,
    delete them; what it saw."""
    client = scim_client(url, org)
    model = User[EnterpriseUser]
    user = model(
        user_name="grace.hopper@navy.mil", display_name="Grace Hopper", active=True,
        emails=[User.Emails(value="grace@navy.mil", primary=True)],
    )  # fmt: skip
    user[EnterpriseUser] = EnterpriseUser(department="Computing")
    created = client.create(user)
    found = client.query(
        model, query_parameters=SearchRequest(filter='userName eq "GRACE.HOPPER@navy.mil"')
    )
    patch = PatchOp[model](operations=[PatchOperation(op="replace", path="active", value=False)])
    client.modify(model, created.id, patch)
    deactivated = client.query(model, created.id)
    bad = client.query(
        model, query_parameters={"filter": 'userName eq "x" and'}, raise_scim_errors=False,
        check_request_payload=False,
    )  # fmt: skip
    client.delete(model, created.id)
    gone = client.query(model, created.id, raise_scim_errors=False)
    return {
        "created": created,
        "found": [u.id for u in found.resources or []],
        "deactivated": deactivated,
        "bad_filter": bad,
        "gone": gone,
        "error_type": Error,
    }
