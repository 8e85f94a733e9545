"""The embedded server in two processes: the API in one, every service's background loops
(outbox relays, consumers, timer schedulers, workers) in the other, its loops process. One
Python process runs on one core: applying events took turns with answering requests, and a
burst of events (a cohort enrolled, a run published) slowed every request meanwhile.

- Both processes open the same SQLite files and event log (WAL lets two processes share them;
  a writer waits for the other's transaction as it did for another connection's).
- Wake-ups: a commit in the API process wakes the loops process's relay, and its timer
  scheduler when it armed timers, with a datagram on a Unix socket in the data folder
  (`"relay matching"`). Sending never blocks nor fails a commit; a lost one costs a poll
  interval, never an event (the loops poll anyway).
- Health: the loops process serves its `/livez`, `/status` and `/metrics` on a second Unix
  socket; the API process's `/livez`, `/status` and `/metrics` include them (`Companion`).
- Supervision: the API process starts the loops process once its migrations ran, restarts it
  if it dies (its `/livez` says so meanwhile), and stops it at shutdown; the loops process
  ends when the API process is gone. Both hold the data folder's lock (one server per folder).

`binome serve --one-process` keeps everything in one process, as the in-process test apps do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import httpx

log = logging.getLogger(__name__)
BASE_URL = "http://loops-process"


def _not_to_the_loops_process(record: logging.LogRecord) -> bool:
    """httpx logs each request it sends (`HTTP Request: GET <url> ...`): the API process asks
    its loops process at every probe, which is not worth a line."""
    args = record.args if isinstance(record.args, tuple) else ()
    return not (len(args) > 1 and str(args[1]).startswith(BASE_URL))


logging.getLogger("httpx").addFilter(_not_to_the_loops_process)

WAKE_SOCKET = ".binome-wake.sock"  # datagrams: "relay <service>", "timers <service>"
LOOPS_SOCKET = ".binome-loops.sock"  # the loops process's HTTP: /livez, /status, /metrics
# A Unix socket's path has room for 107 bytes on Linux.
MAX_SOCKET_PATH = 107
NAME = "loops-process"  # how /livez names it when it does not answer


def socket_paths(data_dir: Path) -> tuple[Path, Path]:
    """The wake-up and HTTP sockets of the server serving `data_dir`; a folder too deep for
    a Unix socket's path is said (the one-process mode needs none)."""
    wake, http = data_dir.resolve() / WAKE_SOCKET, data_dir.resolve() / LOOPS_SOCKET
    if len(str(http).encode()) > MAX_SOCKET_PATH:
        raise ValueError(
            f"the data folder {data_dir} is too deep for the loops process's Unix sockets "
            f"({MAX_SOCKET_PATH} bytes at most): choose a shorter BINOME_DATA_DIR, or serve "
            "with --one-process"
        )
    return wake, http


class Waker:
    """Sends wake-ups to the loops process: never blocks, never fails the commit it follows
    (the loops process starting, or its queue full: its loops poll)."""

    def __init__(self, path: Path) -> None:
        self._path = str(path)
        self._socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self._socket.setblocking(False)
        self.unheard = 0  # wake-ups the loops process was not there to hear

    def __call__(self, what: str) -> None:
        try:
            self._socket.sendto(what.encode(), self._path)
        except OSError:
            self.unheard += 1

    def close(self) -> None:
        self._socket.close()


def listen_for_wake_ups(
    path: Path, wake_ups: Mapping[str, Callable[[], None]]
) -> Callable[[], None]:
    """In the loops process: each datagram received wakes what it names (an unknown name is
    ignored). Returns what stops listening."""
    path.unlink(missing_ok=True)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    loop = asyncio.get_running_loop()

    def readable() -> None:
        while True:
            try:
                what = sock.recv(256)
            except BlockingIOError:
                return
            wake = wake_ups.get(what.decode(errors="replace"))
            if wake is not None:
                wake()

    loop.add_reader(sock.fileno(), readable)

    def close() -> None:
        loop.remove_reader(sock.fileno())
        sock.close()
        path.unlink(missing_ok=True)

    return close


async def end_with_parent(parent: int) -> None:
    """In the loops process: once the API process that started it is gone, shut down as
    SIGTERM would (the loops finish what they hold and commit). A pidfd becomes readable when
    its process ends."""
    if not hasattr(os, "pidfd_open"):  # not Linux: look twice a second
        while os.getppid() == parent:  # noqa: ASYNC110
            await asyncio.sleep(0.5)
        os.kill(os.getpid(), signal.SIGTERM)
        return
    gone = asyncio.Event()
    loop = asyncio.get_running_loop()
    pidfd: int | None = None
    try:
        pidfd = os.pidfd_open(parent)
    except ProcessLookupError:
        gone.set()
    else:
        loop.add_reader(pidfd, gone.set)
    try:
        await gone.wait()
    finally:
        if pidfd is not None:
            loop.remove_reader(pidfd)
            os.close(pidfd)
    log.warning("the API process (pid %s) is gone: stopping the loops process", parent)
    os.kill(os.getpid(), signal.SIGTERM)


