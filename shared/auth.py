"""Bearer-JWT authentication and role checks, the same for every service.

Claims: `sub` (who), `org` (the tenant: every row and query is scoped by it), `role` (admin,
employee or hris) and, for employees, `employee_id` (the HRIS id they act as; defaults to sub).
Development tokens are HS256 with the settings' secret (`binome token ...`); in production
`BINOME_JWT_JWKS_URL` makes the services verify an identity provider's signed tokens instead.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request, status
from fastapi.security import HTTPBearer

from shared import logs
from shared.settings import Settings
from shared.tokens import (
    Principal,
    Role,
    VerifiedTokens,
    decode_token,
    mint_token,
    verify_token,
)
from shared.tracing import tag_org

__all__ = ["Principal", "Role", "decode_token", "mint_token", "authorize", "CurrentPrincipal"]


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
    token = credentials.credentials
    verified: VerifiedTokens = request.app.state.verified_tokens
    principal = verified.get(token) or await _verify(request.app.state.settings, verified, token)
    if principal.role not in roles:
        allowed = ", ".join(sorted(r.value for r in roles))
        raise HTTPException(status_code=403, detail=f"requires role {allowed}")
    request.scope[PRINCIPAL_KEY] = principal
    logs.for_org(principal.org)  # the request's log records and its span name its tenant
    tag_org(principal.org)
    return principal


async def _verify(settings: Settings, verified: VerifiedTokens, token: str) -> Principal:
    try:
        if settings.jwt_jwks_url:  # the key fetch may go to the network: off the event loop
            principal, expires = await asyncio.to_thread(verify_token, settings, token)
        else:
            principal, expires = verify_token(settings, token)
    except jwt.PyJWKClientError as exc:
        raise _unauthorized(f"cannot verify token: {exc}") from exc
    except (jwt.InvalidTokenError, jwt.PyJWKError) as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    verified.put(token, principal, expires)
    return principal


async def _current(request: Request) -> Principal:
    principal = request.scope.get(PRINCIPAL_KEY)
    if principal is None:  # a route outside shared.api's table: a programming error
        raise RuntimeError(f"{request.url.path}: no authorised caller (route not in the table)")
    return principal


# The authorised caller of an operation (shared.permissions says which roles may call it).
CurrentPrincipal = Annotated[Principal, Depends(_current)]
