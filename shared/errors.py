"""Errors the domain raises, and their one translation to HTTP.

Domain code raises these without knowing about HTTP; `install_error_handlers` maps them so every
service answers bad requests the same way: 404 unknown, 409 forbidden state change, 403 wrong
actor, 422 invalid reference (naming the field, in FastAPI's own error shape).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from sqlalchemy.exc import IntegrityError


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field


class NotFound(DomainError):
    status_code = 404


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class Invalid(DomainError):
    """A well-formed request that refers to something unusable (e.g. an unknown programme)."""

    status_code = 422


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
