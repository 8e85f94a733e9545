"""SCIM 2.0 provisioning (`/scim/v2`, RFC 7643/7644) of the employee directory: each change an
identity provider makes is the HRIS event it means (create = hired, `active: false` =
terminated...), under the organisation's own bearer credential; filters, paging, PATCH,
ETags and errors as the RFCs say. (tests/api/test_scim_compliance.py runs the independent
scim2-tester suite against a running server.)"""

from __future__ import annotations

from typing import Any

import httpx

from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"


class Scim:
    """An identity provider's client: the organisation's SCIM token on every request."""

    def __init__(self, api: Api, token: str) -> None:
        self.c = api.c
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}

    async def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {**self.headers, **kw.pop("headers", {})}
        return await self.c.request(method, "/scim/v2" + path, headers=headers, **kw)

    async def ok(self, method: str, path: str, expect: int = 200, **kw: Any) -> Any:
        r = await self.call(method, path, **kw)
        assert r.status_code == expect, f"{method} {path} -> {r.status_code} {r.text}"
        assert r.headers["content-type"].startswith("application/scim+json")
        return r.json() if r.content else None

    async def create(self, user_name: str, **attributes: Any) -> Any:
        body = {"schemas": [CORE, ENTERPRISE], "userName": user_name, **attributes}
        return await self.ok("POST", "/Users", expect=201, json=body)

    async def patch(self, user_id: str, *operations: dict[str, Any]) -> Any:
        """PATCH (answered 204, RFC 7644 §3.5.2), then the user as it reads."""
        body = {"schemas": [PATCH], "Operations": list(operations)}
        await self.ok("PATCH", f"/Users/{user_id}", expect=204, json=body)
        return await self.ok("GET", f"/Users/{user_id}")

    async def search(self, scim_filter: str | None = None, **params: Any) -> Any:
        query = params | ({"filter": scim_filter} if scim_filter else {})
        return await self.ok("GET", "/Users", params=query)


async def _scim(api: Api) -> Scim:
    made = await api.ok("POST", "/v1/scim-credentials", json={"label": "okta"}, expect=201)
    return Scim(api, made["token"])


def _error(r: httpx.Response, status: int, scim_type: str | None = None) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["schemas"] == [ERROR] and body["status"] == str(status), body
    assert body.get("scimType") == scim_type, body
    return body  # type: ignore[no-any-return]


async def test_credentials_are_the_organisations_and_revocable(api: Api) -> None:
    made = await api.ok("POST", "/v1/scim-credentials", json={"label": "Okta"}, expect=201)
    assert made["token"].startswith("scim_") and made["label"] == "Okta"
    listed = await api.items("/v1/scim-credentials")
    assert [(c["id"], c["revoked_at"]) for c in listed] == [(made["id"], None)]
    assert "token" not in listed[0]
    scim = Scim(api, made["token"])
    assert (await scim.search())["totalResults"] == 0
    # Employees may not mint one; an unknown body field is refused.
    r = await api.c.post("/v1/scim-credentials", json={}, headers=api.as_employee("eve"))
    assert r.status_code == 403
    r = await api.c.post("/v1/scim-credentials", json={"scope": "all"}, headers=api.admin)
    assert r.status_code == 422 and "scope" in r.text

    # Without a token, with an API token (not a SCIM one) or a revoked one: 401, the SCIM way.
    for headers in ({}, api.admin):
        r = await api.c.get("/scim/v2/Users", headers=headers)
        _error(r, 401)
        assert r.headers["www-authenticate"].startswith("Bearer")
    # The service provider's configuration needs none (RFC 7643 §5).
    config = (await api.c.get("/scim/v2/ServiceProviderConfig")).json()
    assert (config["patch"]["supported"], config["filter"]["supported"]) == (True, True)
    assert (config["bulk"]["supported"], config["etag"]["supported"]) == (False, True)
    revoked = await api.ok("DELETE", f"/v1/scim-credentials/{made['id']}")
    assert revoked["revoked_at"] is not None
    _error(await scim.call("GET", "/Users"), 401)
    r = await api.c.delete("/v1/scim-credentials/nope", headers=api.admin)
    assert r.status_code == 404


