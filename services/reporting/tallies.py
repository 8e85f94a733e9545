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

import math
from collections.abc import Callable, Iterable, Mapping
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
    ParticipantTally,
    ParticipantView,
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
P, PT = _table(ParticipantView), _table(ParticipantTally)

# The tables whose rows belong to a relationship (its match id: the row's key or `match_id`).
_OF_RELATIONSHIP = {M.name: "id", H.name: "match_id"}
_CHILDREN = (S.name, R.name, Y.name)
_MATCH_COLUMNS = (
    "id", "program_id", "status", "mentor_employee_id", "mentee_employee_id", "proposed_at",
    "activated_at", "declined_at", "ended_at", "end_reason", "replaces_match_id",
)  # fmt: skip


def roll_up(conn: Connection, written: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
    """The unit of work's hook: the rows written in its transaction, by table. A match
    written concerns the match it replaces (its re-match causes) and its two participants
    (a mentee's first proposal, a mentor's load) too."""
    ids: set[str] = set()
    participants: set[str] = {row["id"] for row in written.get(P.name, ())}
    for table, rows in written.items():
        key = _OF_RELATIONSHIP.get(table) or ("match_id" if table in _CHILDREN else None)
        if key is not None:
            ids.update(row[key] for row in rows if row.get(key) is not None)
    for row in written.get(M.name, ()):
        if row.get("replaces_match_id") is not None:
            ids.add(row["replaces_match_id"])
        for side in ("mentor_participant_id", "mentee_participant_id"):
            if row.get(side) is not None:
                participants.add(row[side])
    recount(conn, sorted(ids), sorted(participants))


def recount(conn: Connection, match_ids: list[str], participant_ids: list[str]) -> None:
    """Count these relationships and participants again and move their programmes' tallies
    by the difference."""
    cells: dict[tuple[str, Cell], tuple[int, float]] = {}
    people: dict[tuple[str, Person], int] = {}

    def add(program: str, moved: dict[Cell, tuple[int, float]]) -> None:
        for cell, (n, total) in moved.items():
            was_n, was_total = cells.get((program, cell), (0, 0.0))
            cells[(program, cell)] = (was_n + n, was_total + total)

    if match_ids:
        _recount_relationships(conn, match_ids, add, people)
    if participant_ids:
        _recount_participants(conn, participant_ids, add)
    for (program, cell), move in contrib.people_moved(_count_people(conn, people)).items():
        add(program, {cell: move})
    _add_to_cells(conn, cells)


_Add = Callable[[str, dict[Cell, tuple[int, float]]], None]


def _recount_relationships(
    conn: Connection, match_ids: list[str], add: _Add, people: dict[tuple[str, Person], int]
) -> None:
    before = _locked(conn, T, T.c.match_id, match_ids)
    facts = _Facts.read(conn, match_ids)
    tallies: list[dict[str, Any]] = []
    for match_id in match_ids:
        match = facts.matches.get(match_id)
        now = contrib.added(
            match,
            facts.health.get(match_id),
            facts.sessions.get(match_id, ()),
            facts.ratings.get(match_id, ()),
            facts.surveys.get(match_id, ()),
            facts.replaced_by.get(match_id, 0),
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
        add(program, moved)
        for person, step in named.items():
            people[(program, person)] = people.get((program, person), 0) + step
    conn.execute(*bulk.write(conn, T, tallies, conflict=["match_id"], update=list(tallies[0])[1:]))


def _recount_participants(conn: Connection, participant_ids: list[str], add: _Add) -> None:
    before = _locked(conn, PT, PT.c.participant_id, participant_ids)
    found: dict[str, dict[str, Any]] = {}
    first: dict[str, datetime] = {}
    loads: dict[str, int] = {}
    for ids in in_lists(participant_ids):
        for row in conn.execute(select(P).where(P.c.id.in_(ids))):
            found[row.id] = dict(row._mapping)
        query = (
            select(M.c.mentee_participant_id, func.min(M.c.proposed_at))
            .where(M.c.mentee_participant_id.in_(ids), M.c.proposed_at.is_not(None))
            .group_by(M.c.mentee_participant_id)
        )
        first.update({pid: as_utc(at) for pid, at in conn.execute(query)})
        query = (
            select(M.c.mentor_participant_id, func.count())
            .where(M.c.mentor_participant_id.in_(ids), M.c.status == contrib.ACTIVE)
            .group_by(M.c.mentor_participant_id)
        )
        loads.update({pid: n for pid, n in conn.execute(query)})
    tallies: list[dict[str, Any]] = []
    for pid in participant_ids:
        participant = found.get(pid)
        now, waited, program = contrib.Added(), None, None
        if participant is not None:
            enrolled = participant.get("enrolled_at")
            participant["enrolled_at"] = as_utc(enrolled) if enrolled is not None else None
            now, waited = contrib.participant_added(participant, first.get(pid), loads.get(pid, 0))
            program = participant["program_id"]
            add(program, contrib.difference(before.get(pid, {}), now)[0])
        tallies.append(
            {"participant_id": pid, "program_id": program, "waited_s": waited,
             "added": now.stored()}
        )  # fmt: skip
    conn.execute(
        *bulk.write(conn, PT, tallies, conflict=["participant_id"], update=list(tallies[0])[1:])
    )


def _locked(conn: Connection, table: Table, key: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """The tally rows of these keys, created if missing, locked until the commit (in key
    order: two writers lock them one after the other); what each added before."""
    conn.execute(*bulk.write(conn, table, [{key.name: k} for k in ids], conflict=[key.name]))
    found: dict[str, dict[str, Any]] = {}
    for some in in_lists(ids):
        query = select(key, table.c.added).where(key.in_(some))
        for k, added in conn.execute(query.order_by(key).with_for_update()):
            found[k] = added or {}
    return found


@dataclass
class _Facts:
    matches: dict[str, dict[str, Any]]
    health: dict[str, dict[str, Any]]
    sessions: dict[str, list[contrib.SessionCount]]
    ratings: dict[str, list[contrib.RatingCount]]
    surveys: dict[str, list[contrib.SurveyCount]]
    replaced_by: dict[str, int]  # the matches proposed in place of each

    @classmethod
    def read(cls, conn: Connection, match_ids: list[str]) -> _Facts:
        facts = cls({}, {}, {}, {}, {}, {})
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
            query = (
                select(M.c.replaces_match_id, func.count())
                .where(M.c.replaces_match_id.in_(ids), M.c.proposed_at.is_not(None))
                .group_by(M.c.replaces_match_id)
            )
            facts.replaced_by.update({m: n for m, n in conn.execute(query)})
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


async def waits(conn: Any, program_id: str, matched: int) -> tuple[list[float], float | None]:
    """Of the `matched` mentees' waits for a first proposed mentor (seconds): the middle one
    or two (the median), and the 90th percentile by nearest rank (read from the top: a tenth
    of the index instead of nine)."""
    if not matched:
        return [], None
    mine = select(PT.c.waited_s).where(PT.c.program_id == program_id, PT.c.waited_s.is_not(None))
    middle = await conn.execute(
        mine.order_by(PT.c.waited_s).offset((matched - 1) // 2).limit(2 - matched % 2)
    )
    rank = max(1, math.ceil(0.9 * matched))
    p90 = await conn.execute(mine.order_by(PT.c.waited_s.desc()).offset(matched - rank).limit(1))
    return list(middle.scalars()), p90.scalar_one_or_none()
