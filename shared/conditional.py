"""Conditional requests (RFC 9110, section 13): entity tags on every JSON answer.

- Every 200 or 201 JSON answer of a `/v1` route carries an `ETag`: a digest of its content.
- A GET sent with `If-None-Match` naming the current tag is answered 304, with no body: a
  client polling a programme, a relationship or a report downloads only what changed.
- A write sent with `If-Match` is made only if the resource is still as the caller last saw
  it; otherwise it is answered 412, naming the current tag, and nothing changes. Two admins
  editing one programme: the second's change no longer silently undoes the first's. Without
  `If-Match`, a write is made as before (last writer wins).

The tag is a digest of the JSON content with its keys sorted, not of the bytes sent. So a use
case can compute the tag of a resource's current representation (the model its GET answers
with, `check_if_match`) inside the write's transaction, after reading the row for update: the
check and the write are one step, and no other writer can slip in between.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Callable
from typing import Annotated, Any

import orjson
from fastapi import Header
from pydantic import BaseModel
from starlette.requests import Request
from starlette.responses import Response

from shared.errors import Invalid, PreconditionFailed

# One entity tag of a list (`"x"`, `W/"x"`), or `*` alone.
_TAG = re.compile(r'\s*(\*|(?:W/)?"[\x21\x23-\x7e\x80-\xff]*")\s*(?:,|$)')
_ONE = r'(W/)?"[\x21\x23-\x7e]*"'
_TAGGED = (200, 201)
IfMatch = Annotated[
    str | None,
    Header(  # described in shared.vocabulary
        alias="If-Match",
        max_length=2_000,
        pattern=rf"^[ \t]*(\*|{_ONE}([ \t]*,[ \t]*{_ONE})*)[ \t]*$",
    ),
]


def etag(content: Any) -> str:
    """The tag of a JSON value: a digest of it, its keys sorted (strong: two answers with the
    same tag have the same content)."""
    digest = hashlib.sha256(orjson.dumps(content, option=orjson.OPT_SORT_KEYS)).digest()
    return '"' + base64.urlsafe_b64encode(digest[:18]).decode() + '"'


def _tags(header: str, name: str) -> list[str]:
    """The entity tags of an `If-Match` or `If-None-Match` header (422 if it is not a list of
    them, or `*`)."""
    tags, at = [], 0
    while at < len(header):
        found = _TAG.match(header, at)
        if found is None or found.end() == at:
            raise Invalid(
                f'{name}: expected "*" or a list of quoted entity tags, such as "{name}: '
                f'\\"abc\\"" (got {header[:80]!r})',
                field=name,
                at="header",
            )
        tags.append(found.group(1))
        at = found.end()
    if "*" in tags and len(tags) > 1:
        raise Invalid(f'{name}: "*" stands alone', field=name, at="header")
    return tags


def check_if_match(if_match: str | None, shown: Callable[[], BaseModel] | None, what: str) -> None:
    """A write's precondition, checked on the resource read for update. `shown`: the resource
    as its GET answers it (None: there is none yet). Without `If-Match`, nothing to check;
    `*`, the resource must exist; else its current tag must be one of those given (strong
    comparison: a weak tag never matches). Otherwise 412, and nothing changes."""
    if if_match is None:
        return
    tags = _tags(if_match, "If-Match")
    if shown is None:
        raise PreconditionFailed(f"If-Match: there is no {what} yet", field="If-Match", at="header")
    if tags == ["*"]:
        return
    current_tag = etag(shown().model_dump(mode="json", by_alias=True))
    if current_tag not in tags:
        raise PreconditionFailed(
            f"the {what} has changed since the version you sent in If-Match ({if_match[:200]}); "
            f"its current ETag is {current_tag}: read it again, then resend your change",
            field="If-Match",
            at="header",
        )


def tagged(request: Request, response: Response) -> Response:
    """A route's answer with its `ETag` (a 200 or 201 JSON answer), or 304 for a GET whose
    `If-None-Match` names it (weak comparison, as RFC 9110 has it for GETs)."""
    body = getattr(response, "body", None)  # a streamed answer has none: left untagged
    if (
        response.status_code not in _TAGGED
        or not body
        or not response.headers.get("content-type", "").startswith("application/json")
    ):
        return response
    tag = etag(orjson.loads(body))
    response.headers["etag"] = tag
    none_match = request.headers.get("if-none-match")
    if request.method in ("GET", "HEAD") and none_match is not None:
        tags = _tags(none_match, "If-None-Match")
        if "*" in tags or tag in (t.removeprefix("W/") for t in tags):
            kept = {k: v for k, v in response.headers.items() if k in ("etag", "cache-control")}
            return Response(status_code=304, headers=kept)
    return response
