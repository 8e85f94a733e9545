"""HTTP conventions every service shares: ids, timestamps, pagination, how bodies are read."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, TypeVar

import orjson
from fastapi import APIRouter, Depends, Query, Response
from fastapi import Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    ValidationError,
    create_model,
)
from pydantic import Field as PydanticField
from sqlmodel._compat import SQLModelConfig

from shared.errors import Invalid

M = TypeVar("M", bound=BaseModel)


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


def patch_model(
    model: type[BaseModel],
    *,
    name: str,
    exclude: frozenset[str] = frozenset(),
    partial: Mapping[str, type[BaseModel]] | None = None,
) -> type[BaseModel]:
    """A PATCH body derived from `model`: each of its fields optional (absent: unchanged),
    unknown ones refused. `partial` names nested fields that are patched field by field too
    (their own patch model). The constraints stay `model`'s: the use case validates the
    merged whole with it (one home for the rules)."""
    fields: dict[str, Any] = {}
    for field, info in model.model_fields.items():
        if field in exclude:
            continue
        annotation: Any = (partial or {}).get(field) or info.annotation
        fields[field] = (
            annotation | None,
            PydanticField(default=None, description=info.description),
        )
    return create_model(name, __config__=ConfigDict(extra="forbid"), **fields)


def merge_patch(current: BaseModel, patch: BaseModel, model: type[M]) -> M:
    """`current` with the fields `patch` sets (nested partial patches merged the same way),
    validated by `model`; a rule broken answers 422 naming the field."""
    values = {f: getattr(current, f) for f in model.model_fields if hasattr(current, f)}
    for field, value in patch.model_dump(exclude_unset=True).items():
        before = values.get(field)
        if isinstance(value, dict) and isinstance(before, BaseModel):
            value = before.model_dump() | value
        values[field] = value
    try:
        return model.model_validate(values)
    except ValidationError as exc:
        error = exc.errors()[0]
        raise Invalid(error["msg"], field=".".join(str(p) for p in error["loc"])) from exc


# --- reading bodies -------------------------------------------------------------------------


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


class _StrictJSONRequest(HTTPRequest):
    """A request whose JSON body is read by orjson: strict RFC 8259, so NaN, Infinity, numbers
    that overflow a double and lone surrogates are a decode error (422), never a value that
    later fails to encode or store (a 500); NUL characters are refused too (PostgreSQL cannot
    store them)."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            value = orjson.loads(body)  # its JSONDecodeError is json's: FastAPI answers 422
            if _has_nul(value):
                raise json.JSONDecodeError("NUL characters are not accepted", body.decode(), 0)
            self._json = value
        return self._json


class StrictJSONRoute(APIRoute):
    """The services' routes: bodies read strictly (above), and a NUL character in the path or
    the query refused with a 422 before any work."""

    def get_route_handler(self) -> Callable[[HTTPRequest], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: HTTPRequest) -> Response:
            if "\x00" in request.url.path or "%00" in request.url.query:
                raise RequestValidationError(
                    [
                        {
                            "type": "value_error",
                            "loc": ("path",),
                            "msg": "NUL characters are not accepted",
                        }
                    ]
                )
            return await handler(_StrictJSONRequest(request.scope, request.receive))

        return strict


def v1_router() -> APIRouter:
    """A service's `/v1` router, with the strict routes."""
    return APIRouter(prefix="/v1", route_class=StrictJSONRoute)


# --- bounded values -------------------------------------------------------------------------

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def _sane(value: datetime) -> datetime:
    if not EARLIEST <= value <= LATEST:
        raise ValueError(f"a time between {EARLIEST.year} and {LATEST.year} is expected")
    return value


# A moment in a request: with its UTC offset, within a sane range (a far-off date would
# overflow once converted to UTC).
Instant = Annotated[AwareDatetime, AfterValidator(_sane)]
