"""A programme's all-time tallies, kept up to date as its relationships change.

At each commit of reporting's projections (the unit of work's `rollup`, so the consumer, the
rebuild and the migration that fills them all go through it), every relationship whose match,
health, sessions, ratings or surveys were written is counted again from its rows (a few index
lookups for the whole batch), and the difference from what it added before goes to its
programme's cells and person counts (services.reporting.contributions). A programme's
all-time KPIs then read its few dozen cells and two index ranges, instead of scanning every
session and rating it has.

Concurrent consumers (two processes, each applying other partitions) count the same
relationship one after the other: its tally row is locked first (`FOR UPDATE`, created if
missing), and the counts read after the lock see what the other committed. Cells and person
counts move by increments (`n = n + delta`), in key order.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import SQLModel

from services.reporting import contributions as contrib
from services.reporting.contributions import Cell, Person
from services.reporting.models import (
    HealthView,
    KpiCell,
    KpiPerson,
    MatchView,
    ProgramView,
    RatingView,
    RelationshipTally,
    SessionView,
    SurveyView,
)
from shared import bulk
from shared.api import as_utc
from shared.db import in_lists


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


M, H, S, R, Y = (_table(v) for v in (MatchView, HealthView, SessionView, RatingView, SurveyView))
T, C, PN, G = (_table(v) for v in (RelationshipTally, KpiCell, KpiPerson, ProgramView))

# The tables whose rows belong to a relationship (its match id: the row's key or `match_id`).
_OF_RELATIONSHIP = {M.name: "id", H.name: "match_id"}
_CHILDREN = (S.name, R.name, Y.name)
_MATCH_COLUMNS = (
    "id", "program_id", "status", "mentor_employee_id", "mentee_employee_id", "proposed_at",
    "activated_at", "declined_at", "ended_at", "end_reason", "replaces_match_id",
)  # fmt: skip


def roll_up(conn: Connection, written: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
    """The unit of work's hook: the rows written in its transaction, by table."""
    ids: set[str] = set()
    for table, rows in written.items():
        key = _OF_RELATIONSHIP.get(table) or ("match_id" if table in _CHILDREN else None)
        if key is not None:
            ids.update(row[key] for row in rows if row.get(key) is not None)
    recount(conn, sorted(ids))


def recount(conn: Connection, match_ids: list[str]) -> None:
    """Count these relationships again and move their programmes' tallies by the difference."""
    if not match_ids:
        return
    before = _locked(conn, match_ids)
    facts = _Facts.read(conn, match_ids)
    tallies: list[dict[str, Any]] = []
    cells: dict[tuple[str, Cell], tuple[int, float]] = {}
    people: dict[tuple[str, Person], int] = {}
    for match_id in match_ids:
        match = facts.matches.get(match_id)
        now = contrib.added(
            match,
            facts.health.get(match_id),
            facts.sessions.get(match_id, ()),
            facts.ratings.get(match_id, ()),
            facts.surveys.get(match_id, ()),
        )
        program = match["program_id"] if match is not None else None
        tallies.append(
            {
                "match_id": match_id,
                "program_id": program,
                "current": now.current,
                "last_held_at": now.last_held_at,
                "last_activity_at": now.last_activity_at,
                "added": now.stored(),
            }
        )
        if program is None:
            continue  # (a match is never moved to another programme)
        moved, named = contrib.difference(before.get(match_id, {}), now)
        for cell, (n, total) in moved.items():
            was_n, was_total = cells.get((program, cell), (0, 0.0))
            cells[(program, cell)] = (was_n + n, was_total + total)
        for person, step in named.items():
            people[(program, person)] = people.get((program, person), 0) + step
    conn.execute(*bulk.write(conn, T, tallies, conflict=["match_id"], update=list(tallies[0])[1:]))
    for (program, cell), move in contrib.people_moved(_count_people(conn, people)).items():
        was_n, was_total = cells.get((program, cell), (0, 0.0))
        cells[(program, cell)] = (was_n + move[0], was_total + move[1])
    _add_to_cells(conn, cells)


def _locked(conn: Connection, match_ids: list[str]) -> dict[str, dict[str, Any]]:
    """The relationships' tally rows, created if missing, locked until the commit (in key
    order); what each added before."""
    conn.execute(*bulk.write(conn, T, [{"match_id": m} for m in match_ids], conflict=["match_id"]))
    found: dict[str, dict[str, Any]] = {}
    for ids in in_lists(match_ids):
        query = select(T.c.match_id, T.c.added).where(T.c.match_id.in_(ids))
        for match_id, added in conn.execute(query.order_by(T.c.match_id).with_for_update()):
            found[match_id] = added or {}
    return found


