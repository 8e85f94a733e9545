"""A data subject's rights over one service's database: export everything it holds on an
employee, and erase it (GDPR articles 15 and 17).

Both walk the service's own tables (its metadata), so a table added later is covered without
a line here, by these conventions:

- **Where an employee is named**: a column named `employee_id`, `*_employee_id`, `manager_id`
  or `manager_chain`, the `id` of a table listed in `SUBJECT_TABLES` (the directory's own
  record), an outbox or archived event's `key`, or any value of a JSON column or JSON text (an
  event's payload, an explanation, a case's history, a webhook delivery's body).
- **What is personal in a record naming them**: the fields of `PERSONAL_FIELDS` (names,
  contact details, provisioning attributes, free text such as comments and notes), in a
  column or as a key of a JSON object that names them.

Erasure deletes the records that are only about the person (`SUBJECT_TABLES`: their
directory record, their calendar feeds, their HRIS receipts); their revocation keeps a one-way
digest of their id instead (`DIGESTED`: their tokens stay refused). In every
other record (reporting's view of them included: the retention figures keep counting them)
it replaces their id with a pseudonym (random, the same across services for one erasure, so
the figures and aggregates they were part of still add up) and blanks the personal fields
of the records about them. What remains says that someone took part, not who.

Rows belong to an organisation by their `org` column, or through a parent that has one
(`program_id`, `run_id`, `delivery_id`, `match_id`; an outbox row by its `ce_org` header): an
employee id is unique within an organisation only.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy import (
    JSON,
    Column,
    MetaData,
    String,
    Table,
    Text,
    cast,
    delete,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncConnection

from shared import revocations
from shared.contracts.enrollment import (
    ERASURE_CONFIRMERS,
    EmployeeErased,
    ErasureConfirmed,
    erasure_confirmed,
)
from shared.events import Event, EventData, contract_for
from shared.messaging.consumer import Handler
from shared.messaging.tables import ARCHIVE
from shared.timers import Timer, TimerHandler
from shared.uow import UnitOfWork

log = logging.getLogger(__name__)

ERASED = "[erased]"  # what a personal field reads after erasure

# Tables whose rows are each about one person (the column naming them): deleted on erasure.
SUBJECT_TABLES: Mapping[str, str] = {
    "employee": "id",  # the directory's record (reporting's `employee` view is kept, erased)
    "calendar_feed": "employee_id",
    "hris_event": "employee_id",
}
# Tables whose rows about the person keep a one-way digest of their id instead (their
# revocation: a token minted for them before the erasure is still refused).
DIGESTED: Mapping[str, str] = {revocations.TABLE: "employee_id"}
# The directory's own record names the employee by its `id`.
_ID_NAMES = {"employee": ("id",)}

# Columns (and JSON keys) holding what identifies or describes a person, blanked in a record
# naming the subject.
PERSONAL_FIELDS = frozenset(
    {
        "name",
        "email",
        "location",
        "user_name",
        "user_name_key",
        "login_key",
        "external_id",
        "scim",
        "comment",
        "text",
        "notes",
        "note",
        "message",
        "withdrawn_note",
        "decision_note",
        "override_note",
        "end_note",
        "decline_note",
        "cancel_note",
    }
)
# Never exported: credentials' digests.
_SECRET = re.compile(r"(sha256|secret|token)", re.IGNORECASE)
# A record with one of these naming the employee is about them (a party, an author...).
_ABOUT = re.compile(r"^(employee_id|.+_employee_id)$")
# These only point at them (another employee's manager): the id is replaced, nothing blanked.
_REFERENCES = frozenset({"manager_id", "manager_chain"})
# Parents through which a row without an `org` column belongs to an organisation.
_PARENTS = {
    "program_id": "program",
    "run_id": "matching_run",
    "delivery_id": "webhook_delivery",
    "match_id": "match",
}
# Not part of an export (what the services hold on them, not the events that told them).
MESSAGING = frozenset({"outbox", "inbox", "timer", ARCHIVE})
# Tables of events, keyed: a record's `key` may be an employee's id (an HRIS event's).
_EVENT_TABLES = frozenset({"outbox", ARCHIVE})


def _is_json(column: Column[Any]) -> bool:
    return isinstance(column.type, JSON) or (
        column.table.name == "outbox" and column.name in ("payload", "headers")
    )


def _is_text(column: Column[Any]) -> bool:
    kind = column.type
    return isinstance(kind, String) or isinstance(getattr(kind, "impl", None), String)


def _about_column(table: Table, column: Column[Any]) -> bool:
    """A column whose value, when it is the employee's id, makes the record about them."""
    if column.name in _ID_NAMES.get(table.name, ()):
        return True
    return _is_text(column) and bool(_ABOUT.match(column.name))


