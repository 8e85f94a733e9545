"""Strict, typed settings shared by every service, read from BINOME_* environment variables."""

from __future__ import annotations

import os
from datetime import timedelta
from enum import StrEnum
from pathlib import Path

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class LogFormat(StrEnum):
    auto = "auto"  # text for the embedded mode (a person's terminal), JSON for a service
    json = "json"  # one JSON object per line (shared.logs)
    text = "text"


class BusKind(StrEnum):
    local = "local"  # durable in-process log (SQLite) for the embedded mode
    kafka = "kafka"


DEV_JWT_SECRET = "dev-only-change-me-binome-secret-32b"
MIN_SECRET_BYTES = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="BINOME_", extra="forbid", frozen=True)

    # Where each service keeps its data. "{service}" is replaced by the service's name so that
    # one setting gives every service its own database (SQLite file or PostgreSQL database).
    database_url: str = "sqlite+aiosqlite:///{data_dir}/{service}.db"
    data_dir: Path = Path("data")

    # PostgreSQL connections one process may hold (up to 20 kept open between requests).
    # Keep it above the requests a process serves at once: a request waiting for a
    # connection can be overtaken again and again by newer ones (seconds-long tails).
    db_pool_size: int = Field(default=50, ge=1)

    bus: BusKind = BusKind.local
    kafka_bootstrap: str = "127.0.0.1:9092"
    # Prepended to every topic and consumer group, so environments can share a cluster.
    topic_prefix: str = ""
    topic_partitions: int = Field(default=6, ge=1)
    topic_replication: int = Field(default=1, ge=1)
    # Attempts before a deterministic failure goes to the dead-letter topic (transient ones,
    # the database or broker away, are retried without limit and never dead-lettered).
    consumer_max_attempts: int = Field(default=3, ge=1)
    # First pause between retries, doubled each time up to the cap (with jitter); the outbox
    # relay backs off the same way while the broker or its database is away.
    consumer_retry_backoff_s: float = Field(default=0.05, ge=0)
    retry_max_backoff_s: float = Field(default=5.0, gt=0)
    outbox_poll_interval_s: float = Field(default=0.5, gt=0)
    # How often a service's timer scheduler looks for due timers at the latest (it also wakes
    # when this process arms one, and sleeps until the next one is due): bounds how late a
    # timer armed by another replica fires.
    timer_poll_interval_s: float = Field(default=0.5, gt=0)
    # Due timers fired per transaction (with their handlers' effects).
    timer_batch: int = Field(default=1000, ge=1)
    # Sent outbox rows are kept this long (audit, replay by hand), then purged.
    outbox_retention_s: float = Field(default=7 * 24 * 3600, ge=0)
    # Applied event ids are kept this long to recognise a redelivery, then purged: keep it
    # longer than the broker's retention (Kafka's default is 7 days).
    inbox_retention_s: float = Field(default=30 * 24 * 3600, ge=0)

    # HS256 key: at least 32 bytes (RFC 7518 3.2). The default is public, for local runs:
    # `binome serve` refuses it on any address but loopback.
    jwt_secret: SecretStr = SecretStr(DEV_JWT_SECRET)
    jwt_algorithms: list[str] = ["HS256"]
    jwt_issuer: str = "binome"
    jwt_audience: str = "binome"
    # When set, tokens are verified with the identity provider's keys instead of the secret.
    jwt_jwks_url: str | None = None
    # Keys are cached; a token naming a key id not in the cache fetches them again (a key
    # rotation), at most once per this many seconds (tokens naming made-up ids cannot make
    # the services hammer the identity provider).
    jwt_jwks_refresh_s: float = Field(default=30, ge=0)
    # The largest request body read (bytes), and that of an HRIS batch (up to 10,000 events)
    # or a file imported (employees, enrolments): larger ones answer 413 before anything is
    # parsed or authenticated.
    max_body_bytes: int = Field(default=1_000_000, ge=1024)
    max_hris_body_bytes: int = Field(default=16_000_000, ge=1024)
    # The longest a token may live (its `exp` - `iat`): a longer one is refused (401).
    jwt_max_lifetime_s: float = Field(default=24 * 3600, gt=0)

    # Requests one process serves at once; the next ones wait their turn in arrival order
    # (shared.edge.Admission), and get 503 with Retry-After after `request_queue_timeout`.
    # 0: no limit.
    max_concurrent_requests: int = Field(default=8, ge=0)
    request_queue_timeout: timedelta = Field(
        default=timedelta(seconds=10), gt=timedelta(0), le=timedelta(minutes=5)
    )
    # Requests a caller may make (the `limits` notation, "600/minute"; "off": none), per
    # bearer token and per client address; over it, 429 with Retry-After (shared.edge). A
    # service behind the gateway sees every client at the gateway's address: turn its
    # address rule off there, the gateway (nginx, services/proxy.py) applies it.
    rate_limit_per_token: str = "1200/minute"
    rate_limit_per_address: str = "3000/minute"
    # Browser origins allowed to call the API (CORS), e.g. ["https://mentoring.example.com"];
    # none by default (same-origin only).
    cors_origins: list[str] = []
    # The interactive API docs (/docs, /redoc, /openapi.json), assets served locally.
    docs: bool = True

    # Outbound webhooks (reporting delivers them, Standard Webhooks signatures). Loopback,
    # private, link-local and other non-public addresses, and plain http, are refused as
    # webhook URLs unless this is set (a receiver on the same host or network, the tests):
    # otherwise anyone subscribing could make Binôme call its own internal services (SSRF).
    webhook_allow_private: bool = False
    # The pauses before each retry of a failed delivery (ISO 8601 durations, JSON list in
    # the environment); once spent, the delivery has failed (it can be replayed).
    webhook_retry_schedule: list[timedelta] = Field(
        default=[
            timedelta(seconds=5),
            timedelta(minutes=5),
            timedelta(minutes=30),
            timedelta(hours=2),
            timedelta(hours=5),
            timedelta(hours=10),
            timedelta(hours=10),
        ],
        max_length=20,
    )
    # An endpoint whose deliveries have failed for this long without a success is disabled.
    webhook_disable_after: timedelta = timedelta(days=5)
    # How long a receiver has to answer, and how many deliveries are in flight at once.
    webhook_timeout_s: float = Field(default=10, gt=0, le=60)
    webhook_concurrency: int = Field(default=16, ge=1, le=256)
    # An erasure's second pass in each service (events emitted before it, heard after it).
    erasure_repeat_after: timedelta = Field(
        default=timedelta(minutes=10), ge=timedelta(0), le=timedelta(days=7)
    )

    # How long the event log keeps a record every consumer group has read, and a dead letter
    # (read or not): then it is forgotten (shared.messaging.retention).
    event_retention: timedelta = Field(default=timedelta(days=7), ge=timedelta(0))
    dead_letter_retention: timedelta = Field(default=timedelta(days=30), ge=timedelta(0))
    # How often each service's relay purges its records from the log (first: this long after
    # it starts).
    event_purge_interval: timedelta = Field(
        default=timedelta(minutes=1), ge=timedelta(seconds=1), le=timedelta(days=1)
    )

    # SQLite (the embedded mode): how often each service looks whether its tables grew or
    # shrank enough for the query planner's statistics to be gathered again (shared.statistics).
    sqlite_statistics_every: timedelta = Field(
        default=timedelta(seconds=5), gt=timedelta(0), le=timedelta(hours=1)
    )

    # Log lines: JSON objects, plain text, or `auto` (see shared.logs).
    log_format: LogFormat = LogFormat.auto

    otel_exporter_otlp_endpoint: str | None = None
    # A JSON-lines file every finished span is appended to (tests and local debugging).
    trace_file: Path | None = None

    def model_post_init(self, context: object) -> None:
        # A mistyped variable would otherwise be ignored silently and the default used.
        known = {f"BINOME_{name.upper()}" for name in type(self).model_fields}
        unknown = sorted(k for k in os.environ if k.startswith("BINOME_") and k not in known)
        if unknown:
            raise ValueError(f"unknown Binôme settings in the environment: {', '.join(unknown)}")

    @field_validator("database_url")
    @classmethod
    def _a_driver_we_run(cls, url: str) -> str:
        scheme = url.split("://", 1)[0] if "://" in url else ""
        if scheme in ("sqlite+aiosqlite", "postgresql+asyncpg"):
            return url
        if scheme in ("postgres", "postgresql", "postgresql+psycopg2", "postgresql+psycopg"):
            rest = url.split("://", 1)[1]
            raise ValueError(f"use the asyncpg driver: postgresql+asyncpg://{rest}")
        if scheme in ("sqlite",):
            raise ValueError(
                f"use the aiosqlite driver: sqlite+aiosqlite://{url.split('://', 1)[1]}"
            )
        raise ValueError(
            "a sqlite+aiosqlite:///path/{service}.db or "
            "postgresql+asyncpg://user:password@host/binome_{service} URL"
        )

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, secret: SecretStr) -> SecretStr:
        if len(secret.get_secret_value().encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"BINOME_JWT_SECRET must be at least {MIN_SECRET_BYTES} bytes (random); "
                "a short secret can be guessed and any token forged"
            )
        return secret

    @field_validator("rate_limit_per_token", "rate_limit_per_address")
    @classmethod
    def _a_limit(cls, text: str) -> str:
        from shared.edge import parse_limit

        parse_limit(text)  # "3 per fortnight" fails here, naming the setting
        return text

    @property
    def uses_public_secret(self) -> bool:
        """Tokens are verified with the development secret everyone can read in this repo."""
        return self.jwt_jwks_url is None and self.jwt_secret.get_secret_value() == DEV_JWT_SECRET

    def body_limits(self) -> tuple[int, dict[str, int]]:
        """The default body limit and the larger ones by path prefix."""
        files = self.max_hris_body_bytes
        return self.max_body_bytes, {"/v1/hris/": files, "/v1/participants/import": files}

    def database_url_for(self, service: str) -> str:
        return self.database_url.format(service=service, data_dir=self.data_dir)
