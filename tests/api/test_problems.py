"""An API frontends can rely on: every error is one problem shape (RFC 9457) and is documented
on every operation, operation ids read like the handlers, and CORS is what the settings say."""

from __future__ import annotations

from pathlib import Path

import httpx

from services import load_all
from shared.app import build_app
from shared.settings import Settings
from tests.helpers import Api

ERRORS = {"401", "403", "404", "409", "413", "422", "429", "503"}
PROBLEM = "application/problem+json"


async def test_every_operation_documents_its_errors_as_problems(api: Api) -> None:
    doc = (await api.c.get("/openapi.json")).json()
    assert doc["servers"] and doc["components"]["schemas"]["Problem"]["required"] == [
        "title",
        "status",
        "detail",
    ]
    ids = []
    for path, item in doc["paths"].items():
        if not path.startswith("/v1/"):
            continue
        for method, operation in item.items():
            ids.append(operation["operationId"])
            # A body is absent or required (`{}` where every field has a default): generated
            # clients mishandle an optional one (openapi-python-client sends its UNSET).
            assert operation.get("requestBody", {"required": True})["required"], (method, path)
            assert ERRORS <= set(operation["responses"]), (method, path)
            for code in ERRORS:
                content = operation["responses"][code]["content"]
                assert list(content) == [PROBLEM], (method, path, code)
                assert content[PROBLEM]["schema"] == {"$ref": "#/components/schemas/Problem"}
    assert len(ids) == len(set(ids)) > 80
    assert "run_matching" in ids and "complete_session" in ids and "complete_match" in ids
    assert not [i for i in ids if "_v1_" in i]  # FastAPI's default: method and path glued


async def test_errors_are_problems(api: Api) -> None:
    async def problem(r: httpx.Response, status: int) -> dict:
        assert r.status_code == status, r.text
        assert r.headers["content-type"] == PROBLEM
        body = r.json()
        assert body["status"] == status and body["type"] == "about:blank" and body["title"]
        return body

    unknown = await problem(await api.c.get("/v1/nowhere", headers=api.admin), 404)
    assert unknown["detail"] == "Not Found" and unknown["instance"] == "/v1/nowhere"
    r = await api.c.delete("/v1/programs", headers=api.admin)
    assert (await problem(r, 405))["detail"] == "Method Not Allowed"
    assert set(r.headers["allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    r = await api.c.get("/v1/programs")
    assert (await problem(r, 401))["detail"] and r.headers["www-authenticate"].startswith("Bearer")
    r = await api.c.post("/v1/programs", headers=api.admin, json={"name": 7, "bogus": 1})
    invalid = await problem(r, 422)
    assert {tuple(e["loc"]) for e in invalid["errors"]} == {("body", "name"), ("body", "bogus")}
    assert invalid["detail"].startswith("body.") and "(and 1 more)" in invalid["detail"]
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    r = await api.c.post("/v1/programs", headers=api.admin, content=big)
    assert "larger than" in (await problem(r, 413))["detail"]
    absent = await problem(await api.c.get("/v1/programs/nope", headers=api.admin), 404)
    assert absent["instance"] == "/v1/programs/nope"


async def test_cors_allows_the_configured_origins_only(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path / "data", cors_origins=["https://app.example"])
    app = build_app(load_all(), settings, name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://binome") as c:
            preflight = {
                "Origin": "https://app.example",
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "authorization,content-type",
            }
            r = await c.options("/v1/programs", headers=preflight)
            assert r.status_code == 200
            assert r.headers["access-control-allow-origin"] == "https://app.example"
            other = await c.options(
                "/v1/programs", headers={**preflight, "Origin": "https://evil.example"}
            )
            assert "access-control-allow-origin" not in other.headers
            plain = await c.get("/v1/programs", headers={"Origin": "https://app.example"})
            assert plain.headers["access-control-allow-origin"] == "https://app.example"
            # Conditional requests: a page may send If-Match / If-None-Match and read ETag.
            conditional = {
                **preflight,
                "Access-Control-Request-Method": "PATCH",
                "Access-Control-Request-Headers": "authorization,content-type,if-match",
            }
            r = await c.options("/v1/programs/p1", headers=conditional)
            assert r.status_code == 200, r.text
            assert "if-match" in r.headers["access-control-allow-headers"].lower()
            assert "etag" in plain.headers["access-control-expose-headers"].lower()


async def test_the_events_are_served_as_an_asyncapi_document(api: Api) -> None:
    doc = (await api.c.get("/asyncapi.json")).json()
    assert doc["asyncapi"] == "3.0.0"
    assert set(doc["channels"]) == {"enrollment", "matching", "sessions", "feedback", "reporting"}
    assert {"reporting.receive.matching", "matching.send"} <= set(doc["operations"])