def _names_employee(table: Table, column: Column[Any]) -> bool:
    """A plain column that may hold an employee's id."""
    if _about_column(table, column):
        return True
    if table.name in _EVENT_TABLES and column.name == "key":
        return True
    return column.name in _REFERENCES and not _is_json(column)


# --- the pure part: a value, with the subject named or replaced -------------------------------


def mentions(value: Any, employee_id: str) -> bool:
    """Whether a value (a JSON document, a list, a string) holds the employee's id."""
    if isinstance(value, str):
        return value == employee_id
    if isinstance(value, dict):
        return any(mentions(v, employee_id) for v in value.values())
    if isinstance(value, list):
        return any(mentions(v, employee_id) for v in value)
    return False


def about(document: dict[str, Any], employee_id: str) -> bool:
    """Whether a JSON object is about the employee: one of its `*employee_id` keys names them."""
    return any(_ABOUT.match(k) and v == employee_id for k, v in document.items())


def scrubbed(value: Any, employee_id: str, pseudonym: str) -> Any:
    """The value with the employee's id replaced by the pseudonym and, in each object about
    them, the personal fields blanked."""
    if isinstance(value, str):
        return pseudonym if value == employee_id else value
    if isinstance(value, list):
        return [scrubbed(v, employee_id, pseudonym) for v in value]
    if isinstance(value, dict):
        named = about(value, employee_id)
        return {
            k: (
                _blank(v) if named and k in PERSONAL_FIELDS else scrubbed(v, employee_id, pseudonym)
            )
            for k, v in value.items()
        }
    return value


def _blank(value: Any) -> Any:
    if value is None or value == "" or value == [] or value == {}:
        return value
    return ERASED if isinstance(value, str) else None


def _decoded(column: Column[Any], value: Any) -> tuple[Any, bool]:
    """A column's value as a document, and whether it was JSON text to encode back."""
    if isinstance(value, str | bytes) and _is_json(column):
        try:
            return orjson.loads(value), True
        except orjson.JSONDecodeError:
            return value, False
    return value, False


# --- the database part -------------------------------------------------------------------------


def _like(employee_id: str) -> str:
    escaped = employee_id.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f'%"{escaped}"%'


def _candidates(table: Table, employee_id: str) -> Any:
    """Rows that may name the employee: a column that may hold an employee's id equal to it,
    or a JSON column holding it as a string (checked exactly in Python)."""
    tests = []
    for column in table.columns:
        if _names_employee(table, column):
            tests.append(column == employee_id)
        elif _is_json(column):
            tests.append(cast(column, Text).like(_like(employee_id), escape="\\"))
    return or_(*tests) if tests else None


async def _org_of(
    conn: AsyncConnection,
    tables: Mapping[str, Table],
    table: Table,
    row: Any,
    parents: dict[tuple[str, Any], str | None],
) -> str | None:
    """The row's organisation; `parents`: the parents' already looked up in this scan (a
    mentor's thousand sessions share one programme)."""
    values = row._mapping
    if "org" in values:
        return values["org"]  # type: ignore[no-any-return]
    if table.name == "outbox":
        headers, _ = _decoded(table.c.headers, values["headers"])
        pairs = headers.items() if isinstance(headers, dict) else headers
        return {k: v for k, v in pairs}.get("ce_org")
    for column, parent_name in _PARENTS.items():
        parent = tables.get(parent_name)
        if column in values and values[column] is not None and parent is not None:
            if parent is table:
                continue
            key = (parent.name, values[column])
            if key not in parents:
                found = (
                    await conn.execute(select(parent).where(parent.c.id == values[column]))
                ).first()
                parents[key] = (
                    None if found is None else await _org_of(conn, tables, parent, found, parents)
                )
            if parents[key] is not None:
                return parents[key]
    return None