async def test_a_users_lifecycle_is_the_directorys(api: Api) -> None:
    scim = await _scim(api)
    await api.hire({"id": "boss", "name": "Big Boss", "email": "boss@acme.com"})
    user = await scim.create(
        "Ada.Lovelace@acme.com",
        externalId="okta-00u1",
        name={"givenName": "Ada", "familyName": "Lovelace"},
        emails=[{"value": "ada@acme.com", "type": "work", "primary": True}],
        phoneNumbers=[{"value": "+33 1 23 45 67 89", "type": "work"}],
        timezone="Europe/Paris",
        **{ENTERPRISE: {"department": "R&D", "manager": {"value": "boss", "$ref": "Users/boss"}}},
    )
    uid = user["id"]
    assert user["meta"]["location"].endswith(f"/scim/v2/Users/{uid}")
    assert user["phoneNumbers"] == [{"value": "+33 1 23 45 67 89", "type": "work"}]
    employee = await api.ok("GET", f"/v1/employees/{uid}")
    assert (employee["name"], employee["email"], employee["department"]) == (
        "Ada Lovelace", "ada@acme.com", "R&D"
    )  # fmt: skip
    assert (employee["manager_id"], employee["timezone"], employee["status"]) == (
        "boss", "Europe/Paris", "active"
    )  # fmt: skip

    # userName is compared without case; HRIS employees are users too (named by their email).
    found = await scim.search('userName eq "ada.lovelace@ACME.com"')
    assert [u["id"] for u in found["Resources"]] == [uid]
    boss = await scim.search('userName eq "boss@acme.com"')
    assert [(u["id"], u["displayName"]) for u in boss["Resources"]] == [("boss", "Big Boss")]

    # PATCH: the name changes in the directory; the ETag moves.
    r = await scim.call("GET", f"/Users/{uid}")
    etag = r.headers["etag"]
    patched = await scim.patch(uid, {"op": "replace", "path": "displayName", "value": "Ada L."})
    assert patched["meta"]["version"] != etag
    assert (await api.ok("GET", f"/v1/employees/{uid}"))["name"] == "Ada L."
    # A stale ETag is refused (412); a current one passes.
    r = await scim.call(
        "PATCH", f"/Users/{uid}", headers={"If-Match": etag},
        json={"schemas": [PATCH], "Operations": [{"op": "replace", "path": "title", "value": "x"}]},
    )  # fmt: skip
    _error(r, 412)

    # An HRIS push changes the record since: SCIM reads the directory's values.
    moved = {"id": uid, "name": "Ada L.", "email": "ada@acme.com", "department": "Ops"}
    await api.ok(
        "POST", "/v1/hris/events", headers=api.hris,
        json={"events": [{"event_id": "move-ada", "type": "updated", "employee": moved}]},
    )  # fmt: skip
    read = await scim.ok("GET", f"/Users/{uid}")
    assert read[ENTERPRISE].get("department") == "Ops" and "manager" not in read[ENTERPRISE]
    assert read["phoneNumbers"] == user["phoneNumbers"]  # what the directory does not hold

    # Deactivated: terminated; reactivated: hired again.
    await scim.patch(uid, {"op": "replace", "path": "active", "value": False})
    assert (await api.ok("GET", f"/v1/employees/{uid}"))["status"] == "terminated"
    inactive = await scim.search("active eq false")
    assert [u["id"] for u in inactive["Resources"]] == [uid]
    await scim.patch(uid, {"op": "replace", "value": {"active": True}})
    assert (await api.ok("GET", f"/v1/employees/{uid}"))["status"] == "active"

    # Deleted: terminated, out of SCIM's sight, the userName free again.
    await scim.ok("DELETE", f"/Users/{uid}", expect=204)
    _error(await scim.call("GET", f"/Users/{uid}"), 404)
    assert (await api.ok("GET", f"/v1/employees/{uid}"))["status"] == "terminated"
    assert (await scim.search('userName eq "ada.lovelace@acme.com"'))["totalResults"] == 0
    again = await scim.create("ada.lovelace@acme.com")
    assert again["id"] != uid


