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
from shared.edge import install_edge
from shared.problems import MEDIA_TYPE, problem
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


_ENCODED = (b"%2f", b"%5c", b"%2e", b"%00")


def _plain(raw_path: bytes) -> bool:
    """A path the gateway forwards: ASCII, no encoded separator, dot or NUL (`..%2F` would
    reach another upstream document once decoded), no `.`/`..` segment, no empty segment."""
    if not raw_path.isascii() or b"\\" in raw_path:
        return False
    lowered = raw_path.lower()
    if any(e in lowered for e in _ENCODED):
        return False
    segments = raw_path.split(b"/")[1:]
    return all(s not in (b"", b".", b"..") for s in segments)


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


def _problem(request: Request, status: int, detail: str) -> JSONResponse:
    body = problem(status, detail, instance=request.url.path)
    return JSONResponse(status_code=status, content=body, media_type=MEDIA_TYPE)


def build_gateway(service_urls: Mapping[str, str], settings: Settings | None = None) -> FastAPI:
    table = resource_table(service_urls)
    app = FastAPI(title="Binôme gateway", docs_url=None, redoc_url=None, openapi_url=None)
    install_edge(app, settings or Settings())  # body limit, rate limits, headers: first
    client = httpx.AsyncClient(timeout=30.0)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.api_route("/v1/{resource}/{rest:path}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    @app.api_route("/v1/{resource}", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
    async def proxy(request: Request, resource: str, rest: str = "") -> Response:
        upstream = table.get(resource)
        if upstream is None:
            return _problem(request, 404, f"no resource {resource!r}")
        raw = request.scope.get("raw_path") or request.url.path.encode()
        if not _plain(raw):
            return _problem(request, 400, "the path holds an encoded separator or a dot segment")
        named = {v.strip().lower() for v in request.headers.get("connection", "").split(",")}
        headers = {
            k: v
            for k, v in request.headers.items()
            if k.lower() not in _HOP_BY_HOP and k.lower() not in named
        }
        try:
            answer = await client.request(
                request.method,
                upstream + raw.decode("ascii"),  # forwarded as sent: nothing re-encoded
                params=request.query_params,
                headers=headers,
                content=await request.body(),
            )
        except httpx.HTTPError as exc:
            return _problem(request, 502, f"{resource}: {exc}")
        out = {k: v for k, v in answer.headers.items() if k.lower() not in _HOP_BY_HOP}
        return Response(content=answer.content, status_code=answer.status_code, headers=out)

    return app
