"""Lists, the one way every service pages them: an envelope with the total and a cursor.

`GET /v1/<collection>?limit=50` answers `{"items": [...], "total": 132, "next_cursor": "…"}`;
the next page is `?limit=50&cursor=<next_cursor>`, and `next_cursor` is null on the last page.
The cursor is the last item's sort key (keyset paging), not a row count: items added or
removed before it while a client walks the list do not shift the pages it has not read yet, and
a deep page costs what the first one does. `total` counts the list with the same filters.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Sequence
from datetime import date, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession as SAAsyncSession
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.api import as_utc
from shared.errors import Unknown

T = TypeVar("T")
U = TypeVar("U")

MAX_LIMIT = 500


class PageParams(BaseModel):
    limit: int
    cursor: str | None = None


async def _page(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description="Items per page (1 to 500)", examples=[50])
    ] = 100,
    cursor: Annotated[
        str | None,
        Query(
            max_length=2000,
            description="Where to continue: the `next_cursor` of the previous page. "
            "Absent: the first page.",
            examples=["WyIyMDI2LTEyLTAyVDA5OjAwOjAwKzAwOjAwIiwiNmYxYyJd"],
        ),
    ] = None,
) -> PageParams:
    return PageParams(limit=limit, cursor=cursor)


Page = Annotated[PageParams, Depends(_page)]


class Paged(BaseModel, Generic[T]):
    """One page of a list."""

    items: list[T] = Field(description="This page's items, in the list's order.")
    total: int = Field(
        description="How many items the whole list holds (same filters, every page).",
        examples=[132],
    )
    next_cursor: str | None = Field(
        description="Pass it as `cursor` to get the next page; null on the last page.",
        examples=["WyIyMDI2LTEyLTAyVDA5OjAwOjAwKzAwOjAwIiwiNmYxYyJd"],
    )


@functools.cache
def listing(model: type[BaseModel]) -> type[Paged[Any]]:
    """The response model of a list of `model`, a schema of its own name (`ProgramPublic`'s
    is `ProgramPage`), which generated clients turn into a class of that name."""
    name = f"{model.__name__.removesuffix('Public')}Page"
    return type(name, (Paged[model],), {"__module__": model.__module__, "__doc__": Paged.__doc__})  # type: ignore[valid-type]


class Window(Generic[T]):
    """What a use case hands back for a list: a page of rows (FastAPI reads it as `Paged`)."""

    __slots__ = ("items", "total", "next_cursor")

    def __init__(self, items: list[T], total: int, next_cursor: str | None) -> None:
        self.items = items
        self.total = total
        self.next_cursor = next_cursor

    def map(self, f: Callable[[T], U]) -> Window[U]:
        return Window([f(item) for item in self.items], self.total, self.next_cursor)


def _encode(values: Sequence[Any]) -> str:
    plain = [v.isoformat() if isinstance(v, date | datetime) else v for v in values]
    raw = json.dumps(plain, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _python_type(column: Any) -> type:
    kind = column.type
    if isinstance(kind, TypeDecorator):  # e.g. SQLModel's UTCDateTime: its impl knows
        kind = kind.impl_instance
    return kind.python_type  # type: ignore[no-any-return]


def _decode(cursor: str, key: Sequence[Any]) -> list[Any]:
    """The sort key a cursor holds, typed like the key's columns; 404 for a cursor this list
    did not give (mangled, or another list's: a reference to a page that does not exist)."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
        if not isinstance(values, list) or len(values) != len(key):
            raise ValueError
        typed = []
        for column, value in zip(key, values, strict=True):
            kind = _python_type(column)
            if kind is datetime:
                value = as_utc(datetime.fromisoformat(value))
            elif kind is date:
                value = date.fromisoformat(value)
            elif kind is float and isinstance(value, int) and not isinstance(value, bool):
                value = float(value)
            elif not isinstance(value, kind) or isinstance(value, bool) != (kind is bool):
                raise ValueError
            if isinstance(value, str) and "\x00" in value:  # PostgreSQL would refuse it
                raise ValueError
            typed.append(value)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise Unknown(
            "no page at this cursor: pass a next_cursor as this list gave it",
            field="cursor",
            at="query",
        ) from None
    return typed


def _after(key: Sequence[Any], values: Sequence[Any]) -> Any:
    """Rows after `values` in the ascending order of `key` (a row-value comparison, spelt out
    so each bound value takes its column's type)."""
    terms = []
    for i, column in enumerate(key):
        equal = [key[j] == values[j] for j in range(i)]
        terms.append(and_(*equal, column > values[i]))
    return or_(*terms)


async def page_of(session: AsyncSession, query: Any, page: PageParams, *key: Any) -> Window[Any]:
    """A page of `query`'s rows in the ascending order of `key` (columns ending with a unique
    one, so the order is total) and the list's total, read in one statement (one snapshot:
    a row written meanwhile is in both or in neither)."""
    total = select(func.count()).select_from(query.subquery()).scalar_subquery()
    rows = query.add_columns(total.label("total"))
    if page.cursor is not None:
        rows = rows.where(_after(key, _decode(page.cursor, key)))
    # SQLAlchemy's own execute: rows of (entity, total), where SQLModel's exec would keep
    # the first column only.
    statement = rows.order_by(*key).limit(page.limit + 1)
    found = list((await SAAsyncSession.execute(session, statement)).all())
    if found:
        count = found[0][1]
    else:  # past the last row: the count alone
        count = await session.scalar(select(func.count()).select_from(query.subquery()))
    items = [row[0] for row in found[: page.limit]]
    more = len(found) > page.limit
    cursor = _encode([getattr(items[-1], column.key) for column in key]) if more else None
    return Window(items, int(count or 0), cursor)
