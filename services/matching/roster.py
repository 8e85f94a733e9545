"""A programme's mentors as the engine reads them, kept between requests.

Suggestions score one mentee against every mentor of the programme; reading and decoding
thousands of mentor rows for each request cost more than the scoring, and encoding them for
the engine (`MentorPool`) about as much again. The rows are read and encoded once per version
of the programme's roster (`Roster.version`, moved in the same transaction as any
change to one of its participants, so every replica sees the same version): a request that
finds the version it has in memory uses what it read then, one that finds another version
reads the rows again. Nothing here decides anything; it only spares reads whose answer is
known.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable

from services.matching.cohort import MentorPool, Person

KEPT = 16  # programmes whose mentors are kept (the least recently used go first)

_mentors: OrderedDict[tuple[str, str], MentorPool] = OrderedDict()


async def mentors(
    program_id: str, version: str, read: Callable[[], Awaitable[list[Person]]]
) -> MentorPool:
    """The programme's active mentors at this roster version, encoded (`read` them if not
    kept; encoded off the event loop)."""
    key = (program_id, version)
    kept = _mentors.get(key)
    if kept is None:
        kept = await asyncio.to_thread(MentorPool, await read())
        for old in [k for k in _mentors if k[0] == program_id]:
            del _mentors[old]
        _mentors[key] = kept
        while len(_mentors) > KEPT:
            _mentors.popitem(last=False)
    _mentors.move_to_end(key)
    return kept
