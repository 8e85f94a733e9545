"""Failure classes: what is worth waiting out, and what no retry will fix.

Transient: the failure says nothing about the message or the request, only about the world
around it. The database or the broker is unreachable, a connection was reset or closed under
us, the server is starting or shutting down, too many connections, a serialization failure, a
deadlock, a lock or statement timeout, SQLite's "database is locked", a Kafka error Kafka itself
calls retriable. These are retried without limit (consumer, relay) or answered 503 with
Retry-After (HTTP): never dead-lettered, never a 500.

Deterministic: everything else (an undecodable message, an unknown type or version, data that
fails its contract, a handler bug). The consumer retries these a few times and dead-letters
them only while the database answers a health check, so an outage that surfaces as an
unexpected exception type is still waited out.

The test walks the exception's whole chain (`__cause__`, `__context__`, SQLAlchemy's `orig`),
since drivers wrap each other: SQLAlchemy wraps the asyncpg adapter's error, which wraps
asyncpg's, which may wrap an OSError.
"""

from __future__ import annotations

import random
import sqlite3
from collections.abc import Iterator

from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from sqlalchemy.exc import DBAPIError
from sqlalchemy.exc import TimeoutError as PoolTimeout

# PostgreSQL SQLSTATEs worth waiting out: connection exceptions (class 08), serialization
# failure, deadlock, lock not available, query cancelled (statement or lock timeout), admin or
# crash shutdown, cannot connect now (starting up), too many connections, out of resources.
_TRANSIENT_SQLSTATE_CLASSES = ("08", "53")
_TRANSIENT_SQLSTATES = {"40001", "40P01", "55P03", "57014", "57P01", "57P02", "57P03"}
_SQLITE_TRANSIENT = ("database is locked", "database table is locked", "disk i/o error")
_CONNECTION_CLOSED = ("connection is closed", "connection was closed", "underlying connection")


def _chain(exc: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    todo: list[BaseException] = [exc]
    while todo:
        e = todo.pop()
        if id(e) in seen:
            continue
        seen.add(id(e))
        yield e
        for nxt in (e.__cause__, e.__context__, getattr(e, "orig", None)):
            if isinstance(nxt, BaseException):
                todo.append(nxt)


def _transient_one(e: BaseException) -> bool:
    if isinstance(e, OSError | PoolTimeout | KafkaConnectionError | KafkaTimeoutError):
        return True  # OSError covers ConnectionError and TimeoutError
    if isinstance(e, KafkaError):
        return bool(getattr(e, "retriable", False))
    if isinstance(e, DBAPIError) and e.connection_invalidated:
        return True
    sqlstate = getattr(e, "sqlstate", None) or getattr(e, "pgcode", None)
    if isinstance(sqlstate, str) and (
        sqlstate in _TRANSIENT_SQLSTATES or sqlstate.startswith(_TRANSIENT_SQLSTATE_CLASSES)
    ):
        return True
    message = str(e).lower()
    if isinstance(e, sqlite3.OperationalError) and message.startswith(_SQLITE_TRANSIENT):
        return True
    # asyncpg's InterfaceError / ConnectionDoesNotExistError for a connection lost mid-use.
    module = type(e).__module__
    return module.startswith("asyncpg") and any(s in message for s in _CONNECTION_CLOSED)


def is_transient(exc: BaseException) -> bool:
    """True if `exc` (or anything it wraps) says the world is away, not the input wrong."""
    return any(_transient_one(e) for e in _chain(exc))


def backoff_delay(failures: int, *, base_s: float, cap_s: float) -> float:
    """Capped exponential backoff with full jitter for the `failures`-th consecutive failure
    (1-based): uniform in [base, min(cap, base * 2^(failures-1))], so replicas waiting out the
    same outage do not come back in lockstep."""
    ceiling = min(cap_s, base_s * 2 ** min(failures - 1, 30))
    return random.uniform(min(base_s, ceiling), ceiling)
