"""The whole core loop in the embedded mode (one process, SQLite, local bus)."""

from __future__ import annotations

from tests.helpers import Api
from tests.helpers.scenario import run_core_loop


async def test_core_loop_rematches_after_low_ratings(api: Api) -> None:
    result = await run_core_loop(api)
    assert result.replacement["replaces_match_id"] == result.first_match["id"]
