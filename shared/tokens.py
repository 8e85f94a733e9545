"""Bearer JWTs: the claims Binôme reads, minting development tokens, verifying any token.

Kept apart from the HTTP side (shared.auth) so that `binome token` starts without loading the
web framework.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from enum import StrEnum
from functools import lru_cache
from typing import Any

import jwt
from pydantic import BaseModel, ValidationError

from shared.settings import Settings


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
def _jwks_client(url: str, refresh_s: float) -> jwt.PyJWKClient:
    return jwt.PyJWKClient(url, cache_keys=True, cooldown_duration=refresh_s)


def _provider_key(settings: Settings, url: str, token: str) -> Any:
    """The identity provider's key the token names (fetched, or cached)."""
    jwks = _jwks_client(url, settings.jwt_jwks_refresh_s)
    try:
        return jwks.get_signing_key_from_jwt(token).key
    except (jwt.InvalidTokenError, jwt.PyJWKError, jwt.PyJWKClientError):
        raise
    except (ValueError, TypeError, AttributeError) as exc:  # not a JWK set: garbage, HTML...
        raise jwt.PyJWKClientError("the identity provider's keys could not be read") from exc


def decode_token(settings: Settings, token: str) -> Principal:
    """Verify signature, expiry, issuer, audience and lifetime; raise jwt.InvalidTokenError
    (with a short reason, never a library's internals) if the token is not acceptable."""
    return verify_token(settings, token)[0]


def verify_token(settings: Settings, token: str) -> tuple[Principal, float]:
    """decode_token's principal, and when the token expires (a POSIX timestamp)."""
    try:
        if settings.jwt_jwks_url:
            key = _provider_key(settings, settings.jwt_jwks_url, token)
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
    return principal, float(claims["exp"])


class VerifiedTokens:
    """Bearer tokens already verified, with the principal each carries: a signature checked
    once per token, not on every request (PyJWT's decoding was a tenth of a small request's
    CPU). An entry lasts until its token expires, and at most `ttl_s` seconds, so a key
    withdrawn from the identity provider's key set stops its tokens within that; the
    `size` most recently used tokens are kept. Revocations are checked per request anyway
    (shared.api), not here."""

    def __init__(self, *, size: int = 10_000, ttl_s: float = 60.0) -> None:
        self._entries: OrderedDict[str, tuple[Principal, float]] = OrderedDict()
        self._size, self._ttl_s = size, ttl_s

    def get(self, token: str) -> Principal | None:
        entry = self._entries.get(token)
        if entry is None:
            return None
        principal, until = entry
        if time.time() >= until:
            del self._entries[token]
            return None
        self._entries.move_to_end(token)
        return principal

    def put(self, token: str, principal: Principal, expires: float) -> None:
        self._entries[token] = (principal, min(expires, time.time() + self._ttl_s))
        self._entries.move_to_end(token)
        while len(self._entries) > self._size:
            self._entries.popitem(last=False)
