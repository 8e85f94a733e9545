"""The edge of every Binôme app, through real HTTP calls: security headers, rate limits
(429 with Retry-After, per token and per address), the docs served from local assets or
turned off (nginx's refusals, in front of the services: tests/api/test_proxy.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import load_all
from shared.app import build_app
from shared.settings import Settings
from tests.helpers import auth


@asynccontextmanager
async def served(
    settings: Settings, client: tuple[str, int] = ("10.0.0.1", 1234)
) -> AsyncIterator[httpx.AsyncClient]:
    app = build_app(load_all(), settings, name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, client=client)
        async with httpx.AsyncClient(transport=transport, base_url="http://binome") as c:
            yield c


def _settings(tmp_path: Path, **extra: Any) -> Settings:
    return Settings(data_dir=tmp_path / "data", **extra)


async def test_security_headers_on_every_answer(api: Any) -> None:
    for path, headers in (("/v1/programs", api.admin), ("/v1/programs", {}), ("/healthz", {})):
        r = await api.c.get(path, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff", path
        assert r.headers["content-security-policy"] == "frame-ancestors 'none'"
        assert r.headers["x-frame-options"] == "DENY"
        assert r.headers["referrer-policy"] == "no-referrer"
        assert (r.headers.get("cache-control") == "no-store") == path.startswith("/v1/")


async def test_rate_limits_per_token_and_per_address(tmp_path: Path) -> None:
    settings = _settings(
        tmp_path, rate_limit_per_token="5/minute", rate_limit_per_address="12/minute"
    )
    alice, bob = auth(settings, employee_id="alice"), auth(settings, employee_id="bob")
    async with served(settings) as c:
        codes = [(await c.get("/v1/programs", headers=alice)).status_code for _ in range(6)]
        assert codes == [200] * 5 + [429]
        r = await c.get("/v1/programs", headers=alice)
        assert r.status_code == 429
        assert 1 <= int(r.headers["retry-after"]) <= 60
        assert r.json()["detail"].startswith("rate limit exceeded (5 per 1 minute per token)")
        assert (await c.get("/v1/programs", headers=bob)).status_code == 200  # another caller
        assert (await c.get("/healthz")).status_code == 200  # probes are never limited
        # Tokens invented per request do not escape: the address is counted as well.
        codes = [
            (await c.get("/v1/programs", headers={"Authorization": f"Bearer x{i}"})).status_code
            for i in range(8)  # the address has made 6 requests (429s are not counted)
        ]
        assert (
            codes[-1] == 429
            and "per address"
            in (await c.get("/v1/programs", headers={"Authorization": "Bearer y"})).json()["detail"]
        )


async def test_limits_are_checked_settings(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="rate_limit_per_token"):
        _settings(tmp_path, rate_limit_per_token="3 per fortnight")


async def test_docs_from_local_assets_or_off(tmp_path: Path) -> None:
    async with served(_settings(tmp_path)) as c:
        page = (await c.get("/docs")).text
        assert "/docs-assets/swagger-ui-bundle.js" in page and "cdn" not in page.lower()
        js = await c.get("/docs-assets/swagger-ui-bundle.js")
        assert js.status_code == 200 and len(js.content) > 100_000
        assert "/docs-assets/redoc.standalone.js" in (await c.get("/redoc")).text
        assert (await c.get("/openapi.json")).json()["info"]["title"] == "Binôme binome"
    async with served(_settings(tmp_path / "off", docs=False)) as c:
        for path in ("/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"):
            assert (await c.get(path)).status_code == 404, path
        assert (await c.get("/healthz")).status_code == 200
