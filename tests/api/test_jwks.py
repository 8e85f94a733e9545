"""Production identity: tokens signed by an identity provider, verified through its JWKS."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services import load_all
from shared.app import build_app
from shared.settings import Settings
from tests.helpers import eventually

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


class Idp:
    """A local identity provider's JWKS endpoint whose behaviour a test changes: slow,
    broken (garbage instead of JSON), or with one more key (a rotation)."""

    def __init__(self) -> None:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
        self.keys = [
            {**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"},
            {**ec_jwk, "kid": "ec-1", "use": "sig"},  # an EC key: an RS256 token cannot use it
        ]
        self.delay = 0.0
        self.broken = False
        self.fetches = 0
        self.url = ""


@pytest.fixture
def idp() -> Iterator[Idp]:
    provider = Idp()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            provider.fetches += 1
            time.sleep(provider.delay)
            body = (
                b"<html>oops" if provider.broken else json.dumps({"keys": provider.keys}).encode()
            )
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    provider.url = f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    yield provider
    server.shutdown()


def _idp_token(kid: str = "idp-1", key: rsa.RSAPrivateKey = KEY, **claims: object) -> str:
    now = int(time.time())
    base = {
        "iss": "https://idp.example",
        "aud": "binome",
        "iat": now,
        "exp": now + 60,
        "sub": "hr-1",
        "org": "acme",
        "role": "admin",
    }
    return jwt.encode(base | claims, key, algorithm="RS256", headers={"kid": kid})


def _settings(idp: Idp, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        jwt_jwks_url=idp.url,
        jwt_algorithms=["RS256"],
        jwt_issuer="https://idp.example",
        jwt_jwks_refresh_s=0,  # a rotation picked up at once
    )


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_tokens_verified_against_the_identity_providers_keys(
    idp: Idp, tmp_path: Path
) -> None:
    app = build_app(load_all(), _settings(idp, tmp_path), name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
            ok = await c.get("/v1/programs", headers={"Authorization": f"Bearer {_idp_token()}"})
            assert ok.status_code == 200
            wrong_issuer = _idp_token(iss="https://elsewhere")
            r = await c.get("/v1/programs", headers={"Authorization": f"Bearer {wrong_issuer}"})
            assert r.status_code == 401
            hs = jwt.encode({"sub": "x", "org": "acme", "role": "admin"}, "secret" * 6)
            r = await c.get("/v1/programs", headers={"Authorization": f"Bearer {hs}"})
            assert r.status_code == 401
            # A kid naming a key the token's algorithm cannot use: 401, not a server error.
            mismatch = _idp_token(kid="ec-1")
            r = await c.get("/v1/programs", headers={"Authorization": f"Bearer {mismatch}"})
            assert r.status_code == 401 and "do not match" in r.text
            # Tokens living longer than the allowed lifetime (a day by default) are refused.
            forever = _idp_token(exp=int(time.time()) + 400 * 24 * 3600)
            r = await c.get("/v1/programs", headers={"Authorization": f"Bearer {forever}"})
            assert r.status_code == 401 and "lifetime" in r.text
            # A bad claim is named without the validation library's internals.
            odd = _idp_token(role="emperor")
            r = await c.get("/v1/programs", headers={"Authorization": f"Bearer {odd}"})
            assert r.status_code == 401 and "role" in r.text
            assert "pydantic" not in r.text and "validation error" not in r.text.lower()


ROTATED = rsa.generate_private_key(public_exponent=65537, key_size=2048)


async def test_a_slow_or_misbehaving_identity_provider(idp: Idp, tmp_path: Path) -> None:
    """The key fetch runs off the event loop (a health probe answers while it waits), keys
    are cached, a token naming a new key fetches them again (rotation), and a provider that
    answers garbage costs a 401 naming it, never a 500, while cached keys keep working."""
    app = build_app(load_all(), _settings(idp, tmp_path), name="binome")
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://b") as c:
            idp.delay = 3.0
            slow = asyncio.create_task(c.get("/v1/programs", headers=_bearer(_idp_token())))
            await eventually(lambda: _true(idp.fetches == 1), what="the key fetch under way")
            probe = await c.get("/healthz")
            assert probe.status_code == 200 and not slow.done()  # answered during the fetch
            assert (await slow).status_code == 200
            idp.delay = 0.0
            again = await c.get("/v1/programs", headers=_bearer(_idp_token()))
            assert again.status_code == 200 and idp.fetches == 1  # cached
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(ROTATED.public_key()))
            idp.keys.append({**jwk, "kid": "idp-2", "use": "sig", "alg": "RS256"})
            rotated = _idp_token(kid="idp-2", key=ROTATED)
            r = await c.get("/v1/programs", headers=_bearer(rotated))
            assert r.status_code == 200 and idp.fetches == 2  # an unknown kid: fetched again
            idp.broken = True
            unknown = _idp_token(kid="idp-3", key=ROTATED)
            r = await c.get("/v1/programs", headers=_bearer(unknown))
            assert r.status_code == 401 and "cannot verify token" in r.text, r.text
            for token in (_idp_token(), rotated):  # what was fetched before still verifies
                r = await c.get("/v1/programs", headers=_bearer(token))
                assert r.status_code == 200, r.text


async def _true(value: bool) -> bool:
    return value
