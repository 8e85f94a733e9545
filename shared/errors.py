"""Errors the domains raise, free of I/O and of HTTP (shared/http_errors.py translates them).

Each carries the status a caller should see: 404 unknown, 409 forbidden state change, 403 wrong
actor, 422 invalid reference (naming the field).
"""

from __future__ import annotations


class DomainError(Exception):
    status_code = 400

    def __init__(self, message: str, *, field: str | None = None, at: str = "body") -> None:
        """`field`: the dotted path of the input at fault; `at`: where it was sent (`body`,
        `query` or `path`), the first part of a 422's `loc`."""
        super().__init__(message)
        self.message = message
        self.field = field
        self.at = at


class NotFound(DomainError):
    status_code = 404


class Unknown(NotFound):
    """A reference in the request (`body.program_id`) to something that does not exist, or
    that the caller may not see (the same answer): 404, naming the field."""


class Conflict(DomainError):
    status_code = 409


class Forbidden(DomainError):
    status_code = 403


class PreconditionFailed(DomainError):
    """A write's `If-Match` no longer names the resource's current version (shared.conditional):
    412, nothing changed."""

    status_code = 412


class Invalid(DomainError):
    """A well-formed request the rules refuse (e.g. a mentor asked as a mentee): 422, naming
    the field."""

    status_code = 422


class Refused(Invalid):
    """A batch refused as a whole (all or nothing) because of some of its items: 422 listing
    each item's error, its `loc` naming the item (`participants.3.employee_id`) and its
    `type` what a request of that item alone would have met (`not_found`, `conflict`...)."""

    def __init__(self, message: str, errors: list[tuple[str, str, str]]) -> None:
        super().__init__(message)
        self.errors = errors  # (dotted field, message, type)
