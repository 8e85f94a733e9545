"""A SCIM user and a directory record read from each other (services/enrollment/scim/mapping.py)
and SCIM filters as SQL (filters.py), without a server."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from scim2_models import Context, ScimFilter
from sqlalchemy.dialects import postgresql

from services.enrollment.models import Employee
from services.enrollment.scim import filters
from services.enrollment.scim.mapping import ENTERPRISE, ScimUser, record_of, user_of

CORE = "urn:ietf:params:scim:schemas:core:2.0:User"


def _user(**attributes: Any) -> ScimUser:
    body = {"schemas": [CORE, ENTERPRISE], "userName": "Ada@Acme.com", **attributes}
    return ScimUser.model_validate(body, scim_ctx=Context.RESOURCE_CREATION_REQUEST)


@dataclass
class Row:
    id: str = "e1"
    name: str = "Ada Lovelace"
    email: str | None = "ada@acme.com"
    department: str | None = None
    manager_id: str | None = None
    timezone: str | None = None
    user_name: str | None = "Ada@Acme.com"
    external_id: str | None = None
    scim: dict[str, Any] | None = field(default_factory=dict)
    created_at: datetime = datetime(2026, 1, 1, tzinfo=UTC)
    updated_at: datetime = datetime(2026, 1, 2, tzinfo=UTC)
    active: bool = True


def test_the_directory_name_is_the_display_name_else_the_name_else_the_user_name() -> None:
    assert record_of(_user(displayName="Ada", name={"formatted": "A. L."})).name == "Ada"
    assert record_of(_user(name={"formatted": "A. L.", "givenName": "X"})).name == "A. L."
    assert record_of(_user(name={"givenName": "Ada", "familyName": "Lovelace"})).name == (
        "Ada Lovelace"
    )
    assert record_of(_user()).name == "Ada@Acme.com"


def test_the_directory_email_is_the_primary_else_the_first_work_one_else_the_first() -> None:
    home, work = {"value": "h@acme.com", "type": "home"}, {"value": "w@acme.com", "type": "work"}
    assert record_of(_user(emails=[home, work])).email == "w@acme.com"
    primary = {"value": "p@acme.com", "primary": True}
    assert record_of(_user(emails=[home, work, primary])).email == "p@acme.com"
    assert record_of(_user(emails=[home])).email == "h@acme.com"
    assert record_of(_user()).email is None


def test_what_the_directory_does_not_take_is_kept_as_sent_but_a_password() -> None:
    record = record_of(_user(timezone="Mars/Olympus", password="s3cret", title="Countess"))
    assert record.timezone is None  # not a zone the tz database knows: scheduling ignores it
    assert record.kept["timezone"] == "Mars/Olympus" and record.kept["title"] == "Countess"
    assert "password" not in record.kept
    assert record.active is True  # absent: active (RFC 7643 §4.1.1)
    assert record_of(_user(active=False)).active is False
    assert record.user_name_key == "ada@acme.com"


def test_a_user_reads_as_kept_overlaid_with_what_the_directory_changed_since() -> None:
    kept = record_of(
        _user(
            name={"givenName": "Ada", "familyName": "Lovelace", "formatted": "Ada Lovelace"},
            emails=[{"value": "ada@acme.com", "type": "work", "primary": True}],
            phoneNumbers=[{"value": "+33 1", "type": "work"}],
            timezone="Mars/Olympus",
            **{ENTERPRISE: {"department": "R&D"}},
        )
    ).kept
    same = user_of(Row(scim=kept, department="R&D"))
    assert same["name"] == kept["name"] and same["timezone"] == "Mars/Olympus"
    assert "active" not in same and same[ENTERPRISE] == {"department": "R&D"}
    # An HRIS push renamed her, moved her, changed her email and ended her contract.
    moved = user_of(
        Row(scim=kept, name="Ada King", email="ada.king@acme.com", department="Ops", active=False)
    )
    assert (moved["displayName"], moved["name"]["formatted"]) == ("Ada King", "Ada King")
    assert moved["emails"] == [{"value": "ada.king@acme.com", "type": "work", "primary": True}]
    assert moved[ENTERPRISE] == {"department": "Ops"} and moved["active"] is False
    assert moved["phoneNumbers"] == kept["phoneNumbers"]
    assert moved["meta"]["version"] != same["meta"]["version"]
    assert user_of(Row(scim=kept, department="R&D"))["meta"]["version"] == same["meta"]["version"]
    # An employee the HRIS created reads as a user named by their email (else their id).
    hris = user_of(Row(user_name=None, scim=None, manager_id="boss"))
    assert hris["userName"] == "ada@acme.com" and hris["displayName"] == "Ada Lovelace"
    assert hris[ENTERPRISE]["manager"] == {"value": "boss", "$ref": "Users/boss"}
    assert user_of(Row(user_name=None, email=None, scim=None))["userName"] == "e1"


def _sql(text: str) -> str | None:
    table = filters.columns(Employee, terminated="terminated")
    where = filters.translate(ScimFilter[ScimUser](text), table)
    if where is None:
        return None
    return str(where.compile(dialect=postgresql.dialect(), compile_kwargs={"literal_binds": True}))


def test_filters_on_columns_become_sql_and_the_others_are_left_to_each_user() -> None:
    assert _sql('userName eq "Ada@ACME.com"') == "employee.login_key = 'ada@acme.com'"
    assert _sql('externalId eq "X1"') == "employee.external_id = 'X1'"
    assert _sql(f'{ENTERPRISE}:department co "50%_off"') == (
        r"lower(employee.department) LIKE '%%50\\%%\\_off%%' ESCAPE '\\'"
    )
    assert _sql("active eq false") == "employee.status = 'terminated'"
    assert _sql('not (displayName sw "a") or id eq "e1"') == (
        r"lower(employee.name) NOT LIKE 'a%%' ESCAPE '\\' OR employee.id = 'e1'"
    )
    assert _sql('title eq "Countess"') is None  # kept as sent: evaluated on each user
    assert _sql('emails[type eq "work"]') is None
