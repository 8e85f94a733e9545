"""A fault-injecting TCP proxy for the infrastructure tests (a small Toxiproxy of our own).

Services under test reach PostgreSQL or Kafka through it, and the test breaks the link at will:
- `cut()`: every open connection is reset and new ones are reset as soon as accepted (the
  server is unreachable), until `restore()`;
- `cut_at(pattern, after_forwarding=...)`: the next connection that sends `pattern` (e.g.
  PostgreSQL's COMMIT) is reset either before the server sees it (the transaction never
  commits) or just after the server got it but before the client hears back (it committed, the
  client cannot know).

It runs its own event loop on a thread, so the service being broken (in the test's loop or in
another process) cannot slow it down, and it is controlled with plain blocking calls.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from dataclasses import dataclass, field


@dataclass(eq=False)
class _Link:
    client: asyncio.StreamWriter
    upstream: asyncio.StreamWriter
    frozen: bool = False  # set just before a reset: forward nothing more to the client

    def reset(self) -> None:
        self.frozen = True
        for writer in (self.client, self.upstream):
            with contextlib.suppress(Exception):
                writer.transport.abort()


@dataclass
class _CutAt:
    pattern: bytes
    after_forwarding: bool
    times: int


@dataclass
class FaultProxy:
    target_host: str
    target_port: int
    port: int = 0
    connections: int = 0  # accepted so far
    resets: int = 0  # links reset by a fault
    _loop: asyncio.AbstractEventLoop = field(default_factory=asyncio.new_event_loop)
    _links: set[_Link] = field(default_factory=set)
    _down: bool = False
    _cut_at: _CutAt | None = None
    _server: asyncio.Server | None = None
    _thread: threading.Thread | None = None

    def start(self) -> int:
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = self._call(self._listen())
        return self.port

    def stop(self) -> None:
        if self._server is not None:
            self._call(self._close())
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(timeout=5)

    def cut(self) -> None:
        """The target becomes unreachable: reset every link, refuse new ones."""
        self._call(self._cut())

    def restore(self) -> None:
        self._call(self._restore())

    def cut_at(self, pattern: bytes, *, after_forwarding: bool, times: int = 1) -> None:
        self._call(self._arm(_CutAt(pattern, after_forwarding, times)))

    @property
    def armed(self) -> bool:
        """A `cut_at` still waiting for its pattern."""
        return self._cut_at is not None

    # -- on the proxy's loop ---------------------------------------------------------------

    def _call(self, coro):  # type: ignore[no-untyped-def]
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=10)

    async def _listen(self) -> asyncio.Server:
        server = await asyncio.start_server(self._accept, "127.0.0.1", self.port)
        self.port = server.sockets[0].getsockname()[1]
        return server

    async def _close(self) -> None:
        assert self._server is not None
        self._server.close()
        for link in list(self._links):
            link.reset()

    async def _cut(self) -> None:
        self._down = True
        for link in list(self._links):
            link.reset()
            self.resets += 1

    async def _restore(self) -> None:
        self._down = False

    async def _arm(self, cut: _CutAt) -> None:
        self._cut_at = cut

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        if self._down:
            writer.transport.abort()
            return
        try:
            up_reader, up_writer = await asyncio.open_connection(self.target_host, self.target_port)
        except OSError:
            writer.transport.abort()
            return
        link = _Link(writer, up_writer)
        self._links.add(link)
        try:
            await asyncio.gather(
                self._pipe(reader, up_writer, link, to_server=True),
                self._pipe(up_reader, writer, link, to_server=False),
            )
        finally:
            self._links.discard(link)
            link.reset()

    async def _pipe(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        link: _Link,
        *,
        to_server: bool,
    ) -> None:
        try:
            while data := await reader.read(65536):
                if link.frozen:
                    return
                cut = self._cut_at
                if to_server and cut is not None and cut.pattern in data:
                    cut.times -= 1
                    if cut.times <= 0:
                        self._cut_at = None
                    self.resets += 1
                    if cut.after_forwarding:
                        link.frozen = True  # the server's answer must not reach the client
                        writer.write(data)
                        with contextlib.suppress(Exception):
                            await writer.drain()
                        await asyncio.sleep(0.2)  # let the server act on it
                    link.reset()
                    return
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            link.reset()
