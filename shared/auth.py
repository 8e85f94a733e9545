"""Bearer-JWT authentication and role checks, the same for every service.

Claims: `sub` (who), `org` (the tenant: every row and query is scoped by it), `role` (admin,
employee or hris) and, for employees, `employee_id` (the HRIS id they act as; defaults to sub).
Development tokens are HS256 with the settings' secret (`binome token ...`); in production
`BINOME_JWT_JWKS_URL` makes the services verify an identity provider's signed tokens instead.
"""

from __future__ import annotations

import asyncio
import time
from enum import StrEnum
from functools import lru_cache
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBearer
from pydantic import BaseModel, ValidationError

from shared import logs
from shared.settings import Settings
from shared.tracing import tag_org


class Role(StrEnum):
    admin = "admin"
    employee = "employee"
    hris = "hris"


class Principal(BaseModel):
    sub: str
    org: str
    role: Role
    employee_id: str | None = None

    @property
    def is_admin(self) -> bool:
        return self.role is Role.admin


def mint_token(
    settings: Settings,
    *,
    org: str,
    role: Role,
    sub: str | None = None,
    employee_id: str | None = None,
    ttl_s: int = 12 * 3600,
) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.jwt_issuer,
        "aud": settings.jwt_audience,
        "iat": now,
        "exp": now + ttl_s,
        "sub": sub or employee_id or f"{role}@{org}",
        "org": org,
        "role": role.value,
    }
    if employee_id:
        claims["employee_id"] = employee_id
    return jwt.encode(claims, settings.jwt_secret.get_secret_value(), algorithm="HS256")


@lru_cache(maxsize=4)
def _jwks_client(url: str) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True)


def decode_token(settings: Settings, token: str) -> Principal:
    """Verify signature, expiry, issuer, audience and lifetime; raise jwt.InvalidTokenError
    (with a short reason, never a library's internals) if the token is not acceptable."""
    try:
        if settings.jwt_jwks_url:
            key = _jwks_client(settings.jwt_jwks_url).get_signing_key_from_jwt(token).key
        else:
            key = settings.jwt_secret.get_secret_value()
        claims = jwt.decode(
            token,
            key,
            algorithms=settings.jwt_algorithms,
            audience=settings.jwt_audience,
            issuer=settings.jwt_issuer,
            options={"require": ["exp", "iat", "sub", "iss", "aud"]},
        )
    except (jwt.InvalidTokenError, jwt.PyJWKError):
        raise
    except (TypeError, ValueError, AttributeError) as exc:
        # A key the token's algorithm cannot use (an EC key named by an RS256 token...).
        raise jwt.InvalidTokenError("the token's key and algorithm do not match") from exc
    lifetime = float(claims["exp"]) - float(claims["iat"])
    if lifetime > settings.jwt_max_lifetime_s:
        raise jwt.InvalidTokenError(
            f"token lifetime {lifetime:.0f}s above the allowed {settings.jwt_max_lifetime_s:.0f}s"
        )
    try:
        principal = Principal(
            sub=claims["sub"],
            org=claims["org"],
            role=claims["role"],
            employee_id=claims.get("employee_id"),
        )
    except (KeyError, ValidationError) as exc:
        raise jwt.InvalidTokenError("missing or invalid org, role or employee_id claim") from exc
    if principal.role is Role.employee:
        if principal.employee_id is None:
            principal = principal.model_copy(update={"employee_id": principal.sub})
    elif principal.employee_id is not None:
        # Admins act as admins and hris as hris: an employee id in their token does not make
        # them that employee (rating, answering surveys or writing notes in their name).
        principal = principal.model_copy(update={"employee_id": None})
    return principal


_bearer = HTTPBearer(auto_error=False)


def _unauthorized(detail: str) -> HTTPException:
    return HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail=detail,
        headers={"WWW-Authenticate": "Bearer"},
    )


PRINCIPAL_KEY = "binome.principal"  # where a request's authenticated caller is kept


async def authorize(request: Request, roles: frozenset[Role]) -> Principal:
    """The caller, authenticated and holding one of `roles` (401, else 403), kept on the
    request for the endpoint. Runs before the body is read (see shared.api)."""
    credentials = await _bearer(request)
    if credentials is None:
        raise _unauthorized("missing bearer token")
    settings: Settings = request.app.state.settings
    try:
        if settings.jwt_jwks_url:  # the key fetch may go to the network: off the event loop
            principal = await asyncio.to_thread(decode_token, settings, credentials.credentials)
        else:
            principal = decode_token(settings, credentials.credentials)
    except jwt.PyJWKClientError as exc:
        raise _unauthorized(f"cannot verify token: {exc}") from exc
    except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    if principal.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise HTTPException(status_code=403, detail=f"requires role {allowed}")
    request.scope[PRINCIPAL_KEY] = principal
    logs.for_org(principal.org)  # the request's log records and its span name its tenant
    tag_org(principal.org)
    return principal


def _current(request: Request) -> Principal:
    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is None:  # a route outside shared.api's table: a programming error
        raise RuntimeError(f"{request.url.path}: no authorised caller (route not in the table)")
    return principal


# The authorised caller of an operation (shared.permissions says which roles may call it).
CurrentPrincipal = Annotated[Principal, Depends(_current)]