async def test_deactivating_a_mentor_through_scim_rematches_their_mentee(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    leaver = match["mentor_employee_id"]
    scim = await _scim(api)
    await scim.patch(leaver, {"op": "replace", "path": "active", "value": False})
    withdrawn = await api.items(
        "/v1/participants", params={"program_id": cohort.program_id, "status": "withdrawn"}
    )
    assert [(p["employee_id"], p["withdrawn_reason"]) for p in withdrawn] == [
        (leaver, "left_company")
    ]

    async def replacement() -> dict[str, Any] | None:
        found = await api.matches(participant_id=cohort.mentee_participant["id"])
        return next((m for m in found if m["replaces_match_id"] == match["id"]), None)

    new = await eventually(replacement, what="a replacement after SCIM deactivated the mentor")
    assert new["mentor_employee_id"] != leaver


async def test_filters_and_pages(api: Api) -> None:
    scim = await _scim(api)
    for i in range(5):
        await scim.create(
            f"user{i}@corp.com",
            emails=[{"value": f"u{i}@{'corp' if i % 2 else 'home'}.com", "type": "work"}],
            active=i != 4,
            **{ENTERPRISE: {"department": "Sales" if i < 2 else "R&D"}},
        )
    await scim.create("under_score@corp.com")
    # Pages by startIndex and count (1-based), in a stable order, the total on each.
    pages = [await scim.search('userName sw "user"', startIndex=i, count=2) for i in (1, 3, 5)]
    assert [(p["totalResults"], p["startIndex"], p["itemsPerPage"]) for p in pages] == [
        (5, 1, 2), (5, 3, 2), (5, 5, 1)
    ]  # fmt: skip
    names = sorted(u["userName"] for p in pages for u in p["Resources"])
    assert names == [f"user{i}@corp.com" for i in range(5)]
    assert (await scim.search('userName sw "user"', count=0))["Resources"] == []
    # `_` and `%` are literal in co/sw/ew, not wildcards.
    assert (await scim.search('userName co "_"'))["totalResults"] == 1
    sales = await scim.search(f'{ENTERPRISE}:department eq "sales" and active eq true')
    assert sorted(u["userName"] for u in sales["Resources"]) == [
        "user0@corp.com",
        "user1@corp.com",
    ]
    assert (await scim.search("not (active eq true)"))["totalResults"] == 1
    assert (await scim.search('meta.lastModified gt "2000-01-01T00:00:00Z"'))["totalResults"] == 6
    # An attribute kept as sent (an email's type and value): evaluated per user, same answer.
    work = await scim.search('emails[type eq "work" and value ew "@corp.com"]')
    assert sorted(u["userName"] for u in work["Resources"]) == [
        "user1@corp.com",
        "user3@corp.com",
    ]
    # POST /.search takes the same query in a body.
    body = {
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:SearchRequest"],
        "filter": 'userName eq "USER3@corp.com"',
        "attributes": ["userName"],
    }
    searched = await scim.ok("POST", "/Users/.search", json=body)
    assert [set(u) - {"schemas", "id"} for u in searched["Resources"]] == [{"userName"}]


async def test_bad_requests_are_answered_per_rfc_7644(api: Api) -> None:
    scim = await _scim(api)
    _error(await scim.call("GET", "/Users", params={"filter": "userName eq"}), 400, "invalidFilter")
    _error(
        await scim.call("GET", "/Users", params={"filter": 'userName xx "a"'}), 400, "invalidFilter"
    )
    _error(
        await scim.call("GET", "/Users", params={"filter": 'active eq "yes"'}), 400, "invalidFilter"
    )
    # A user without a userName; a second user of the same userName (whatever its case).
    r = await scim.call("POST", "/Users", json={"schemas": [CORE], "displayName": "No one"})
    _error(r, 400, "invalidValue")
    await scim.create("Dup@acme.com")
    _error(
        await scim.call("POST", "/Users", json={"schemas": [CORE], "userName": "dup@ACME.com"}),
        409,
        "uniqueness",
    )
    # A value the directory refuses is named.
    far = {"value": "m" * 101, "$ref": "Users/x"}
    body = {"schemas": [CORE, ENTERPRISE], "userName": "x@acme.com", ENTERPRISE: {"manager": far}}
    body = _error(await scim.call("POST", "/Users", json=body), 400, "invalidValue")
    assert body["detail"].startswith("manager_id:"), body
    _error(await scim.call("GET", "/Users/nope"), 404)
    replace = {"op": "replace", "path": "displayName", "value": "x"}
    r = await scim.call("PATCH", "/Users/nope", json={"schemas": [PATCH], "Operations": [replace]})
    _error(r, 404)
    # Not JSON.
    r = await scim.call(
        "POST", "/Users", content=b"{", headers={"Content-Type": "application/scim+json"}
    )
    assert r.status_code == 400 and r.json()["schemas"] == [ERROR]


async def test_an_organisation_sees_only_its_own_users(api: Api) -> None:
    ours = await _scim(api)
    user = await ours.create("ann@acme.com")
    other_admin = Api(api.c, api.settings, org="globex").admin
    made = await api.ok("POST", "/v1/scim-credentials", json={}, headers=other_admin, expect=201)
    theirs = Scim(api, made["token"])
    _error(await theirs.call("GET", f"/Users/{user['id']}"), 404)
    assert (await theirs.search('userName eq "ann@acme.com"'))["totalResults"] == 0
    # The same userName is free in another organisation.
    await theirs.create("ann@acme.com")


async def test_identity_providers_own_forms_are_understood(api: Api) -> None:
    """Okta sends the manager without the `$ref` RFC 7643 §8.7.2 asks for; Microsoft Entra
    sends it as a bare id, capitalises its PATCH operations, writes booleans as strings and
    removes an entry by naming its value."""
    scim = await _scim(api)
    await api.hire({"id": "boss", "name": "Boss"}, {"id": "boss2", "name": "Other Boss"})
    okta = await scim.create("okta@acme.com", **{ENTERPRISE: {"manager": {"value": "boss"}}})
    assert (await api.ok("GET", f"/v1/employees/{okta['id']}"))["manager_id"] == "boss"
    await scim.patch(
        okta["id"],
        {"op": "Replace", "path": f"{ENTERPRISE}:manager", "value": "boss2"},
        {"op": "Replace", "path": "active", "value": "False"},
        {"op": "Add", "path": "emails", "value": [{"value": "o2@acme.com", "type": "home"}]},
    )
    employee = await api.ok("GET", f"/v1/employees/{okta['id']}")
    assert (employee["manager_id"], employee["status"]) == ("boss2", "terminated")
    assert employee["email"] == "o2@acme.com"
    await scim.patch(
        okta["id"], {"op": "Remove", "path": "emails", "value": [{"value": "o2@acme.com"}]}
    )
    assert (await api.ok("GET", f"/v1/employees/{okta['id']}"))["email"] is None
