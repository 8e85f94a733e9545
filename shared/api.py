"""HTTP conventions every service shares: ids, timestamps, pagination."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated

from fastapi import Depends, Query
from pydantic import BaseModel
from sqlmodel._compat import SQLModelConfig


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything Binôme stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


class PageParams(BaseModel):
    limit: int
    offset: int


def _page(
    limit: Annotated[int, Query(ge=1, le=500, description="Page size")] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000_000, description="Rows to skip")] = 0,
) -> PageParams:
    return PageParams(limit=limit, offset=offset)


Page = Annotated[PageParams, Depends(_page)]


# Request bodies reject what they do not know, with a 422 naming it: a mistyped or
# unsupported field would otherwise be dropped silently (the caller believing it saved).
STRICT = SQLModelConfig(extra="forbid")  # a ConfigDict that SQLModel classes accept too


class Request(BaseModel):
    """Base of the request bodies that are plain models (the tables' `*Create` families set
    `model_config = STRICT` themselves)."""

    model_config = STRICT