def _mentions_row(table: Table, row: Any, employee_id: str, *, references: bool) -> bool:
    """Whether the row names the employee: about them (a party, an author), in a JSON value,
    or (`references`) only as someone's manager."""
    for column in table.columns:
        value, _ = _decoded(column, row._mapping[column.name])
        if _about_column(table, column) and value == employee_id:
            return True
        if _is_json(column) and mentions(value, employee_id):
            return True
        if references and _names_employee(table, column) and mentions(value, employee_id):
            return True
    return False


async def _rows(
    conn: AsyncConnection,
    tables: Mapping[str, Table],
    org: str,
    employee_id: str,
    *,
    references: bool,
    skip: frozenset[str] = frozenset(),
) -> list[tuple[Table, Any]]:
    found: list[tuple[Table, Any]] = []
    parents: dict[tuple[str, Any], str | None] = {}
    for table in tables.values():
        where = None if table.name in skip else _candidates(table, employee_id)
        if where is None:
            continue
        for row in (await conn.execute(select(table).where(where))).all():
            if not _mentions_row(table, row, employee_id, references=references):
                continue
            if await _org_of(conn, tables, table, row, parents) == org:
                found.append((table, row))
    return found


def _plain(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, bytes):
        return value.decode(errors="replace")
    return value


async def export_subject(
    conn: AsyncConnection, tables: Mapping[str, Table], *, org: str, employee_id: str
) -> dict[str, list[dict[str, Any]]]:
    """Every record of this database about the employee or holding their id in a document,
    by table (the messaging tables aside: what they carry is in the records), as JSON values,
    digests of credentials left out."""
    out: dict[str, list[dict[str, Any]]] = {}
    for table, row in await _rows(conn, tables, org, employee_id, references=False, skip=MESSAGING):
        record = {
            column.name: _plain(_decoded(column, row._mapping[column.name])[0])
            for column in table.columns
            if not _SECRET.search(column.name)
        }
        out.setdefault(table.name, []).append(record)
    for records in out.values():
        records.sort(key=lambda r: orjson.dumps(r, option=orjson.OPT_SORT_KEYS, default=str))
    return out


async def erase_subject(
    conn: AsyncConnection,
    tables: Mapping[str, Table],
    *,
    org: str,
    employee_id: str,
    pseudonym: str,
) -> dict[str, int]:
    """Erase the employee from this database (see the module's docstring), in the caller's
    transaction: the records deleted or changed, by table."""
    counts: dict[str, int] = {}
    for table, row in await _rows(conn, tables, org, employee_id, references=True):
        keys = list(table.primary_key.columns)
        where = [c == row._mapping[c.name] for c in keys]
        subject = SUBJECT_TABLES.get(table.name)
        digested = DIGESTED.get(table.name)
        if subject is not None and row._mapping.get(subject) == employee_id:
            await conn.execute(delete(table).where(*where))
        elif digested is not None and row._mapping.get(digested) == employee_id:
            changes = {digested: revocations.digest(org, employee_id)}
            await conn.execute(update(table).where(*where).values(**changes))
        else:
            changes = _erased(table, row, employee_id, pseudonym)
            if not changes:
                continue
            await conn.execute(update(table).where(*where).values(**changes))
        counts[table.name] = counts.get(table.name, 0) + 1
    return counts


