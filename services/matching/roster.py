"""A programme's participants as the engine reads them, kept between requests.

Suggestions score one mentee against every mentor of the programme; reading and decoding
thousands of mentor rows for each request cost more than the scoring, and encoding them for
the engine (`MentorPool`) about as much again. A run reads every candidate of both sides, and
its publication reads them again to check that nothing the run depended on has changed.
The rows are read (and the mentors encoded) once per version of the programme's roster
(`Roster.version`, moved in the same transaction as any change to one of its participants, so
every replica sees the same version): a request that finds the version it has in memory uses
what it read then, one that finds another version reads the rows again. The version is read
before the rows, so what is kept under a version is never older than it. The places each
mentor has taken (open matches and requests) are kept the same way by the programme's loads
version (`Loads.version`, moved by any commit writing one of its matches or requests).
Nothing here decides anything; it only spares reads whose answer is known.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

from services.matching.cohort import MentorPool, Person

T = TypeVar("T")


class _Kept(Generic[T]):
    """What was made of each programme's roster at its latest version seen, for the `size`
    programmes used last (the least recently used go first)."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple[str, str], T] = OrderedDict()

    async def get(self, program_id: str, version: str, make: Callable[[], Awaitable[T]]) -> T:
        key = (program_id, version)
        kept = self._kept.get(key)
        if kept is None:
            kept = await make()
            for old in [k for k in self._kept if k[0] == program_id]:
                del self._kept[old]
            self._kept[key] = kept
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        self._kept.move_to_end(key)
        return kept


# The programmes whose mentors are kept encoded (suggestions), and those whose candidates are
# kept (runs and publications: thousands of people each).
_mentors: _Kept[MentorPool] = _Kept(16)
_candidates: _Kept[tuple[list[Person], list[Person]]] = _Kept(4)
# The programmes whose mentors' loads are kept (suggestions), by loads version.
_loads: _Kept[dict[str, int]] = _Kept(16)


async def mentors(
    program_id: str, version: str, read: Callable[[], Awaitable[list[Person]]]
) -> MentorPool:
    """The programme's active mentors at this roster version, encoded (`read` them if not
    kept; encoded off the event loop)."""

    async def make() -> MentorPool:
        return await asyncio.to_thread(MentorPool, await read())

    return await _mentors.get(program_id, version, make)


async def candidates(
    program_id: str,
    version: str | None,
    read: Callable[[], Awaitable[tuple[list[Person], list[Person]]]],
) -> tuple[list[Person], list[Person]]:
    """The programme's active (mentees, mentors) at this roster version (`read` them if not
    kept; a programme without a version yet is read each time). The same people each time:
    what a person memoises (its facts' JSON for the inputs' digest) is made once."""
    if version is None:
        return await read()
    mentees, mentors = await _candidates.get(program_id, version, read)
    return list(mentees), list(mentors)


async def loads(
    program_id: str, version: str | None, count: Callable[[], Awaitable[dict[str, int]]]
) -> dict[str, int]:
    """Each mentor's places taken in the programme (open matches and open requests) at this
    loads version (`Loads.version`; `count` them if not kept, or if the programme has none
    yet). The same dict each time: read it, never change it."""
    if version is None:
        return await count()
    return await _loads.get(program_id, version, count)
