"""Lists come in an envelope (`items`, `total`, `next_cursor`) and are walked by cursor."""

from __future__ import annotations

from tests.helpers import Api
from tests.helpers.paging import lists_page_by_cursor


async def test_lists_page_by_cursor(api: Api) -> None:
    await lists_page_by_cursor(api)
