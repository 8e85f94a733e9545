"""HTTP conventions every service shares: ids, timestamps, how bodies are read (lists: paging)."""

from __future__ import annotations

import copy
import inspect
import json
import re
import uuid
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, date, datetime
from typing import Annotated, Any, TypeVar

import orjson
from annotated_types import BaseMetadata
from fastapi import APIRouter, HTTPException, Path, Response
from fastapi import Request as HTTPRequest
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    TypeAdapter,
    ValidationError,
    create_model,
)
from pydantic import Field as PydanticField
from pydantic_core import PydanticCustomError, SchemaValidator, core_schema
from sqlmodel._compat import SQLModelConfig

from shared.auth import Principal, authorize
from shared.conditional import tagged
from shared.errors import Invalid
from shared.permissions import roles_for
from shared.problems import ERROR_RESPONSES
from shared.revocations import is_revoked

M = TypeVar("M", bound=BaseModel)


NUL_REFUSED = "NUL characters are not accepted"
NO_NUL = "^[^\\x00]*$"  # the rule as a schema pattern


def no_nul_stated(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document stating the rule on every free string, the URL's parameters and
    the schemas' (one that has a pattern, a format or fixed values excludes NUL already)."""

    def walk(node: Any) -> None:
        if isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            free = not {"pattern", "format", "enum", "const"} & node.keys()
            if node.get("type") == "string" and free:
                node["pattern"] = NO_NUL
            for key, value in node.items():
                if key not in ("examples", "example", "default"):
                    walk(value)

    for operations in document.get("paths", {}).values():
        for operation in operations.values():
            walk([p.get("schema") for p in operation.get("parameters", [])])
    walk(document.get("components", {}).get("schemas", {}))
    return document


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> datetime:
    return datetime.now(UTC)


# The years a time or a day sent may name (the schemas say so with YEARS, a pattern).
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
YEARS = "^(19[7-9][0-9]|2[01][0-9]{2})"


def _sane_year(year: int) -> bool:
    if not EARLIEST.year <= year < LATEST.year:
        raise ValueError(f"a year from {EARLIEST.year} to {LATEST.year - 1} is expected")
    return True


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; everything Binôme stores is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


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
        patched: Any = PydanticField(
            default=None,
            description=info.description,
            json_schema_extra=info.json_schema_extra,
        )
        if field not in (partial or {}):  # its bounds (lengths, ranges), stated and checked
            patched.metadata = [m for m in info.metadata if isinstance(m, BaseMetadata)]
        fields[field] = (annotation | None, patched)
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
                raise json.JSONDecodeError(NUL_REFUSED, body.decode(), 0)
            self._json = value
        return self._json


# The longest id a path may carry (ours are UUIDs, 36; an HRIS employee id up to 100).
PATH_ID_MAX = 100


def _bound_path_ids(path: str, endpoint: Callable[..., Any]) -> None:
    """A path parameter declared as a plain `str` gets the id bound (422 beyond it, stated in
    the OpenAPI document); one declaring its own rules keeps them."""
    names = set(re.findall(r"{(\w+)(?::\w+)?}", path))
    signature = inspect.signature(endpoint)
    parameters = [
        p.replace(annotation=Annotated[str, Path(max_length=PATH_ID_MAX)])
        if p.name in names and p.annotation in (str, "str")
        else p
        for p in signature.parameters.values()
    ]
    endpoint.__signature__ = signature.replace(parameters=parameters)  # type: ignore[attr-defined]


class StrictJSONRoute(APIRoute):
    """The services' routes, in this order before any work:
    - a NUL character in the path or the query is refused (422);
    - the caller is authorised by shared.permissions' table (401 / 403), before the body is
      read: a forbidden caller learns nothing from a body's validation;
    - a JSON body is read strictly (above) and validated in pydantic's strict JSON mode: no
      coercion (`"yes"` is not a boolean, `"3"` not a number, `0` not a time), while ISO 8601
      strings remain the times, dates and durations they stand for."""

    SERVICE = ""  # the service owning the route (its runtime holds the revocations)

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        _bound_path_ids(path, endpoint)
        super().__init__(path, endpoint, **kwargs)
        allowed = {roles_for(method, self.path) for method in self.methods or ()}
        if len(allowed) != 1:
            raise LookupError(f"{self.path}: one route, one permission entry")
        self.allowed = allowed.pop()
        self.strict_body: SchemaValidator | None = None
        if self.body_field is not None and not self._embed_body_fields:
            info = self.body_field.field_info
            self.strict_body = strict_validator(Annotated[info.annotation, info])

    def get_route_handler(self) -> Callable[[HTTPRequest], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def strict(request: HTTPRequest) -> Response:
            for part, text in (("path", request.url.path), ("query", request.url.query)):
                if "\x00" in text or "%00" in text:
                    raise RequestValidationError(
                        [{"type": "value_error", "loc": (part,), "msg": NUL_REFUSED}]
                    )
            request = _StrictJSONRequest(request.scope, request.receive)
            if self.allowed:
                principal = await authorize(request, self.allowed)
                if principal.employee_id is not None:
                    await self._refuse_revoked(request, principal)
            if self.strict_body is not None and _is_json(request):
                await self._validate_body(request)
            return tagged(request, await handler(request))

        return strict

    async def _refuse_revoked(self, request: HTTPRequest, principal: Principal) -> None:
        """A terminated employee's token is refused at once (shared.revocations)."""
        runtime = request.app.state.runtimes[self.SERVICE]
        assert principal.employee_id is not None
        if await is_revoked(runtime.engine, org=principal.org, employee_id=principal.employee_id):
            raise HTTPException(
                status_code=401,
                detail="this employee's access has ended",
                headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )

    async def _validate_body(self, request: _StrictJSONRequest) -> None:
        """The body parsed strictly and its values checked without coercion."""
        assert self.strict_body is not None
        body = await request.body()
        if not body:
            return  # FastAPI answers for a missing body (the field's default, or 422)
        try:
            await request.json()  # the strict parse: NaN, surrogates, NUL... -> 422
        except json.JSONDecodeError as exc:
            raise RequestValidationError(
                [
                    {
                        "type": "json_invalid",
                        "loc": ("body", exc.pos),
                        "msg": "JSON decode error",
                        "ctx": {"error": exc.msg},
                    }
                ]
            ) from exc
        try:
            self.strict_body.validate_json(body)  # a gate: FastAPI then builds the value
        except ValidationError as exc:
            raise RequestValidationError(
                [{**e, "loc": ("body", *e["loc"])} for e in exc.errors(include_url=False)]
            ) from exc


_SCALARS = frozenset({"bool", "int", "float", "str"})
_TIMES = frozenset({"datetime", "date", "time", "timedelta"})


def _json_integer(value: Any) -> Any:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise PydanticCustomError("int_type", "Input should be a valid integer")
    if isinstance(value, float) and not value.is_integer():
        raise PydanticCustomError(
            "int_from_float", "Input should be a valid integer, got a number with a fractional part"
        )
    return value


def _text_only(value: Any) -> Any:
    if isinstance(value, bool | int | float):
        raise ValueError("an ISO 8601 string is expected, not a number")
    return value


_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")


def _iso_day(value: Any) -> Any:
    if isinstance(value, str) and not _DAY.fullmatch(value):
        raise ValueError("a day as YYYY-MM-DD is expected")
    return value


# A day in a query (`?from=2030-03-01`): only its ISO form; pydantic would read `0` as a Unix
# time (1970-01-01). Its year in the sane range, which the schema states too.
QueryDay = Annotated[
    date,
    BeforeValidator(_iso_day),
    AfterValidator(lambda day: _sane_year(day.year) and day),
    PydanticField(json_schema_extra={"pattern": YEARS + r"-[0-9]{2}-[0-9]{2}$"}),
]


_UNBUILT: dict[type, type] = {}


def _unbuilt(cls: type) -> type:
    """A subclass of model `cls` that pydantic-core does not take as already built: it would
    otherwise reuse `cls`'s own (lenient) validator instead of the schema it is given."""
    if cls not in _UNBUILT:
        sub = type(cls.__name__, (cls,), {"__module__": cls.__module__})
        sub.__pydantic_complete__ = False  # type: ignore[attr-defined]
        _UNBUILT[cls] = sub
    return _UNBUILT[cls]


def strict_validator(annotation: Any) -> SchemaValidator:
    """A validator of `annotation` that coerces nothing: booleans, integers, numbers and
    strings must be sent as such (`"yes"` is no boolean, `"3"` no number, `3.5` no integer),
    times, dates and durations as ISO 8601 strings (never a number of seconds). Pydantic's
    own strict mode cannot serve: past a model's `before` validator it judges the values as
    Python objects and would refuse ISO strings too. Its result is not used: it checks."""
    schema = copy.deepcopy(TypeAdapter(annotation).core_schema)

    def tighten(node: Any) -> Any:
        if isinstance(node, list):
            return [tighten(item) for item in node]
        if not isinstance(node, dict):
            return node
        node = {key: tighten(value) for key, value in node.items()}
        kind = node.get("type") if isinstance(node.get("type"), str) else None
        if kind == "model":
            node["custom_init"] = False  # a SQLModel's __init__ would validate leniently
            node["cls"] = _unbuilt(node["cls"])
        elif kind == "int":  # JSON's integer: 40.0 is 40 (as JSON Schema reads it), "40" no
            return core_schema.no_info_before_validator_function(_json_integer, node)
        elif kind in _SCALARS:
            node["strict"] = True
        elif kind in _TIMES:
            return core_schema.no_info_before_validator_function(_text_only, node)
        return node

    return SchemaValidator(tighten(schema))


def _is_json(request: HTTPRequest) -> bool:
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def v1_router(service: str) -> APIRouter:
    """`service`'s `/v1` router, with the strict routes."""

    class ServiceRoute(StrictJSONRoute):
        SERVICE = service

    return APIRouter(
        prefix="/v1",
        route_class=ServiceRoute,
        responses=ERROR_RESPONSES,  # every error answer documented, one problem shape
        generate_unique_id_function=_operation_id,
    )


def _operation_id(route: APIRoute) -> str:
    """The operation's name in generated clients: the handler's (`run_matching`,
    `get_employee`), unique across the API (a test holds every service to it)."""
    return route.name


# --- bounded values -------------------------------------------------------------------------


def _sane(value: datetime) -> datetime:
    _sane_year(value.year)
    return value


# A moment in a request: with its UTC offset, its year (as written) from 1970 to 2199, a rule
# the schema states with a pattern (a far-off date would overflow once converted to UTC).
Instant = Annotated[
    AwareDatetime,
    AfterValidator(_sane),
    PydanticField(json_schema_extra={"pattern": YEARS + "-"}),
]
