"""What every HTTP answer of Binôme carries and how callers are throttled, at the edge (the
embedded server, which is its own edge; nginx's configuration in services/proxy.py follows
these rules) and at each service.

- Security headers on every answer: `nosniff`, no framing (`frame-ancestors 'none'`), no
  referrer; API answers (`/v1/...`) are `no-store` (they carry personal data).
- Rate limits, by the `limits` library's moving windows: per bearer token (the token's hash:
  invalid or not, the same string is one caller) and per client address. Over the limit: 429
  with `Retry-After` (seconds) and a JSON body naming the limit. Health probes are exempt.
  The windows are kept in the process: each replica counts its own callers.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import time
from collections import deque
from typing import TYPE_CHECKING

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage
from limits.aio.strategies import MovingWindowRateLimiter
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.limits import BodyLimit, send_detail

if TYPE_CHECKING:
    from fastapi import FastAPI

    from shared.settings import Settings

# Every answer's headers, and the one API answers add (services/proxy.py gives nginx's own
# answers the same).
SECURITY_HEADERS = (
    ("x-content-type-options", "nosniff"),
    ("content-security-policy", "frame-ancestors 'none'"),
    ("x-frame-options", "DENY"),
    ("referrer-policy", "no-referrer"),
)
NO_STORE = ("cache-control", "no-store")
_HEADERS = [(k.encode(), v.encode()) for k, v in SECURITY_HEADERS]
_NO_STORE = (NO_STORE[0].encode(), NO_STORE[1].encode())
# What an orchestrator or a scraper asks: never limited, queued or traced.
PROBES = ("/healthz", "/livez", "/readyz", "/status", "/metrics")


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        api = scope["path"].startswith("/v1/")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                present = {name.lower() for name, _ in message.get("headers", [])}
                extra = [h for h in _HEADERS if h[0] not in present]
                if api and b"cache-control" not in present:
                    extra.append(_NO_STORE)
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        await self.app(scope, receive, send_with_headers)


def parse_limit(text: str | None) -> RateLimitItem | None:
    """`"600/minute"` (the `limits` notation); empty or `off`: no limit."""
    if text is None or text.strip().lower() in ("", "off"):
        return None
    return parse(text)


class RateLimit:
    def __init__(
        self,
        app: ASGIApp,
        *,
        per_token: RateLimitItem | None,
        per_address: RateLimitItem | None,
    ) -> None:
        self.app = app
        self.rules = [
            (rule, kind) for rule, kind in ((per_token, "token"), (per_address, "address")) if rule
        ]
        self.limiter = MovingWindowRateLimiter(MemoryStorage())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.rules or scope["path"].startswith(PROBES):
            await self.app(scope, receive, send)
            return
        for rule, kind in self.rules:
            key = self._key(scope, kind)
            if key is None:
                continue
            if not await self.limiter.hit(rule, kind, key):
                stats = await self.limiter.get_window_stats(rule, kind, key)
                wait = max(1, math.ceil(stats.reset_time - time.time()))
                await _too_many(send, f"{rule} per {kind}", wait)
                return
        await self.app(scope, receive, send)

    @staticmethod
    def _key(scope: Scope, kind: str) -> str | None:
        if kind == "address":
            client = scope.get("client")
            return client[0] if client else "unknown"
        for name, value in scope.get("headers") or []:
            if name == b"authorization":
                return hashlib.sha256(value).hexdigest()
        return None  # no token: the address rule covers the caller


async def _too_many(send: Send, rule: str, wait: int) -> None:
    detail = f"rate limit exceeded ({rule}); retry in {wait} s"
    await send_detail(send, 429, detail, [(b"retry-after", str(wait).encode())])


class Admission:
    """At most `limit` requests of this process served at once; the others wait their turn in
    the order they came (first come, first served), and after `wait_s` get 503 with
    Retry-After. Health probes are exempt.

    Why: the event loop shares its one core between the requests in progress, one turn per
    database round trip. With forty in progress, a write (eight round trips) waited eight
    laps of forty turns while a read (one) waited one: under load the writes' latency was
    three times the reads', and the p99 was theirs. Served in order, a few at a time (enough
    to keep the core busy while some wait for the database), every request waits about the
    same, and a slow one no longer waits for everyone else's round trips. A request's turn
    ends when its answer starts (a streamed export goes on beside the next ones)."""

    def __init__(self, app: ASGIApp, *, limit: int, wait_s: float) -> None:
        self.app = app
        self.limit, self.wait_s = limit, wait_s
        self.busy = 0
        self.waiting: deque[asyncio.Future[None]] = deque()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not self.limit or scope["path"].startswith(PROBES):
            await self.app(scope, receive, send)
            return
        if self.busy < self.limit and not self.waiting:
            self.busy += 1
        elif not await self._turn():
            detail = f"the service is busy (over {self.wait_s:g} s in the queue); retry"
            await send_detail(send, 503, detail, [(b"retry-after", b"1")])
            return
        done = False

        def release() -> None:
            nonlocal done
            if not done:
                done = True
                self._release()

        async def send_and_release(message: Message) -> None:
            await send(message)
            if message["type"] == "http.response.start":
                release()

        try:
            await self.app(scope, receive, send_and_release)
        finally:
            release()

    async def _turn(self) -> bool:
        """Wait for a slot, handed over by a request that ends (`busy` unchanged)."""
        turn = asyncio.get_running_loop().create_future()
        self.waiting.append(turn)
        try:
            await asyncio.wait({turn}, timeout=self.wait_s)
        except BaseException:  # the caller went away (cancelled)
            if turn.done():  # just as the slot came: pass it on
                self._release()
            else:
                self._leave(turn)
            raise
        if turn.done():
            return True
        self._leave(turn)  # waited too long
        return False

    def _leave(self, turn: asyncio.Future[None]) -> None:
        turn.cancel()
        self.waiting.remove(turn)

    def _release(self) -> None:
        while self.waiting:
            turn = self.waiting.popleft()
            if not turn.done():
                turn.set_result(None)
                return
        self.busy -= 1


def install_edge(app: FastAPI, settings: Settings) -> None:
    """The middleware every Binôme app puts before all else, outermost first: the body limit
    (nothing read beyond it), the rate limits, the admission queue, the security headers."""
    app.add_middleware(SecurityHeaders)
    app.add_middleware(
        Admission,
        limit=settings.max_concurrent_requests,
        wait_s=settings.request_queue_timeout.total_seconds(),
    )
    app.add_middleware(
        RateLimit,
        per_token=parse_limit(settings.rate_limit_per_token),
        per_address=parse_limit(settings.rate_limit_per_address),
    )
    default, larger = settings.body_limits()
    app.add_middleware(BodyLimit, default=default, larger=larger)  # added last: outermost
