"""A background loop of a service process (the outbox relay, the timer scheduler): started
with the service, woken early when there is work, stopped gracefully (the batch in hand is
finished, never cut in half), and reported alive to /livez while it runs."""

from __future__ import annotations

import asyncio
from abc import ABC, abstractmethod

from shared.messaging.bus import stop_gracefully


class BackgroundLoop(ABC):
    NAME = "loop"

    def __init__(self) -> None:
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()
        self._task: asyncio.Task | None = None

    @property
    def alive(self) -> bool:
        """Started and still looping (it only ends when stopped)."""
        return self._task is not None and (not self._task.done() or self._stopping.is_set())

    def wake(self) -> None:
        """There is work: look now rather than at the next poll."""
        self._wake.set()

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=self.NAME)

    async def stop(self) -> None:
        """Finish the batch in hand, then stop."""
        self._stopping.set()
        self._wake.set()
        if self._task:
            await stop_gracefully([self._task])

    async def status(self) -> dict:
        """What /status shows of it."""
        return {"alive": self.alive}

    @abstractmethod
    async def _run(self) -> None: ...
