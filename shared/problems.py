"""Every error answer of Binôme is one shape: an RFC 9457 problem (`application/problem+json`).

    {"type": "about:blank", "title": "Conflict", "status": 409,
     "detail": "cannot rate a session that is scheduled", "instance": "/v1/feedback"}

A 422 names each faulty input in `errors` (FastAPI's field errors: `loc`, `msg`, `type`, and
a short excerpt of the `input`), its `detail` summing them up. A 503 and a 429 carry
`Retry-After`; a 401 carries `WWW-Authenticate`; a 405 carries `Allow`.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

MEDIA_TYPE = "application/problem+json"


def problem(status: int, detail: str, *, instance: str | None = None, **extra: Any) -> dict:
    """The body of an error answer."""
    body: dict[str, Any] = {
        "type": "about:blank",
        "title": HTTPStatus(status).phrase,
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    body.update(extra)
    return body


def summary(errors: list[dict[str, Any]]) -> str:
    """A 422's `detail`: its first faulty input in words, and how many more there are."""
    if not errors:
        return "the request is invalid"
    first = errors[0]
    where = ".".join(str(x) for x in first.get("loc", ()))
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first.get('msg', 'invalid')}{more}"


class FieldError(BaseModel):
    """One faulty input of a 422."""

    loc: list[str | int] = Field(description="Where: `body`, `query` or `path`, then the field.")
    msg: str = Field(description="What is wrong, in words.")
    type: str = Field(description="The kind of error (pydantic's error types).")
    input: Any = Field(default=None, description="What was sent (shortened when large).")
    ctx: dict[str, str] | None = Field(default=None, description="The rule's parameters.")


class Problem(BaseModel):
    """An error answer (RFC 9457)."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": "about:blank",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "cannot rate a session that is scheduled",
                    "instance": "/v1/feedback",
                }
            ]
        }
    )

    type: str = Field(default="about:blank", description="A URI naming the kind of problem.")
    title: str = Field(description="The status code's phrase.")
    status: int = Field(description="The HTTP status code.")
    detail: str = Field(description="What went wrong with this request, in words.")
    instance: str | None = Field(default=None, description="The path requested.")
    errors: list[FieldError] | None = Field(
        default=None, description="422 only: each faulty input (at most 20)."
    )


# The error answers every /v1 operation may give, documented on each (shared.api.v1_router).
_WHY = {
    401: "No valid bearer token (missing, expired, forged), or the employee's access ended.",
    403: "The token's role or employee may not do this.",
    404: "No such resource, or not one the caller may see.",
    409: "The resource's state does not allow this now.",
    413: "The body is larger than the limit.",
    422: "An input is invalid: `errors` names each one.",
    429: "Too many requests from this token or address: see `Retry-After`.",
    503: "A dependency (the database) is away: nothing was changed; retry after `Retry-After`.",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    code: {
        "model": Problem,  # puts the schema in the document's components
        "description": why,
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
    for code, why in _WHY.items()
}


# Documented on the writes that take `If-Match` (shared.conditional).
PRECONDITION_RESPONSES: dict[int | str, dict[str, Any]] = {
    412: {
        "model": Problem,
        "description": "`If-Match` names another version than the current one: nothing "
        "changed; `detail` gives the current `ETag`.",
        "content": {MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }
}


def only_problem_media_type(openapi: dict[str, Any]) -> dict[str, Any]:
    """Error answers are `application/problem+json` only (FastAPI also lists the route's
    `application/json` for a response with a model)."""
    for path in openapi.get("paths", {}).values():
        for operation in path.values():
            for code, response in operation.get("responses", {}).items():
                content = response.get("content", {})
                if code[0] in "45" and MEDIA_TYPE in content:
                    response["content"] = {MEDIA_TYPE: content[MEDIA_TYPE]}
    return openapi