@dataclass
class _Facts:
    matches: dict[str, dict[str, Any]]
    health: dict[str, dict[str, Any]]
    sessions: dict[str, list[contrib.SessionCount]]
    ratings: dict[str, list[contrib.RatingCount]]
    surveys: dict[str, list[contrib.SurveyCount]]

    @classmethod
    def read(cls, conn: Connection, match_ids: list[str]) -> _Facts:
        facts = cls({}, {}, {}, {}, {})
        answered = Y.c.answered_at.is_not(None)
        for ids in in_lists(match_ids):
            for row in conn.execute(
                select(*(M.c[c] for c in _MATCH_COLUMNS)).where(M.c.id.in_(ids))
            ):
                facts.matches[row.id] = dict(row._mapping)
            query = select(H.c.match_id, H.c.state, H.c.signals).where(H.c.match_id.in_(ids))
            for row in conn.execute(query):
                facts.health[row.match_id] = dict(row._mapping)
            query = (
                select(
                    S.c.match_id,
                    S.c.status,
                    func.count(),
                    func.coalesce(func.sum(S.c.duration_minutes), 0),
                    func.max(S.c.scheduled_at),
                )
                .where(S.c.match_id.in_(ids), S.c.scheduled_at.is_not(None))
                .group_by(S.c.match_id, S.c.status)
            )
            for match_id, status, n, minutes, last in conn.execute(query):
                last = as_utc(last) if last is not None else None
                facts.sessions.setdefault(match_id, []).append(
                    contrib.SessionCount(status, n, minutes, last)
                )
            query = (
                select(R.c.match_id, R.c.author_employee_id, R.c.rating, func.count())
                .where(R.c.match_id.in_(ids), R.c.rated_at.is_not(None))
                .group_by(R.c.match_id, R.c.author_employee_id, R.c.rating)
            )
            for match_id, author, rating, n in conn.execute(query):
                facts.ratings.setdefault(match_id, []).append(
                    contrib.RatingCount(author, rating, n)
                )
            query = (
                select(
                    Y.c.match_id,
                    Y.c.kind,
                    Y.c.respondent_employee_id,
                    func.count(Y.c.due_at),
                    func.count(Y.c.due_at).filter(answered),
                    func.count().filter(answered),
                    func.count(Y.c.mean).filter(answered),
                    func.coalesce(func.sum(Y.c.mean).filter(answered), 0.0),
                    func.count(Y.c.recommend).filter(answered),
                    func.count().filter(answered, Y.c.recommend >= 4),
                )
                .where(Y.c.match_id.in_(ids))
                .group_by(Y.c.match_id, Y.c.kind, Y.c.respondent_employee_id)
            )
            for match_id, *counts in conn.execute(query):
                facts.surveys.setdefault(match_id, []).append(contrib.SurveyCount(*counts))
        return facts


def _count_people(
    conn: Connection, people: dict[tuple[str, Person], int]
) -> list[tuple[str, str, int, int]]:
    """Persons' counts moved (in key order); (programme, measure, before, after) of each."""
    rows = [
        {"program_id": program, "measure": measure, "employee_id": employee, "n": step}
        for (program, (measure, employee)), step in sorted(people.items())
        if step
    ]
    if not rows:
        return []
    stmt = _insert(conn, PN)
    stmt = stmt.on_conflict_do_update(
        index_elements=["program_id", "measure", "employee_id"],
        set_={"n": PN.c.n + stmt.excluded.n},
    ).returning(PN.c.program_id, PN.c.measure, PN.c.employee_id, PN.c.n)
    steps = {(r["program_id"], r["measure"], r["employee_id"]): r["n"] for r in rows}
    counted = conn.execute(stmt, rows).all()
    return [(p, m, n - steps[(p, m, e)], n) for p, m, e, n in counted]


def _add_to_cells(conn: Connection, cells: dict[tuple[str, Cell], tuple[int, float]]) -> None:
    rows = [
        {"program_id": program, "name": name, "key": key, "n": n, "total": total}
        for (program, (name, key)), (n, total) in sorted(cells.items())
        if n or total
    ]
    if not rows:
        return
    stmt = _insert(conn, C)
    stmt = stmt.on_conflict_do_update(
        index_elements=["program_id", "name", "key"],
        set_={"n": C.c.n + stmt.excluded.n, "total": C.c.total + stmt.excluded.total},
    )
    conn.execute(stmt, rows)


def _insert(conn: Connection, table: Table) -> Any:
    return (postgresql if conn.dialect.name == "postgresql" else sqlite).insert(table)


# --- reading ------------------------------------------------------------------------------


@dataclass
class Tallied:
    """A programme's all-time cells, read in one query."""

    program_id: str
    cells: dict[Cell, tuple[int, float]]

    def n(self, name: str, key: str = "") -> int:
        return int(self.cells.get((name, key), (0, 0.0))[0])

    def total(self, name: str, key: str = "") -> float:
        return self.cells.get((name, key), (0, 0.0))[1]

    def people(self, measure: str) -> int:
        return self.n("people", measure)

    def pairs(self, measure: str) -> int:
        """The mentors and the mentees a measure counts (each side's distinct people)."""
        return self.people(f"{measure}:mentor") + self.people(f"{measure}:mentee")

    def keys(self, name: str) -> list[str]:
        return sorted(key for (n, key), (count, _) in self.cells.items() if n == name and count)


async def read(conn: Any, program_id: str) -> Tallied:
    rows = await conn.execute(
        select(C.c.name, C.c.key, C.c.n, C.c.total).where(C.c.program_id == program_id)
    )
    return Tallied(program_id, {(name, key): (n, total) for name, key, n, total in rows})


async def cadence(
    conn: Any, program_id: str, current: int, now: datetime
) -> tuple[int, list[datetime]]:
    """The current relationships with a session held within the programme's cadence before
    `now`, and the middle one or two of their latest activities (for the median)."""
    cadence_s = (
        await conn.execute(select(G.c.cadence_s).where(G.c.id == program_id))
    ).scalar_one_or_none()
    mine = and_(T.c.program_id == program_id, T.c.current)
    in_cadence = 0
    if cadence_s is not None:
        since = now - timedelta(seconds=cadence_s)
        in_cadence = (
            await conn.execute(select(func.count()).where(mine, T.c.last_held_at >= since))
        ).scalar_one()
    middle: list[datetime] = []
    if current:
        rows = await conn.execute(
            select(T.c.last_activity_at)
            .where(mine)
            .order_by(T.c.last_activity_at)
            .offset((current - 1) // 2)
            .limit(1 if current % 2 else 2)
        )
        middle = [as_utc(at) for at in rows.scalars()]
    return in_cadence, middle
