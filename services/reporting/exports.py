"""Exports: a programme's tables as CSV or JSON, streamed from the database row by row (a
large programme is never held in memory), with stable, documented column names.

Individual ratings and comments are in none of them; the people listed are those an admin
acts on (participation, relationships)."""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any

import orjson
from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from services.reporting import domain
from services.reporting.kpis import M, Mentee, P, S
from shared import db
from shared.api import as_utc


class ExportTable(StrEnum):
    participation = "participation"
    relationships = "relationships"
    sessions = "sessions"
    trends = "trends"  # the weekly series (see the trends endpoint)


class ExportFormat(StrEnum):
    csv = "csv"
    json = "json"


# The columns of each table, in order: a contract with whoever reads the files (add at the
# end, never rename).
COLUMNS: dict[ExportTable, tuple[str, ...]] = {
    ExportTable.participation: (
        "participant_id", "employee_id", "role", "department", "status", "requested_at",
        "enrolled_at", "withdrawn_at", "withdrawn_reason", "waiting",
    ),
    ExportTable.relationships: (
        "match_id", "mentor_employee_id", "mentee_employee_id", "mentee_department", "status",
        "proposed_at", "activated_at", "declined_at", "ended_at", "end_reason",
        "replaces_match_id", "sessions_held", "mentoring_hours", "last_session_at",
    ),
    ExportTable.sessions: (
        "session_id", "match_id", "scheduled_at", "status", "duration_minutes",
    ),
}  # fmt: skip


def query(table: ExportTable, program_id: str) -> Select[Any]:
    """The rows of `table` for one programme, labelled as COLUMNS says (relationships carry
    their minutes, made hours by `stream`), in a stable order."""
    if table is ExportTable.participation:
        return (
            select(
                P.c.id.label("participant_id"), P.c.employee_id, P.c.role, P.c.department,
                P.c.status, P.c.requested_at, P.c.enrolled_at, P.c.withdrawn_at,
                P.c.withdrawn_reason, P.c.waiting,
            )
            .where(P.c.program_id == program_id)
            .order_by(P.c.role, P.c.employee_id, P.c.id)
        )  # fmt: skip
    if table is ExportTable.sessions:
        return (
            select(
                S.c.id.label("session_id"), S.c.match_id, S.c.scheduled_at, S.c.status,
                S.c.duration_minutes,
            )
            .where(S.c.program_id == program_id)
            .order_by(S.c.scheduled_at, S.c.id)
        )  # fmt: skip
    held = (
        select(
            S.c.match_id,
            func.count().label("sessions_held"),
            func.sum(S.c.duration_minutes).label("minutes"),
            func.max(S.c.scheduled_at).label("last_session_at"),
        )
        .where(S.c.program_id == program_id, S.c.status == "completed")
        .group_by(S.c.match_id)
        .subquery()
    )
    return (
        select(
            M.c.id.label("match_id"), M.c.mentor_employee_id, M.c.mentee_employee_id,
            Mentee.c.department.label("mentee_department"), M.c.status, M.c.proposed_at,
            M.c.activated_at, M.c.declined_at, M.c.ended_at, M.c.end_reason,
            M.c.replaces_match_id, func.coalesce(held.c.sessions_held, 0).label("sessions_held"),
            func.coalesce(held.c.minutes, 0).label("minutes"),
            held.c.last_session_at,
        )
        .select_from(M)
        .join(Mentee, Mentee.c.id == M.c.mentee_participant_id, isouter=True)
        .join(held, held.c.match_id == M.c.id, isouter=True)
        .where(M.c.program_id == program_id)
        .order_by(M.c.proposed_at, M.c.id)
    )  # fmt: skip


async def stream(
    engine: AsyncEngine, table: ExportTable, program_id: str
) -> AsyncIterator[Mapping[Any, Any]]:
    """The rows, fetched in batches on a read-only connection of their own."""
    statement = query(table, program_id).execution_options(yield_per=500)
    async with db.reading(engine) as conn:
        result = await conn.stream(statement)
        async for row in result:
            if table is ExportTable.relationships:  # hours from minutes, as everywhere
                yield {**row._mapping, "mentoring_hours": domain.hours([row.minutes])}
            else:
                yield row._mapping


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return as_utc(value).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, Decimal):  # PostgreSQL's numeric arithmetic
        return float(value)
    return value


async def as_csv(
    columns: Sequence[str], rows: AsyncIterator[Mapping[Any, Any]] | Iterable[Mapping[Any, Any]]
) -> AsyncIterator[str]:
    """RFC 4180 text: a header line, then one line per row (an absent value is empty)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(columns)
    async for row in _each(rows):
        writer.writerow(
            "" if row[c] is None else str(_plain(row[c])).lower() if isinstance(row[c], bool)
            else _plain(row[c])
            for c in columns
        )  # fmt: skip
        if buffer.tell() > 64_000:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


async def as_json(
    columns: Sequence[str], rows: AsyncIterator[Mapping[Any, Any]] | Iterable[Mapping[Any, Any]]
) -> AsyncIterator[bytes]:
    """A JSON array of objects with the same columns."""
    yield b"["
    first = True
    async for row in _each(rows):
        item = orjson.dumps({c: _plain(row[c]) for c in columns})
        yield item if first else b"," + item
        first = False
    yield b"]"


async def _each(
    rows: AsyncIterator[Mapping[Any, Any]] | Iterable[Mapping[Any, Any]],
) -> AsyncIterator[Mapping[Any, Any]]:
    if isinstance(rows, AsyncIterator):
        async for row in rows:
            yield row
    else:
        for row in rows:
            yield row
