"""Time, injectable: everything that depends on time passing asks a clock, never the system.

Services run on `SystemClock`; tests give a runtime a `ManualClock` and move it forward, so a
policy of days is tested without sleeping. Clocks are timezone-aware (UTC) throughout.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to (tests)."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC)

    def now(self) -> datetime:
        return self._now

    def advance(self, by: timedelta) -> datetime:
        self._now += by
        return self._now
