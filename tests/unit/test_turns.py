"""A long loop takes turns with the rest of the event loop (shared.turns): another task runs
between its every-N items, and the loop sees every item once, in order."""

from __future__ import annotations

import asyncio

from shared.turns import in_turns


async def test_a_long_loop_lets_other_tasks_run_between_turns() -> None:
    seen: list[int] = []
    ticks: list[int] = []

    async def other() -> None:
        while True:
            ticks.append(len(seen))  # how far the loop had gone when this task ran
            await asyncio.sleep(0)

    task = asyncio.create_task(other())
    async for i in in_turns(range(1000), every=100):
        seen.append(i)
    task.cancel()
    assert seen == list(range(1000))
    # The other task ran at each turn (after items 100, 200, ...), not only at the end.
    assert sorted(set(ticks)) == [100 * k for k in range(1, 11)]


async def test_a_long_loop_writes_what_it_wrote_behind_as_it_goes() -> None:
    """With `flush`, every `flush_every` items the loop awaits it (a unit of work's pending
    rows written) instead of a bare turn; the turns in between stay."""
    seen: list[int] = []
    flushed: list[int] = []

    async def flush() -> None:
        flushed.append(len(seen))

    async for i in in_turns(range(1000), every=100, flush=flush, flush_every=300):
        seen.append(i)
    assert seen == list(range(1000))
    assert flushed == [300, 600, 900]
