"""Dead letters are recoverable: list them, look at one, replay them after a fix.

A dead letter is the original record (same key, headers and value) plus `dlq_*` headers saying
which group gave up on it, where it came from (topic, partition, offset), after how many
attempts, with which error, and when. Replaying publishes the original record again to its
original topic; the consumer groups' inboxes make that idempotent: a group that already applied
the event skips it, the group that dead-lettered it applies it now. Reading the dead-letter
topic moves no offset, so listing is always safe.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from shared.events import dead_letter_topic
from shared.messaging.bus import Bus, Message, Record

DLQ_HEADER_PREFIX = "dlq_"


@dataclass(frozen=True)
class DeadLetter:
    group: str
    partition: int  # position in the dead-letter topic
    offset: int
    key: str
    event_id: str | None
    event_type: str | None
    original_topic: str
    original_position: str  # "partition@offset" in the original topic
    attempts: int
    error: str
    dead_lettered_at: datetime | None
    message: Message

    @property
    def ref(self) -> str:
        """A stable reference to this dead letter: group/partition/offset."""
        return f"{self.group}/{self.partition}/{self.offset}"

    def summary(self) -> dict[str, object]:
        return {
            "ref": self.ref,
            "event_id": self.event_id,
            "type": self.event_type,
            "key": self.key,
            "original": f"{self.original_topic}/{self.original_position}",
            "attempts": self.attempts,
            "error": self.error,
            "dead_lettered_at": self.dead_lettered_at.isoformat()
            if self.dead_lettered_at
            else None,
        }

    def original_record(self) -> Record:
        headers = [(k, v) for k, v in self.message.headers if not k.startswith(DLQ_HEADER_PREFIX)]
        return Record(
            topic=self.original_topic,
            key=self.key,
            headers=headers,
            value=self.message.value or b"",
        )


def _parse(group: str, m: Message) -> DeadLetter:
    h = {k: v.decode(errors="replace") for k, v in m.headers}
    at = h.get("dlq_at")
    return DeadLetter(
        group=group,
        partition=m.partition,
        offset=m.offset,
        key=m.key or "",
        event_id=h.get("ce_id"),
        event_type=h.get("ce_type"),
        original_topic=h.get("dlq_topic", ""),
        original_position=f"{h.get('dlq_partition', '?')}@{h.get('dlq_offset', '?')}",
        attempts=int(h.get("dlq_attempts", "0") or 0),
        error=h.get("dlq_error", ""),
        dead_lettered_at=datetime.fromisoformat(at) if at else None,
        message=m,
    )


async def dead_letters(
    bus: Bus,
    groups: Iterable[str],
    *,
    prefix: str = "",
    event_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    event_ids: Iterable[str] = (),
) -> list[DeadLetter]:
    """The dead letters of `groups`, oldest first within each group, filtered."""
    wanted_ids = set(event_ids)
    out: list[DeadLetter] = []
    for group in groups:
        for m in await bus.read_topic(dead_letter_topic(group, prefix)):
            letter = _parse(group, m)
            if event_type and letter.event_type != event_type:
                continue
            if wanted_ids and letter.event_id not in wanted_ids:
                continue
            at = letter.dead_lettered_at
            if since and (at is None or at < since):
                continue
            if until and (at is None or at >= until):
                continue
            out.append(letter)
    return out


async def replay(bus: Bus, letters: list[DeadLetter]) -> int:
    """Publish each letter's original record to its original topic; returns how many."""
    records = [letter.original_record() for letter in letters if letter.original_topic]
    if records:
        await bus.publish(records)
    return len(records)
