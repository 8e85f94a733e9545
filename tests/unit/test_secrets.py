"""No public secret in production: a short JWT secret is refused outright, and the public
development secret only serves a local development setup (loopback, embedded bus)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from shared.settings import DEV_JWT_SECRET, Settings
from tests.helpers import binome_cli, free_port


def test_a_short_jwt_secret_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError) as err:
        Settings(jwt_secret="x")
    assert "jwt_secret" in str(err.value) and "32 bytes" in str(err.value)
    assert not Settings(jwt_secret="k" * 32).uses_public_secret
    assert Settings(jwt_secret=DEV_JWT_SECRET).uses_public_secret
    assert not Settings(jwt_jwks_url="https://idp.example/jwks").uses_public_secret


async def test_serve_refuses_the_public_secret_beyond_loopback() -> None:
    done = await binome_cli("serve", "--host", "0.0.0.0", "--port", str(free_port()), env={})
    assert done.returncode != 0
    assert "refusing to serve on 0.0.0.0" in done.stderr
    assert "BINOME_JWT_SECRET" in done.stderr


async def test_serve_refuses_the_public_secret_with_the_kafka_bus_even_on_loopback() -> None:
    env = {"BINOME_BUS": "kafka", "BINOME_KAFKA_BOOTSTRAP": "127.0.0.1:1"}
    done = await binome_cli("serve", "--host", "127.0.0.1", "--port", str(free_port()), env=env)
    assert done.returncode != 0
    assert "refusing to serve on 127.0.0.1 with the Kafka bus" in done.stderr
