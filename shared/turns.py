"""Long loops that take turns with the rest of the service.

A use case looping over thousands of items in pure Python (a run's pairs published, a
programme's relationships re-judged) never awaits, so every other request and consumer of the
process waits until it ends. `in_turns` hands the event loop a turn every `every` items: a few
milliseconds of work at a time, the result the same.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from typing import TypeVar

T = TypeVar("T")

EVERY = 500


async def in_turns(items: Iterable[T], every: int = EVERY) -> AsyncIterator[T]:
    for i, item in enumerate(items, 1):
        yield item
        if i % every == 0:
            await asyncio.sleep(0)
