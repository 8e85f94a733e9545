"""Production identity: tokens signed by an identity provider, verified through its JWKS."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from services import load_all
from shared.app import build_app
from shared.settings import Settings

KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


@pytest.fixture
def jwks_url() -> Iterator[str]:
    jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
    ec_jwk = json.loads(jwt.algorithms.ECAlgorithm.to_jwk(EC_KEY.public_key()))
    keys = [
        {**jwk, "kid": "idp-1", "use": "sig", "alg": "RS256"},
        {**ec_jwk, "kid": "ec-1", "use": "sig"},  # an EC key: an RS256 token cannot use it
    ]
    body = json.dumps({"keys": keys}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json"
    server.shutdown()


def _idp_token(kid: str = "idp-1", **claims: object) -> str:
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
    return jwt.encode(base | claims, KEY, algorithm="RS256", headers={"kid": kid})


async def test_tokens_verified_against_the_identity_providers_keys(
    jwks_url: str, tmp_path: Path
) -> None:
    settings = Settings(
        data_dir=tmp_path,
        jwt_jwks_url=jwks_url,
        jwt_algorithms=["RS256"],
        jwt_issuer="https://idp.example",
    )
    app = build_app(load_all(), settings, name="binome")
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
