"""A background loop of a service process (the outbox relay, the timer scheduler, reporting's
webhook dispatcher): started with the service, woken early when there is work, stopped
gracefully (the batch in hand is finished, never cut in half), and reported alive to /livez
while it runs."""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from contextlib import suppress
from datetime import UTC, datetime

from shared.clock import Clock
from shared.messaging.bus import stop_gracefully
from shared.messaging.failures import backoff_delay

log = logging.getLogger(__name__)


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


class PollingLoop(BackgroundLoop):
    """A loop over due work (the timer scheduler's timers, the webhook dispatcher's
    deliveries): while something is due it works round after round, then sleeps until the next
    is due (at most its poll interval; woken early by `wake`). A failure (the database away)
    leaves the work where it is and is retried with capped exponential backoff and jitter;
    `failures` counts them in a row, `last_error` says the latest."""

    def __init__(
        self, *, clock: Clock, poll_interval_s: float, base_backoff_s: float, max_backoff_s: float
    ) -> None:
        super().__init__()
        self._clock = clock
        self._poll = poll_interval_s
        self._base_backoff = base_backoff_s
        self._max_backoff = max_backoff_s
        self.failures = 0
        self.last_error: str | None = None

    @abstractmethod
    async def _next_due(self) -> datetime | None:
        """When the next piece of work is due (None: nothing is waiting)."""

    async def _until_next_due(self) -> float:
        """Seconds until the next piece of work is due, at most the poll interval (another
        replica, or a clock a test moved, may bring one due sooner); 0: due now."""
        nxt = await self._next_due()
        if nxt is None:
            return self._poll
        due = nxt if nxt.tzinfo else nxt.replace(tzinfo=UTC)  # SQLite: naive, UTC
        return min(max((due - self._clock.now()).total_seconds(), 0.0), self._poll)

    @abstractmethod
    async def _round(self) -> int:
        """One round of due work; how much was done (0: nothing was due)."""

    async def _run(self) -> None:
        while not self._stopping.is_set():
            self._wake.clear()
            try:
                pause = await self._until_next_due()
                if pause == 0:
                    while not self._stopping.is_set() and await self._round():
                        pass
                    pause = await self._until_next_due()
                self.failures, self.last_error = 0, None
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # transient (the database away): the work stays due
                self.failures += 1
                self.last_error = f"{type(exc).__name__}: {exc}"[:300]
                if self.failures == 1 or self.failures % 20 == 0:
                    log.warning("%s failed (%s); retrying", self.NAME, self.last_error)
                pause = backoff_delay(
                    self.failures, base_s=self._base_backoff, cap_s=self._max_backoff
                )
            with suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), pause)
