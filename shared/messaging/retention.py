"""How long the event log keeps what it carries: each service forgets its own records once
every consumer group has read them and they are older than `BINOME_EVENT_RETENTION`, and its
dead letters once older than `BINOME_DEAD_LETTER_RETENTION`, read or not.

Why the log need not keep everything: what a service needs again lives in its own database
(its tables, reporting's event archive for a rebuild), and an erasure scrubs those; the log's
records cannot be edited (Kafka's never are), so a person's name in `employee.hired` or their
words in `feedback.submitted` leave it only by being forgotten. A record that a group with
offsets on its topic has not read is never forgotten, whatever its age: nothing is lost to a
consumer that was away. The relay of each service runs it every `BINOME_EVENT_PURGE_INTERVAL`
(embedded and Kafka alike); `binome events purge` at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.messaging.bus import Bus


@dataclass(frozen=True)
class LogRetention:
    bus: Bus
    topic: str  # the service's own: forgotten once read by every group and old enough
    dead_letters: str  # the service's dead letters: forgotten once old enough
    events: timedelta
    dead_letter_events: timedelta

    async def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Forget what the retention lets go; the records forgotten, by topic."""
        now = now or datetime.now(UTC)  # the log's own time: when records were published
        return {
            self.topic: await self.bus.purge(self.topic, before=now - self.events),
            self.dead_letters: await self.bus.purge(
                self.dead_letters, before=now - self.dead_letter_events, consumed=False
            ),
        }
