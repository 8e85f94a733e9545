"""SQLite's query planner statistics, kept up to date (the embedded mode).

Without statistics SQLite plans from fixed guesses, and guesses wrong as tables grow: with
5,500 matches, five mentees' matches were read through the programme's index (7.8 ms)
instead of the mentee's (0.05 ms), and one participant's through the organisation's (5 ms
instead of 0.03). PostgreSQL's autovacuum keeps its own statistics; SQLite keeps none unless
told. So each service process on SQLite runs `ANALYZE` when it starts, then whenever one of
its tables has doubled or halved (by at least `MIN_CHANGE` rows) since the last time: the
sizes are looked at every `every_s` seconds (`max(rowid)`, an index lookup per table), and
`ANALYZE` samples at most `ANALYSIS_LIMIT` rows per index (2 to 5 ms for a service's 40 MB
database).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Mapping
from contextlib import suppress

from sqlalchemy import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from shared.messaging.loop import BackgroundLoop

log = logging.getLogger(__name__)

ANALYSIS_LIMIT = 1_000  # rows sampled per index
MIN_CHANGE = 500  # rows: below this, a table's plans do not change


def changed(before: Mapping[str, int], now: Mapping[str, int]) -> list[str]:
    """The tables whose size has doubled or halved (by `MIN_CHANGE` rows at least)."""
    out = []
    for table, size in now.items():
        was = before.get(table, 0)
        small, large = sorted((was, size))
        if large - small >= MIN_CHANGE and large >= 2 * small:
            out.append(table)
    return out


class PlannerStatistics(BackgroundLoop):
    NAME = "planner-statistics"

    def __init__(
        self, *, engine: AsyncEngine, reader: AsyncEngine, tables: Iterable[Table], every_s: float
    ) -> None:
        """`engine` writes the statistics (it takes the write lock first); `reader` looks at
        the sizes (it takes none)."""
        super().__init__()
        self._engine = engine
        self._reader = reader
        self._tables = sorted(t.name for t in tables)
        self._every = every_s
        self.analysed: dict[str, int] | None = None  # the sizes at the last ANALYZE
        self.runs = 0

    async def sizes(self) -> dict[str, int]:
        """Each table's highest rowid: its size as far as the planner cares (a table purged
        from the front keeps it, which errs towards keeping the statistics)."""
        async with self._reader.connect() as conn:
            return {
                name: (await conn.exec_driver_sql(f'SELECT max(rowid) FROM "{name}"')).scalar() or 0
                for name in self._tables
            }

    async def refresh(self) -> bool:
        """ANALYZE if this is the first look or a table's size changed enough; whether it
        did."""
        sizes = await self.sizes()
        if self.analysed is not None and not changed(self.analysed, sizes):
            return False
        async with self._engine.begin() as conn:
            await conn.exec_driver_sql(f"PRAGMA analysis_limit={ANALYSIS_LIMIT}")
            await conn.exec_driver_sql("ANALYZE")
        self.analysed = sizes
        self.runs += 1
        return True

    async def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the database busy or away: the next look retries
                log.warning("planner statistics not refreshed (%s); retrying", exc)
            with suppress(TimeoutError):
                await asyncio.wait_for(self._stopping.wait(), self._every)

    async def status(self) -> dict:
        return {"alive": self.alive, "analysed": self.runs}
