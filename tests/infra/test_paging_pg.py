"""Lists paged by cursor on PostgreSQL: the cursor's timestamps and ids bind to its column
types there too (asyncpg is strict about them where SQLite is not)."""

from __future__ import annotations

import pytest

from tests.helpers import Api
from tests.helpers.paging import lists_page_by_cursor

pytestmark = pytest.mark.infra


async def test_lists_page_by_cursor_on_postgresql(api: Api) -> None:
    await lists_page_by_cursor(api)
