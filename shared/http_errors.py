"""The one translation of errors to HTTP, installed on every service's app.

Every answer is a problem (RFC 9457, shared.problems). Domain errors (shared/errors.py)
answer their own status: 404 unknown, 409 forbidden state change, 403 wrong actor, 422 invalid
reference (naming the field in `errors`). A database that is away (a transient failure, see
shared.messaging.failures) answers 503 with Retry-After: the request wrote nothing and may
simply be sent again.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from http import HTTPStatus
from typing import Any

import orjson
from fastapi import APIRouter, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Route

from shared.errors import DomainError, Invalid, Refused, Unknown
from shared.messaging.failures import is_transient
from shared.problems import MEDIA_TYPE, problem, summary

RETRY_AFTER_S = 2
EXCERPT = 200  # characters of the input a 422 echoes, at most
MAX_ERRORS = 20  # errors a 422 lists, at most


def _excerpt(value: Any) -> Any:
    """What a 422 shows of the offending input: small values as they are, anything larger as
    a truncated JSON text (a 10 MB body is never echoed back)."""
    try:
        text = orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS).decode()
    except TypeError:  # an integer beyond 64 bits (JSON allows them): the standard library
        text = json.dumps(value, default=str, ensure_ascii=False)
    if len(text) <= EXCERPT:
        return json.loads(text)  # as JSON carries it (a NaN would be null)
    return text[:EXCERPT] + "…"


def _validation_detail(errors: Any) -> list[dict[str, Any]]:
    out = []
    for e in list(errors)[:MAX_ERRORS]:
        item = {k: e[k] for k in ("type", "loc", "msg") if k in e}
        if "input" in e:
            item["input"] = _excerpt(e["input"])
        if e.get("ctx"):
            item["ctx"] = {k: str(v)[:EXCERPT] for k, v in e["ctx"].items()}
        out.append(item)
    return out


def _answer(
    request: Request,
    status: int,
    detail: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        status_code=status,
        content=problem(status, detail, instance=request.url.path, **extra),
        media_type=MEDIA_TYPE,
        headers=headers,
    )


def domain_problem(exc: DomainError, *, instance: str | None = None) -> dict[str, Any]:
    """A domain error's problem body (also what a streamed answer ends with)."""
    if isinstance(exc, Refused):
        errors = [
            {"loc": [exc.at, *field.split(".")], "msg": msg, "type": kind}
            for field, msg, kind in exc.errors
        ]
        return problem(422, summary(errors), instance=instance, errors=_validation_detail(errors))
    if isinstance(exc, Invalid | Unknown):
        loc = [exc.at, *(exc.field.split(".") if exc.field else [])]
        kind = "value_error" if isinstance(exc, Invalid) else "not_found"
        errors = [{"loc": loc, "msg": exc.message, "type": kind}]
        return problem(exc.status_code, summary(errors), instance=instance, errors=errors)
    return problem(exc.status_code, exc.message, instance=instance)


def _invalid(request: Request, errors: list[dict[str, Any]]) -> JSONResponse:
    return _answer(request, 422, summary(errors), errors=errors)


def _allowed(request: Request) -> list[str]:
    """The methods of every route whose path matches the request's (`routes_of`)."""
    path = request.url.path
    routes: list[Route] = getattr(request.app.state, "routes", [])
    return sorted({m for r in routes if r.path_regex.match(path) for m in r.methods or ()})


def routes_of(*routers: APIRouter) -> list[Route]:
    """The routes a 405's `Allow` is computed from (set on `app.state.routes`)."""
    return [r for router in routers for r in router.routes if isinstance(r, Route)]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        # Each faulty input (loc, msg, type), with the input shortened: never the whole body
        # back, never a value JSON cannot carry.
        return _invalid(request, _validation_detail(exc.errors()))

    @app.exception_handler(DomainError)
    async def _domain_error(request: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(
            status_code=exc.status_code,
            content=domain_problem(exc, instance=request.url.path),
            media_type=MEDIA_TYPE,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        # Authentication (401 with WWW-Authenticate), roles (403), no such route (404), a
        # method the route does not take (405 with Allow).
        detail = exc.detail if isinstance(exc.detail, str) else HTTPStatus(exc.status_code).phrase
        headers = dict(exc.headers or {})
        if exc.status_code == 405:  # every method the path takes (the router names one route's)
            headers["Allow"] = ", ".join(_allowed(request))
        return _answer(request, exc.status_code, detail, headers=headers)

    @app.exception_handler(IntegrityError)
    async def _integrity_error(request: Request, exc: IntegrityError) -> JSONResponse:
        # Two concurrent requests raced past a domain check (e.g. the same enrolment twice):
        # the database's constraint decided, the transaction rolled back, nothing was written.
        return _answer(request, 409, "conflicts with existing data; nothing changed")

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not is_transient(exc):
            raise exc  # a bug: the server error middleware answers 500 and logs it
        return _answer(
            request,
            503,
            "the service's database is unreachable right now; nothing was changed, retry "
            "after a moment",
            headers={"Retry-After": str(RETRY_AFTER_S)},
        )

    for kind in (DBAPIError, PoolTimeout, OSError):
        app.add_exception_handler(kind, _unavailable)
