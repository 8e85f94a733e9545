"""A SCIM user and a directory record, each read from the other (pure: no I/O).

The directory holds what Binôme uses (name, email, department, manager, time zone, status);
a SCIM user carries more (name parts, phone numbers, addresses...). The identity provider's
attributes are kept as it sent them, and a user is read back as them overlaid with the
directory's values: what an HRIS push changed since shows, and what the directory never held
reads back unchanged.
"""

from __future__ import annotations

import copy
import hashlib
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Protocol

import orjson
from pydantic import Field, model_validator
from scim2_models import (
    CaseExact,
    ComplexAttribute,
    Context,
    EnterpriseUser,
    Mutability,
    Reference,
    Required,
    User,
)

from services.enrollment.domain import fold, is_timezone


class Manager(ComplexAttribute):
    """The enterprise extension's manager, as identity providers send it: Okta without the
    `$ref` RFC 7643 §8.7.2 requires, Microsoft Entra as a bare id ("value" of a PATCH)."""

    value: Annotated[str | None, Required.false, CaseExact.true] = None
    ref: Annotated[Reference[User] | None, Required.false] = Field(  # type: ignore[type-arg]
        None, serialization_alias="$ref", validation_alias="$ref"
    )
    display_name: Annotated[str | None, Mutability.read_only] = None

    @model_validator(mode="before")
    @classmethod
    def _bare_id(cls, data: Any) -> Any:
        return {"value": data} if isinstance(data, str) else data


class Enterprise(EnterpriseUser):
    manager: Manager | None = None  # type: ignore[assignment]


# The one resource type served: a User with the enterprise extension (department, manager).
ScimUser = User[Enterprise]
CORE = str(User.__schema__)
ENTERPRISE = str(EnterpriseUser.__schema__)

# Attributes never stored: the server's own (id, meta), and a password (Binôme signs no one
# in with one; RFC 7643 §7: returned "never").
_NOT_KEPT = ("id", "meta", "password")


class DirectoryRow(Protocol):
    """An employee row as SCIM reads it (services.enrollment.models.Employee)."""

    id: str
    name: str
    email: str | None
    department: str | None
    manager_id: str | None
    timezone: str | None
    user_name: str | None
    external_id: str | None
    scim: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime

    @property
    def active(self) -> bool: ...


@dataclass(frozen=True)
class Record:
    """What a SCIM user writes to the directory."""

    user_name: str
    external_id: str | None
    name: str
    email: str | None
    department: str | None
    manager_id: str | None
    timezone: str | None
    active: bool
    kept: dict[str, Any]  # the user as sent, without what is never stored

    @property
    def user_name_key(self) -> str:
        return fold(self.user_name)

    def profile(self) -> dict[str, Any]:
        """The directory's fields it sets (the rest of the employee's record is kept)."""
        return {
            "name": self.name,
            "email": self.email,
            "department": self.department,
            "manager_id": self.manager_id,
            "timezone": self.timezone,
        }


def _name_of(data: dict[str, Any], user_name: str) -> str:
    name = data.get("name") or {}
    parts = [name.get(k) for k in ("givenName", "middleName", "familyName")]
    joined = " ".join(p for p in parts if p)
    return data.get("displayName") or name.get("formatted") or joined or user_name


def _email_index(emails: list[dict[str, Any]]) -> int | None:
    """The directory's email among a user's: the primary one, else the first work one, else
    the first."""
    for test in (
        lambda e: e.get("primary"),
        lambda e: e.get("type") == "work",
        lambda e: True,
    ):
        for i, entry in enumerate(emails):
            if entry.get("value") and test(entry):
                return i
    return None


def _dump(user: ScimUser) -> dict[str, Any]:
    data: dict[str, Any] = user.model_dump(scim_ctx=Context.DEFAULT)
    for name in _NOT_KEPT:
        data.pop(name, None)
    return data


def _directory_fields(data: dict[str, Any], user_name: str) -> dict[str, Any]:
    """The directory's fields a user's attributes (as kept) give. A time zone the tz
    database does not know is kept as sent but gives none: scheduling ignores it rather than
    provisioning refusing the user."""
    emails = data.get("emails") or []
    at = _email_index(emails)
    extension = data.get(ENTERPRISE) or {}
    manager = extension.get("manager") or {}
    timezone = data.get("timezone")
    return {
        "name": _name_of(data, user_name).strip()[:200] or user_name[:200],
        "email": None if at is None else emails[at]["value"],
        "department": extension.get("department"),
        "manager_id": manager.get("value"),
        "timezone": timezone if is_timezone(timezone) else None,
    }


def record_of(user: ScimUser) -> Record:
    """The directory record a user (as a POST, PUT or PATCH leaves it) writes."""
    data = _dump(user)
    if not user.user_name:
        raise ValueError("a user has a userName (RFC 7643 §4.1.1)")
    return Record(
        user_name=user.user_name,
        external_id=user.external_id,
        active=user.active is not False,  # RFC 7643 §4.1.1: a user is active unless told
        kept=data,
        **_directory_fields(data, user.user_name),
    )


def user_of(row: DirectoryRow) -> dict[str, Any]:
    """The user an employee row reads as (JSON, without `meta.location`, which the server
    adds): the attributes kept as sent, where the directory's values differ from what they
    give (an HRIS push changed them since) overlaid with those."""
    data = copy.deepcopy(row.scim or {})
    data["schemas"] = [CORE, ENTERPRISE]
    data["id"] = row.id
    data["userName"] = row.user_name or row.email or row.id
    _put(data, "externalId", row.external_id)
    given = _directory_fields(data, data["userName"])
    if given["name"] != row.name:
        data["displayName"] = row.name
        if isinstance(data.get("name"), dict):
            data["name"]["formatted"] = row.name
    if given["email"] != row.email:
        emails = data.get("emails") or []
        at = _email_index(emails)
        if row.email is None:
            emails.pop(at)  # type: ignore[arg-type]
        elif at is None:
            emails.insert(0, {"value": row.email, "type": "work", "primary": True})
        else:
            emails[at]["value"] = row.email
        _put(data, "emails", emails or None)
    if given["timezone"] != row.timezone:
        _put(data, "timezone", row.timezone)
    if (data.get("active") is not False) != row.active:  # absent reads as active
        data["active"] = row.active
    extension = data.get(ENTERPRISE) or {}
    if given["department"] != row.department:
        _put(extension, "department", row.department)
    if given["manager_id"] != row.manager_id:
        manager = {"value": row.manager_id, "$ref": f"Users/{row.manager_id}"}
        _put(extension, "manager", manager if row.manager_id else None)
    _put(data, ENTERPRISE, extension or None)
    if ENTERPRISE not in data:
        data["schemas"] = [CORE]
    data["meta"] = {
        "resourceType": "User",
        "created": row.created_at.isoformat(),
        "lastModified": row.updated_at.isoformat(),
        "version": version_of(data),
    }
    return data


def version_of(data: dict[str, Any]) -> str:
    """A weak entity tag that changes whenever what the user reads as changes."""
    body = {k: v for k, v in data.items() if k != "meta"}
    digest = hashlib.sha256(orjson.dumps(body, option=orjson.OPT_SORT_KEYS)).hexdigest()
    return f'W/"{digest[:20]}"'


def _put(data: dict[str, Any], key: str, value: Any) -> None:
    if value is None:
        data.pop(key, None)
    else:
        data[key] = value
