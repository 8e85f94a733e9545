"""The one translation of errors to HTTP, installed on every service's app.

Domain errors (shared/errors.py) answer their own status: 404 unknown, 409 forbidden state
change, 403 wrong actor, 422 invalid reference (naming the field, in FastAPI's own error
shape). A database that is away (a transient failure, see shared.messaging.failures) answers
503 with Retry-After and a problem body (RFC 9457): the request wrote nothing and may simply be
sent again.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.errors import DomainError, Invalid
from shared.messaging.failures import is_transient

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


def _body(exc: DomainError) -> dict:
    if isinstance(exc, Invalid):
        loc = [exc.at, *(exc.field.split(".") if exc.field else [])]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    return {"detail": exc.message}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's shape (detail[].loc, msg, type), with the input shortened: never the whole
        # body back, never a value JSON cannot carry.
        return JSONResponse(status_code=422, content={"detail": _validation_detail(exc.errors())})

    @app.exception_handler(DomainError)
    async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
        return JSONResponse(status_code=exc.status_code, content=_body(exc))

    @app.exception_handler(IntegrityError)
    async def _integrity_error(_: Request, exc: IntegrityError) -> JSONResponse:
        # Two concurrent requests raced past a domain check (e.g. the same enrolment twice):
        # the database's constraint decided, the transaction rolled back, nothing was written.
        return JSONResponse(
            status_code=409, content={"detail": "conflicts with existing data; nothing changed"}
        )

    async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
        if not is_transient(exc):
            raise exc  # a bug: the server error middleware answers 500 and logs it
        return JSONResponse(
            status_code=503,
            headers={"Retry-After": str(RETRY_AFTER_S)},
            media_type="application/problem+json",
            content={
                "type": "about:blank",
                "title": "Service Unavailable",
                "status": 503,
                "detail": "the service's database is unreachable right now; nothing was "
                "changed, retry after a moment",
                "instance": request.url.path,
            },
        )

    for kind in (DBAPIError, PoolTimeout, OSError):
        app.add_exception_handler(kind, _unavailable)
