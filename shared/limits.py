"""Request bodies are bounded while they are read, before any parsing or authentication: a
declared length above the limit is refused (413) without keeping a byte of it, and a body sent
without one (chunked) is kept only up to the limit. HRIS batches have a larger limit."""

from __future__ import annotations

from collections.abc import Mapping

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from shared.problems import MEDIA_TYPE, problem


class BodyLimit:
    """A pure ASGI middleware (no buffering of what fits a declared length)."""

    def __init__(self, app: ASGIApp, *, default: int, larger: Mapping[str, int]) -> None:
        self.app, self.default, self.larger = app, default, dict(larger)

    def limit(self, path: str) -> int:
        return next((n for p, n in self.larger.items() if path.startswith(p)), self.default)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit(scope["path"])
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None:
            if not declared.isdigit() or int(declared) > limit:
                await _refuse(receive, send, limit)
                return
            await self.app(scope, receive, send)
            return
        if headers.get(b"transfer-encoding") is None:
            await self.app(scope, receive, send)  # no body
            return
        # Chunked: read up to the limit, then hand the body on as one message.
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                await self.app(scope, _replay([message]), send)
                return
            chunks.append(message.get("body", b""))
            size += len(chunks[-1])
            if size > limit:
                await _refuse(receive, send, limit, more=message.get("more_body", False))
                return
            if not message.get("more_body", False):
                break
        body = {"type": "http.request", "body": b"".join(chunks), "more_body": False}
        await self.app(scope, _replay([body], then=receive), send)


def _replay(messages: list[Message], then: Receive | None = None) -> Receive:
    pending = list(messages)

    async def receive() -> Message:
        if pending:
            return pending.pop(0)
        if then is not None:
            return await then()
        return {"type": "http.disconnect"}

    return receive


async def _refuse(receive: Receive, send: Send, limit: int, *, more: bool = True) -> None:
    """Answer 413 once the client has finished sending: the rest of the body is read and
    dropped as it comes (never kept, never parsed), so the client reads the answer instead of
    a reset connection."""
    while more:
        message = await receive()
        more = message["type"] == "http.request" and message.get("more_body", False)
    await _too_large(send, limit)


async def _too_large(send: Send, limit: int) -> None:
    await send_detail(send, 413, f"the request body is larger than {limit} bytes")


async def send_detail(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] | None = None
) -> None:
    """A problem answer (shared.problems) from a pure ASGI middleware (before any route)."""
    body = orjson.dumps(problem(status, detail))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", MEDIA_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                *(headers or []),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
