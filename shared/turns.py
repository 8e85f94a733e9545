"""Long loops that take turns with the rest of the service.

A use case looping over thousands of items in pure Python (a run's pairs published, a
programme's relationships re-judged) never awaits, so every other request and consumer of the
process waits until it ends. `in_turns` hands the event loop a turn every `every` items: a few
milliseconds of work at a time, the result the same. With `flush` (a unit of work's
`write_pending`), what the loop wrote behind so far is written every `flush_every` items: a
commit of 27,828 matches and their events otherwise converted every row in one go, and the
event loop stood still for it (`/healthz` 1.7 s during a 50,000 x 10,000 publication).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from typing import TypeVar

T = TypeVar("T")

EVERY = 500
FLUSH_EVERY = 2_000


async def in_turns(
    items: Iterable[T],
    every: int = EVERY,
    *,
    flush: Callable[[], Awaitable[None]] | None = None,
    flush_every: int = FLUSH_EVERY,
) -> AsyncIterator[T]:
    for i, item in enumerate(items, 1):
        yield item
        if flush is not None and i % flush_every == 0:
            await flush()  # its statements' trips hand the event loop turns
        elif i % every == 0:
            await asyncio.sleep(0)
