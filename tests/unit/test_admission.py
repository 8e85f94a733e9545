"""The admission queue (shared.edge.Admission): a few requests served at once, the next ones in
the order they came, 503 with Retry-After for one that waited too long, health probes never
queued, and no turn lost to a caller that went away."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from shared.edge import Admission

pytestmark = pytest.mark.asyncio


class Handler:
    """An app whose requests each wait for their own go (then answer 200), recording the
    order in which they were let in."""

    def __init__(self) -> None:
        self.entered: list[str] = []
        self.go: dict[str, asyncio.Event] = {}
        self.streaming: set[str] = set()

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        name = scope["path"].rsplit("/", 1)[-1]
        self.entered.append(name)
        self.go.setdefault(name, asyncio.Event())
        if name in self.streaming:  # an export: the answer starts, the body comes later
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await self.go[name].wait()
            await send({"type": "http.response.body", "body": b"done"})
            return
        await self.go[name].wait()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})

    def release(self, name: str) -> None:
        self.go.setdefault(name, asyncio.Event()).set()


async def request(app: Admission, path: str) -> tuple[int, dict[bytes, bytes], bytes]:
    answer: dict[str, Any] = {"body": b""}

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        if message["type"] == "http.response.start":
            answer["status"], answer["headers"] = message["status"], dict(message["headers"])
        else:
            answer["body"] += message.get("body", b"")

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    return answer["status"], answer["headers"], answer["body"]


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


async def test_two_at_once_and_the_others_in_the_order_they_came() -> None:
    handler = Handler()
    app = Admission(handler, limit=2, wait_s=10)
    calls = {n: asyncio.create_task(request(app, f"/v1/x/{n}")) for n in "abcde"}
    await settle()
    assert handler.entered == ["a", "b"]  # c, d, e wait
    handler.release("b")
    await settle()
    assert handler.entered == ["a", "b", "c"]
    for n in "acde":
        handler.release(n)
    results = await asyncio.gather(*calls.values())
    assert handler.entered == list("abcde") and {r[0] for r in results} == {200}
    assert app.busy == 0 and not app.waiting


async def test_one_waiting_too_long_gets_503_with_retry_after() -> None:
    handler = Handler()
    app = Admission(handler, limit=1, wait_s=0.05)
    first = asyncio.create_task(request(app, "/v1/x/a"))
    await settle()
    status, headers, body = await request(app, "/v1/x/b")
    assert status == 503 and headers[b"retry-after"] == b"1"
    assert "busy" in json.loads(body)["detail"] and "b" not in handler.entered
    handler.release("a")
    assert (await first)[0] == 200
    assert app.busy == 0 and not app.waiting


async def test_health_probes_are_never_queued() -> None:
    handler = Handler()
    app = Admission(handler, limit=1, wait_s=10)
    first = asyncio.create_task(request(app, "/v1/x/a"))
    await settle()
    handler.release("readyz")
    assert (await request(app, "/readyz"))[0] == 200
    handler.release("a")
    await first


async def test_a_caller_gone_while_waiting_leaves_no_hole_in_the_queue() -> None:
    handler = Handler()
    app = Admission(handler, limit=1, wait_s=10)
    first = asyncio.create_task(request(app, "/v1/x/a"))
    await settle()
    gone = asyncio.create_task(request(app, "/v1/x/b"))
    after = asyncio.create_task(request(app, "/v1/x/c"))
    await settle()
    gone.cancel()
    await settle()
    handler.release("a")
    handler.release("c")
    assert (await first)[0] == 200 and (await after)[0] == 200
    assert handler.entered == ["a", "c"] and app.busy == 0 and not app.waiting


async def test_a_streamed_answer_frees_its_turn_once_it_starts() -> None:
    handler = Handler()
    handler.streaming.add("export")
    app = Admission(handler, limit=1, wait_s=10)
    export = asyncio.create_task(request(app, "/v1/x/export"))
    await settle()
    handler.release("b")
    assert (await request(app, "/v1/x/b"))[0] == 200  # served while the export streams
    handler.release("export")
    assert (await export)[2] == b"done"
    assert app.busy == 0


async def test_no_limit_lets_everyone_in() -> None:
    handler = Handler()
    app = Admission(handler, limit=0, wait_s=10)
    calls = [asyncio.create_task(request(app, f"/v1/x/{n}")) for n in range(20)]
    await settle()
    assert len(handler.entered) == 20
    for n in range(20):
        handler.release(str(n))
    await asyncio.gather(*calls)