class Companion:
    """The API process's side of the loops process: starts it, restarts it when it dies,
    stops it, and asks it for its health, status and metrics."""

    RESTART_AFTER_S = 1.0
    # How often its liveness is asked: /livez answers from the last answer, never waiting
    # for a process busy applying a burst of events.
    CHECK_EVERY_S = 1.0
    START_TIMEOUT_S = 120.0
    STOP_TIMEOUT_S = 30.0
    PROBE_TIMEOUT_S = 2.0

    def __init__(
        self, command: Sequence[str], data_dir: Path, *, keep_open: Sequence[int] = ()
    ) -> None:
        """`command`: what starts the loops process (its parent's pid is appended);
        `keep_open`: file descriptors it inherits (the data folder's lock)."""
        self._command = list(command)
        self._keep_open = tuple(keep_open)
        wake, http = socket_paths(data_dir)
        self._http_path = http
        self.waker = Waker(wake)
        self._client = httpx.AsyncClient(
            transport=httpx.AsyncHTTPTransport(uds=str(http)),
            base_url=BASE_URL,
            timeout=self.PROBE_TIMEOUT_S,
        )
        self._process: asyncio.subprocess.Process | None = None
        self._supervisor: asyncio.Task[None] | None = None
        self._checker: asyncio.Task[None] | None = None
        self._stopping = False
        self._dead: list[str] = [NAME]  # its dead loops, as it last said
        self.restarts = 0

    async def start(self) -> None:
        """Start the loops process and wait until it answers (its loops running)."""
        self._stopping = False
        await self._spawn()
        assert self._process is not None
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.START_TIMEOUT_S
        while not await self._check():
            if self._process.returncode is not None:  # a mistake restarting would repeat
                raise RuntimeError("the loops process ended as it started: see its log above")
            if loop.time() > deadline:
                self._process.kill()
                raise RuntimeError(f"the loops process did not answer in {self.START_TIMEOUT_S} s")
            await asyncio.sleep(0.05)
        # Supervised once it ran: from then on, an end is a crash to recover from.
        self._supervisor = asyncio.create_task(self._supervise(), name="loops-process")
        self._checker = asyncio.create_task(self._keep_checking(), name="loops-process-health")

    async def _check(self) -> bool:
        """Ask its liveness; whether it answered."""
        answer = await self._answer("/livez")
        if answer is None:
            self._dead = [NAME]
        else:
            dead = answer.json().get("dead_loops", []) if answer.status_code == 503 else []
            self._dead = list(dead)
        return answer is not None

    async def _keep_checking(self) -> None:
        while True:
            await asyncio.sleep(self.CHECK_EVERY_S)
            await self._check()

    async def _spawn(self) -> None:
        self._http_path.unlink(missing_ok=True)  # its answering means this one is up
        self._dead = [NAME]
        self._process = await asyncio.create_subprocess_exec(
            *self._command, str(os.getpid()), pass_fds=self._keep_open
        )
        log.info("loops process started (pid %s)", self._process.pid)

    async def _supervise(self) -> None:
        while True:
            assert self._process is not None
            code = await self._process.wait()
            if self._stopping:
                return
            self.restarts += 1
            log.error(
                "the loops process (pid %s) ended with status %s: restarting it in %.0f s",
                self._process.pid,
                code,
                self.RESTART_AFTER_S,
            )
            await asyncio.sleep(self.RESTART_AFTER_S)
            await self._spawn()

    async def stop(self) -> None:
        """SIGTERM, and the time to finish what its loops hold; then SIGKILL."""
        self._stopping = True
        process = self._process
        if process is not None and process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), self.STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("the loops process did not stop in %s s: killed", self.STOP_TIMEOUT_S)
                process.kill()
                await process.wait()
        self._http_path.unlink(missing_ok=True)  # (a server started later finds none)
        for task in (self._supervisor, self._checker):
            if task is not None:
                task.cancel()
        await self._client.aclose()
        self.waker.close()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    async def _answer(self, path: str, **headers: str) -> httpx.Response | None:
        try:
            return await self._client.get(path, headers=headers)
        except (httpx.HTTPError, OSError):
            return None

    def dead_loops(self) -> list[str]:
        """Its loops that died, or the process itself when it has ended or did not answer
        (as it said at most CHECK_EVERY_S ago; its end, at once)."""
        if self._process is None or self._process.returncode is not None:
            return [NAME]
        return list(self._dead)

    async def status(self) -> dict[str, Any] | None:
        """Its `/status` (None: it does not answer)."""
        answer = await self._answer("/status")
        return answer.json() if answer is not None and answer.status_code == 200 else None

    async def metrics(self, accept: str) -> bytes | None:
        """Its `/metrics` in the format `accept` asks for (None: it does not answer)."""
        answer = await self._answer("/metrics", accept=accept)
        return answer.content if answer is not None and answer.status_code == 200 else None

    def about(self) -> dict[str, Any]:
        running = self._process is not None and self._process.returncode is None
        return {"pid": self.pid, "running": running, "restarts": self.restarts}
