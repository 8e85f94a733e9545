"""A small reverse proxy: `/v1/<resource>/...` goes to the service owning `<resource>`.

Each service owns a disjoint set of top-level resources, so routing on the first path segment
after /v1 is enough. The table is derived from the services' own routers, so it cannot drift.
Used by the local distributed script and docker-compose alike.
"""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from fastapi import FastAPI, Request, Response
from fastapi.responses import JSONResponse

from services import load
from shared.limits import BodyLimit
from shared.settings import Settings

_HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
    "content-encoding",
}


def resource_table(service_urls: Mapping[str, str]) -> dict[str, str]:
    """{"employees": "http://127.0.0.1:8101", ...} from {"enrollment": "http://..."}."""
    table: dict[str, str] = {}
    for service, url in service_urls.items():
        for route in load(service).router.routes:
            path = getattr(route, "path", "")
            parts = path.split("/")
            if len(parts) > 2 and parts[1] == "v1":
                table[parts[2]] = url.rstrip("/")
    return table


def build_gateway(service_urls: Mapping[str, str], settings: Settings | None = None) -> FastAPI:
    table = resource_table(service_urls)
    app = FastAPI(title="Binôme gateway", docs_url=None, redoc_url=None, openapi_url=None)
    default, larger = (settings or Settings()).body_limits()
    app.add_middleware(BodyLimit, default=default, larger=larger)  # before any forwarding
    client = httpx.AsyncClient(timeout=30.0)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/v1/{resource}/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.api_route("/v1/{resource}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def proxy(request: Request, resource: str, rest: str = "") -> Response:
        upstream = table.get(resource)
        if upstream is None:
            return JSONResponse(status_code=404, content={"detail": "Not Found"})
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP_BY_HOP}
        try:
            answer = await client.request(
                request.method,
                f"{upstream}{request.url.path}",
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError as exc:
            return JSONResponse(status_code=502, content={"detail": f"{resource}: {exc}"})
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Response(content=answer.content, status_code=answer.status_code, headers=out)

    return app
