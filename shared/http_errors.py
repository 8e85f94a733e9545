"""The one translation of errors to HTTP, installed on every service's app.

Domain errors (shared/errors.py) answer their own status: 404 unknown, 409 forbidden state
change, 403 wrong actor, 422 invalid reference (naming the field, in FastAPI's own error
shape). A database that is away (a transient failure, see shared.messaging.failures) answers
503 with Retry-After and a problem body (RFC 9457): the request wrote nothing and may simply be
sent again.
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from shared.errors import DomainError, Invalid
from shared.messaging.failures import is_transient

RETRY_AFTER_S = 2


def _body(exc: DomainError) -> dict:
    if isinstance(exc, Invalid):
        loc = ["body", *(exc.field.split(".") if exc.field else [])]
        return {"detail": [{"loc": loc, "msg": exc.message, "type": "value_error"}]}
    return {"detail": exc.message}


def install_error_handlers(app: FastAPI) -> None:
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