def _erased(table: Table, row: Any, employee_id: str, pseudonym: str) -> dict[str, Any]:
    """The row's new values: the id replaced wherever it is, and, if the row is about the
    employee, its personal fields blanked."""
    about_them = any(
        _about_column(table, c) and row._mapping[c.name] == employee_id for c in table.columns
    )
    values: dict[str, Any] = {}
    for column in table.columns:
        old = row._mapping[column.name]
        document, encoded = _decoded(column, old)
        if about_them and column.name in PERSONAL_FIELDS:
            new: Any = _blank(document)
            if new is None and not column.nullable:
                new = ERASED
        else:
            new = scrubbed(document, employee_id, pseudonym)
        if encoded:
            new = orjson.dumps(new).decode() if isinstance(old, str) else orjson.dumps(new)
        if new != old:
            values[column.name] = new
    return values


# --- the event: every service erases what it holds, then confirms ---------------------------


TIMER = "privacy.erase_again"


def projections(service: str, metadata: MetaData) -> dict[str, Handler]:
    """A service's first pass over `employee.erased` (shared.service adds it to every
    service's handlers): erase in its own tables. A projection: a rebuild replays it after
    the events it erases, so a rebuilt projection holds no more than the live one."""
    if service not in ERASURE_CONFIRMERS:  # a service of the tests' own, holding no one
        return {}
    tables = dict(metadata.tables)

    async def erase(uow: UnitOfWork, event: Event, data: EventData) -> None:
        assert isinstance(data, EmployeeErased)
        counts = await _erase(uow, tables, event.org, data.employee_id, data.pseudonym)
        uow.memo[f"erased:{data.erasure_id}"] = sum(counts.values())  # for its confirmation

    return {EmployeeErased.TYPE: erase}


def reactions(service: str, metadata: MetaData) -> dict[str, Handler]:
    """Once the first pass is done (live, not in a rebuild): the second pass, armed as a
    durable timer `repeat_after` later (see `timers`)."""
    if service not in ERASURE_CONFIRMERS:
        return {}

    async def erase_later(uow: UnitOfWork, event: Event, data: EventData) -> None:
        assert isinstance(data, EmployeeErased)
        uow.schedule(
            f"erasure:{data.erasure_id}",
            kind=TIMER,
            due_at=uow.now() + data.repeat_after,
            org=event.org,
            payload={
                "erasure_id": data.erasure_id,
                "employee_id": data.employee_id,
                "pseudonym": data.pseudonym,
                "records": uow.memo.get(f"erased:{data.erasure_id}", 0),
            },
        )

    return {EmployeeErased.TYPE: erase_later}


def timers(service: str, metadata: MetaData) -> dict[str, TimerHandler]:
    """The second pass of an erasure (see `reactions`), and the service's confirmation."""
    if service not in ERASURE_CONFIRMERS:
        return {}
    confirmed = contract_for(erasure_confirmed(service))
    assert confirmed is not None and issubclass(confirmed, ErasureConfirmed), service
    tables = dict(metadata.tables)

    async def erase_again(uow: UnitOfWork, timer: Timer) -> None:
        p = timer.payload
        counts = await _erase(uow, tables, timer.org, p["employee_id"], p["pseudonym"])
        records = p["records"] + sum(counts.values())
        uow.emit(
            confirmed(erasure_id=p["erasure_id"], service=service, records=records), org=timer.org
        )

    return {TIMER: erase_again}


def _table_names(conn: Any) -> set[str]:
    schema = (conn.get_execution_options().get("schema_translate_map") or {}).get(None)
    return set(inspect(conn).get_table_names(schema=schema))


async def _erase(
    uow: UnitOfWork, tables: Mapping[str, Table], org: str, employee_id: str, pseudonym: str
) -> dict[str, int]:
    # What the unit of work holds unwritten (earlier events of a batch) is written first.
    await uow.session.flush()
    await uow.write_pending()
    conn = await uow.session.connection()
    # The tables present (a rebuild's shadow holds the derived ones only).
    names = await conn.run_sync(_table_names)
    tables = {k: t for k, t in tables.items() if t.name in names}
    counts = await erase_subject(
        conn, tables, org=org, employee_id=employee_id, pseudonym=pseudonym
    )
    revocations.forget_cached(uow, org)
    log.info("erased %s records naming an employee (pseudonym %s)", sum(counts.values()), pseudonym)
    return counts
