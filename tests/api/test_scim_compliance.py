"""SCIM judged from the outside, against a running `binome serve` (SQLite): the independent
scim2-tester compliance suite passes every check, and an identity provider's session through
scim2-client goes as RFC 7644 says."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from shared.auth import Role, mint_token
from shared.settings import Settings
from tests.helpers.fuzz import serving
from tests.helpers.scim import client_session, compliance_failures


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with serving({"BINOME_DATA_DIR": str(tmp_path_factory.mktemp("scim"))}) as url:
        yield url


def test_scim2_tester_passes_every_check(server: str) -> None:
    ran, failed = compliance_failures(server, org="scim-tester")
    assert ran >= 100 and failed == [], "\n".join(failed)


def test_an_identity_providers_session_through_scim2_client(server: str) -> None:
    seen = client_session(server, org="scim-client")
    created = seen["created"]
    assert seen["found"] == [created.id]
    assert seen["deactivated"].active is False
    employee = httpx.get(f"{server}/v1/employees/{created.id}", headers=_admin("scim-client"))
    assert (employee.json()["status"], employee.json()["department"]) == ("terminated", "Computing")
    bad = seen["bad_filter"]
    assert isinstance(bad, seen["error_type"]) and (bad.status, bad.scim_type) == (
        400,
        "invalidFilter",
    )
    assert isinstance(seen["gone"], seen["error_type"]) and seen["gone"].status == 404


def _admin(org: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {mint_token(Settings(), org=org, role=Role.admin)}"}
