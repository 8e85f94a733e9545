"""A programme's all-time tallies, kept up to date as its relationships and participants
change.

Each commit of reporting's projections marks the relationships and participants it wrote
(`mark`, the unit of work's `rollup`: the consumer, the rebuild and the migration all go
through it; an append to `tally_pending`, in the same transaction). A drain (`drain`: the
service's tally loop, or a KPI read settling its programme first) counts each marked one again
from its rows (a few index lookups for the whole batch, once however many events it had since),
and the difference from what it added before goes to its programme's cells and person counts,
for every department and for its own (services.reporting.contributions). A programme's
all-time KPIs then read its few dozen cells and three index reads, instead of scanning every
session and rating it has.

One drain at a time (PostgreSQL: a transaction-level advisory lock, whichever process it is
in; SQLite: its write lock), so what a relationship added before is what the last drain wrote.
Marks are appended and a drain deletes only those it read: a relationship written while it
counts is marked again, and counted by the next."""

from __future__ import annotations

import math
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, select, text

from services.reporting import contributions as contrib
from services.reporting.contributions import ALL, Cell, Scoped
from services.reporting.tables import CELL, PERSON, PT, TP, G, H, M, P, R, S, T, Y, week_of
from shared import bulk
from shared.api import as_utc
from shared.db import one_of, reading
from shared.messaging.loop import PollingLoop
from shared.service import ServiceRuntime

# The tables whose rows belong to a relationship (its match id: the row's key or `match_id`).
_OF_RELATIONSHIP = {M.name: "id", H.name: "match_id"}
_CHILDREN = (S.name, R.name, Y.name)
_MATCH_COLUMNS = (
    "id", "program_id", "status", "mentor_employee_id", "mentee_employee_id", "proposed_at",
    "activated_at", "declined_at", "ended_at", "end_reason", "replaces_match_id",
)  # fmt: skip


MATCH, PARTICIPANT = "match", "participant"
DRAIN = 5_000  # marks per drain's transaction
SETTLE_AT_MOST = 2_000  # a read settles its programme's marks first up to this many
_LOCK = 0x6B70695F74616C6C  # the advisory lock's key ("kpi_tall")


def mark(conn: Connection, written: Mapping[str, Iterable[Mapping[str, Any]]]) -> None:
    """The unit of work's hook: mark what the rows written in its transaction (by table)
    concern. A match concerns its two participants too (a mentee's first proposal, a mentor's
    load)."""
    marks: set[tuple[str, str, str | None]] = set()
    for table, rows in written.items():
        key = _OF_RELATIONSHIP.get(table) or ("match_id" if table in _CHILDREN else None)
        if key is not None:
            marks.update((MATCH, r[key], r.get("program_id")) for r in rows if r.get(key))
    for row in written.get(M.name, ()):
        for side in ("mentor_participant_id", "mentee_participant_id"):
            if row.get(side) is not None:
                marks.add((PARTICIPANT, row[side], row.get("program_id")))
    for row in written.get(P.name, ()):
        marks.add((PARTICIPANT, row["id"], row.get("program_id")))
    if marks:
        appended = [{"kind": k, "entity_id": e, "program_id": p} for k, e, p in marks]
        conn.execute(*bulk.write(conn, TP, appended))


def drain(conn: Connection, *, program_id: str | None = None, limit: int = DRAIN) -> int:
    """Count the marked relationships and participants (of one programme, or the oldest
    marks, with every other mark of what they name) again, in the caller's transaction; how
    many marks it took."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(_LOCK)))
    # The oldest marks, then every other mark of what they name: each counted once, however
    # many events it had since. Deleted before the rows are read: a mark committed later
    # (its rows maybe not read here) stays for the next drain.
    oldest = select(TP.c.seq).order_by(TP.c.seq).limit(limit)
    if program_id is not None:
        oldest = oldest.where(TP.c.program_id == program_id)
    named = conn.execute(
        delete(TP)
        .where(TP.c.seq.in_(oldest.scalar_subquery()))
        .returning(TP.c.kind, TP.c.entity_id)
    ).all()
    if not named:
        return 0
    taken = {(kind, e) for kind, e in named}
    marks = len(named)
    entities = sorted({e for _, e in taken})
    marks += conn.execute(delete(TP).where(one_of(TP.c.entity_id, entities))).rowcount
    ids = {e for kind, e in taken if kind == MATCH}
    participants = sorted({e for kind, e in taken if kind == PARTICIPANT})
    # A mentee's department is their relationships' (it may have changed), and a match's end
    # reason the cause of the re-matches proposed in its place.
    if participants:
        query = select(M.c.id).where(one_of(M.c.mentee_participant_id, participants))
        ids.update(conn.execute(query).scalars())
    if ids:
        query = select(M.c.id).where(one_of(M.c.replaces_match_id, sorted(ids)))
        ids.update(conn.execute(query).scalars())
    recount(conn, sorted(ids), participants)
    return marks


def recount(conn: Connection, match_ids: list[str], participant_ids: list[str]) -> None:
    """Count these relationships and participants again and move their programmes' tallies
    by the difference."""
    cells: dict[tuple[str, Scoped], tuple[int, float]] = {}
    people: dict[tuple[str, Scoped], int] = {}

    def add(program: str, moved: dict[Scoped, tuple[int, float]]) -> None:
        for cell, (n, total) in moved.items():
            was_n, was_total = cells.get((program, cell), (0, 0.0))
            cells[(program, cell)] = (was_n + n, was_total + total)

    if match_ids:
        _recount_relationships(conn, match_ids, add, people)
    if participant_ids:
        _recount_participants(conn, participant_ids, add)
    for (program, cell), move in _people_moved(conn, people).items():
        add(program, {cell: move})
    _add_to_cells(conn, cells)


_Add = Callable[[str, dict[Scoped, tuple[int, float]]], None]


def _recount_relationships(
    conn: Connection, match_ids: list[str], add: _Add, people: dict[tuple[str, Scoped], int]
) -> None:
    before = _before(conn, T, T.c.match_id, match_ids)
    facts = _Facts.read(conn, match_ids)
    latest = ("activated_at", "ended_at")
    tallies: list[dict[str, Any]] = []
    for match_id in match_ids:
        match = facts.matches.get(match_id)
        now = contrib.added(
            match,
            facts.health.get(match_id),
            facts.sessions.get(match_id, ()),
            facts.ratings.get(match_id, ()),
            facts.surveys.get(match_id, ()),
            facts.replaced.get(match["replaces_match_id"]) if match is not None else None,
            match.get("mentee_department") if match is not None else None,
        )
        program = match["program_id"] if match is not None else None
        stored = now.stored()
        tallies.append(
            {
                "match_id": match_id,
                "program_id": program,
                "current": now.current,
                "last_held_at": now.last_held_at,
                "last_activity_at": now.last_activity_at,
                "latest_at": max(
                    (as_utc(match[k]) for k in latest if match and match[k] is not None),
                    default=None,
                ),
                "department": now.department,
                "added": stored,
            }
        )
        if program is None:
            continue  # (a match is never moved to another programme)
        moved, named = contrib.difference(before.get(match_id, {}), stored)
        add(program, moved)
        for person, step in named.items():
            people[(program, person)] = people.get((program, person), 0) + step
    conn.execute(*bulk.write(conn, T, tallies, conflict=["match_id"], update=list(tallies[0])[1:]))


def _recount_participants(conn: Connection, participant_ids: list[str], add: _Add) -> None:
    before = _before(conn, PT, PT.c.participant_id, participant_ids)
    found: dict[str, dict[str, Any]] = {}
    first: dict[str, datetime] = {}
    loads: dict[str, int] = {}
    for row in conn.execute(select(P).where(one_of(P.c.id, participant_ids))):
        found[row.id] = dict(row._mapping)
    query = (
        select(M.c.mentee_participant_id, func.min(M.c.proposed_at))
        .where(one_of(M.c.mentee_participant_id, participant_ids), M.c.proposed_at.is_not(None))
        .group_by(M.c.mentee_participant_id)
    )
    first.update({pid: as_utc(at) for pid, at in conn.execute(query)})
    query = (
        select(M.c.mentor_participant_id, func.count())
        .where(one_of(M.c.mentor_participant_id, participant_ids), M.c.status == contrib.ACTIVE)
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
        stored = now.stored()
        if program is not None:
            add(program, contrib.difference(before.get(pid, {}), stored)[0])
        tallies.append(
            {"participant_id": pid, "program_id": program, "department": now.department,
             "waited_s": waited, "added": stored}
        )  # fmt: skip
    conn.execute(
        *bulk.write(conn, PT, tallies, conflict=["participant_id"], update=list(tallies[0])[1:])
    )


def _before(conn: Connection, table: Table, key: Any, ids: list[str]) -> dict[str, dict[str, Any]]:
    """What each of these added before (as the last drain wrote it)."""
    found: dict[str, dict[str, Any]] = {}
    for k, added in conn.execute(select(key, table.c.added).where(one_of(key, ids))):
        found[k] = added or {}
    return found


@dataclass
class _Facts:
    matches: dict[str, dict[str, Any]]
    health: dict[str, dict[str, Any]]
    sessions: dict[str, list[contrib.SessionCount]]
    ratings: dict[str, list[contrib.RatingCount]]
    surveys: dict[str, list[contrib.SurveyCount]]
    replaced: dict[str, dict[str, Any]]  # the matches they were proposed in place of

    @classmethod
    def read(cls, conn: Connection, match_ids: list[str]) -> _Facts:
        facts = cls({}, {}, {}, {}, {}, {})
        answered = Y.c.answered_at.is_not(None)
        dialect = conn.dialect.name
        planned, rated = week_of(S.c.scheduled_at, dialect), week_of(R.c.rated_at, dialect)
        answered_in = week_of(Y.c.answered_at, dialect)
        query = (
            select(*(M.c[c] for c in _MATCH_COLUMNS), P.c.department.label("mentee_department"))
            .outerjoin(P, P.c.id == M.c.mentee_participant_id)
            .where(one_of(M.c.id, match_ids))
        )
        for row in conn.execute(query):
            facts.matches[row.id] = dict(row._mapping)
        query = select(H.c.match_id, H.c.state, H.c.signals).where(one_of(H.c.match_id, match_ids))
        for row in conn.execute(query):
            facts.health[row.match_id] = dict(row._mapping)
        query = (
            select(
                S.c.match_id,
                S.c.status,
                func.count(),
                func.coalesce(func.sum(S.c.duration_minutes), 0),
                func.max(S.c.scheduled_at),
                planned,
            )
            .where(one_of(S.c.match_id, match_ids), S.c.scheduled_at.is_not(None))
            .group_by(S.c.match_id, S.c.status, planned)
        )
        for match_id, status, n, minutes, last, week in conn.execute(query):
            last = as_utc(last) if last is not None else None
            facts.sessions.setdefault(match_id, []).append(
                contrib.SessionCount(status, n, minutes, last, _week(week))
            )
        query = (
            select(R.c.match_id, R.c.author_employee_id, R.c.rating, func.count(), rated)
            .where(one_of(R.c.match_id, match_ids), R.c.rated_at.is_not(None))
            .group_by(R.c.match_id, R.c.author_employee_id, R.c.rating, rated)
        )
        for match_id, author, rating, n, week in conn.execute(query):
            facts.ratings.setdefault(match_id, []).append(
                contrib.RatingCount(author, rating, n, _week(week))
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
                answered_in,
            )
            .where(one_of(Y.c.match_id, match_ids))
            .group_by(Y.c.match_id, Y.c.kind, Y.c.respondent_employee_id, answered_in)
        )
        for match_id, kind, who, *counts, week in conn.execute(query):
            due, due_answered, answered, means, mean_sum, recommended, high = counts
            facts.surveys.setdefault(match_id, []).append(
                contrib.SurveyCount(
                    kind,
                    who,
                    due,
                    due_answered,
                    answered,
                    means,
                    mean_sum,
                    recommended,
                    high,
                    _week(week),
                )
            )
        replaced = sorted({m["replaces_match_id"] for m in facts.matches.values()} - {None})
        if replaced:
            query = select(M.c.id, M.c.end_reason).where(one_of(M.c.id, replaced))
            facts.replaced.update({m: {"end_reason": r} for m, r in conn.execute(query)})
        return facts


def _week(day: Any) -> str | None:
    """A week as the database gave it (a date, or SQLite's text), as the cells name it."""
    return None if day is None else str(day)[:10]


def _people_moved(
    conn: Connection, people: dict[tuple[str, Scoped], int]
) -> dict[tuple[str, Scoped], tuple[int, float]]:
    """Persons' counts moved by these steps, and the `people` cells' moves that follow (a
    person enters a measure at their first relationship counting them, and leaves it at the
    last)."""
    rows = [
        {"program_id": p, "department": d, "measure": m, "employee_id": e, "n": step}
        for (p, (d, m, e)), step in people.items()
        if step
    ]
    if not rows:
        return {}
    if conn.dialect.name == "postgresql" and len(rows) >= bulk.UNNEST_FROM:
        return _people_moved_there(conn, rows)
    keys = ["program_id", "department", "measure", "employee_id"]
    counted = conn.execute(
        *bulk.write(conn, PERSON, rows, conflict=keys, add=["n"], returning=[*keys, "n"])
    ).all()
    steps = {tuple(r[k] for k in keys): r["n"] for r in rows}
    return contrib.people_moved((p, d, m, n - steps[(p, d, m, e)], n) for p, d, m, e, n in counted)


# PostgreSQL: the counts moved and the crossings of 0 summed by the database, which answers
# one row per `people` cell that moves (instead of one per person: a quarter of a drain was
# reading those back).
_MOVE_PEOPLE = text(
    f"""
    WITH step AS (
        SELECT * FROM unnest(
            CAST(:program_id AS VARCHAR[]), CAST(:department AS VARCHAR[]),
            CAST(:measure AS VARCHAR[]), CAST(:employee_id AS VARCHAR[]), CAST(:n AS INTEGER[])
        ) AS u(program_id, department, measure, employee_id, n)
    ), counted AS (
        INSERT INTO {PERSON.name} AS k (program_id, department, measure, employee_id, n)
        SELECT program_id, department, measure, employee_id, n FROM step
        ON CONFLICT (program_id, department, measure, employee_id)
        DO UPDATE SET n = k.n + excluded.n
        RETURNING k.program_id, k.department, k.measure, k.employee_id, k.n
    )
    SELECT c.program_id, c.department, c.measure,
           sum((c.n > 0)::int - ((c.n - s.n) > 0)::int) AS moved
    FROM counted c JOIN step s USING (program_id, department, measure, employee_id)
    GROUP BY c.program_id, c.department, c.measure
    HAVING sum((c.n > 0)::int - ((c.n - s.n) > 0)::int) <> 0
    """
)


def _people_moved_there(
    conn: Connection, rows: list[dict[str, Any]]
) -> dict[tuple[str, Scoped], tuple[int, float]]:
    columns = {name: [r[name] for r in rows] for name in rows[0]}
    moved: dict[tuple[str, Scoped], tuple[int, float]] = {}
    for program, department, measure, n in conn.execute(_MOVE_PEOPLE, columns):
        moved[(program, (department, *contrib.people_cell(measure)))] = (int(n), 0.0)
    return moved


def _add_to_cells(conn: Connection, cells: dict[tuple[str, Scoped], tuple[int, float]]) -> None:
    rows = [
        {"program_id": p, "department": d, "name": name, "key": key, "n": n, "total": total}
        for (p, (d, name, key)), (n, total) in sorted(cells.items())
        if n or total
    ]
    if not rows:
        return
    keys = ["program_id", "department", "name", "key"]
    conn.execute(*bulk.write(conn, CELL, rows, conflict=keys, add=["n", "total"]))


# --- reading ------------------------------------------------------------------------------


@dataclass
class Tallied:
    """A programme's all-time cells, read in one query."""

    program_id: str
    department: str | None
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


async def read(conn: Any, program_id: str, department: str | None) -> Tallied:
    """The programme's cells, of one department or (None) of them all."""
    rows = await conn.execute(
        select(CELL.c.name, CELL.c.key, CELL.c.n, CELL.c.total).where(
            CELL.c.program_id == program_id,
            CELL.c.department == (department or ALL),
            CELL.c.name.not_like(f"{contrib.WEEK}%"),  # (the weeks': the trends read them)
        )
    )
    cells = {(name, key): (n, total) for name, key, n, total in rows}
    return Tallied(program_id, department, cells)


def _of(table: Table, t: Tallied) -> Any:
    mine = table.c.program_id == t.program_id
    return mine if t.department is None else and_(mine, table.c.department == t.department)


async def held_after(conn: Any, t: Tallied, now: datetime) -> bool:
    """Whether a current relationship's latest session held is timed after `now` (confirmed
    ahead of its time): its latest before `now` is not in the tallies (count from the rows)."""
    query = select(T.c.match_id).where(_of(T, t), T.c.current, T.c.last_held_at >= now)
    return (await conn.execute(query.limit(1))).first() is not None


async def cadence(conn: Any, t: Tallied, current: int, now: datetime) -> tuple[int, list[datetime]]:
    """The current relationships with a session held within the programme's cadence before
    `now`, and the middle one or two of their latest activities (for the median)."""
    cadence_s = (
        await conn.execute(select(G.c.cadence_s).where(G.c.id == t.program_id))
    ).scalar_one_or_none()
    mine = and_(_of(T, t), T.c.current)
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


async def waits(conn: Any, t: Tallied, matched: int) -> tuple[list[float], float | None]:
    """Of the `matched` mentees' waits for a first proposed mentor (seconds): the middle one
    or two (the median), and the 90th percentile by nearest rank (read from the top: a tenth
    of the index instead of nine)."""
    if not matched:
        return [], None
    mine = select(PT.c.waited_s).where(_of(PT, t), PT.c.waited_s.is_not(None))
    middle = await conn.execute(
        mine.order_by(PT.c.waited_s).offset((matched - 1) // 2).limit(2 - matched % 2)
    )
    rank = max(1, math.ceil(0.9 * matched))
    p90 = await conn.execute(mine.order_by(PT.c.waited_s.desc()).offset(matched - rank).limit(1))
    return list(middle.scalars()), p90.scalar_one_or_none()


async def pending(conn: Any, program_id: str) -> int:
    """How many of the programme's marks wait for a drain."""
    query = select(func.count()).where(TP.c.program_id == program_id)
    return int((await conn.execute(query)).scalar_one())


Settle = Callable[[str], Awaitable[None]]


class TallyLoop(PollingLoop):
    """Drains the marks (looking every poll interval), DRAIN per transaction; a failure (the
    database away) leaves them for the next round. It gives way to the service's consumer:
    while the consumer applies events (a burst, a backlog), the marks wait (at most
    YIELD_AT_MOST_S), and they are counted once it pauses, each relationship once for all its
    events meanwhile. `settle` drains one programme's first, for a read of its KPIs."""

    NAME = "tallies"
    YIELD_AT_MOST_S = 10.0

    def __init__(self, runtime: ServiceRuntime) -> None:
        settings = runtime.settings
        super().__init__(
            clock=runtime.clock,
            poll_interval_s=settings.timer_poll_interval_s,
            base_backoff_s=settings.consumer_retry_backoff_s,
            max_backoff_s=settings.retry_max_backoff_s,
        )
        self._engine = runtime.engine
        self._uow = runtime.uow
        self._consumer = runtime.consumer.stats
        self._applied = self._consumer.applied
        self._marked_since: float | None = None  # (monotonic) when marks were first seen
        self.drained = self.settled = 0

    def _giving_way(self) -> bool:
        """The consumer applied events since the last look, and the marks have not waited
        their longest yet."""
        applied, self._applied = self._applied, self._consumer.applied
        since = self._marked_since if self._marked_since is not None else time.monotonic()
        return applied != self._applied and time.monotonic() - since < self.YIELD_AT_MOST_S

    async def _next_due(self) -> datetime | None:
        async with reading(self._engine) as conn:
            waiting = await conn.scalar(select(TP.c.seq).limit(1))
        if waiting is None:
            self._marked_since = None
            return None
        if self._marked_since is None:
            self._marked_since = time.monotonic()
        now = self._clock.now()
        return now + timedelta(seconds=self._poll) if self._giving_way() else now

    async def _round(self) -> int:
        async with self._uow() as uow:
            taken = await uow.session.run_sync(lambda s: drain(s.connection()))
            await uow.commit()
        self.drained += taken
        if not taken:
            self._marked_since = None
        # (Another round now, unless the consumer has work again.)
        return 0 if self._giving_way() else taken

    async def settle(self, program_id: str) -> None:
        """The programme's marks drained, in a transaction of its own, unless there are more
        than SETTLE_AT_MOST (this loop is catching up, after a rebuild or an upgrade: the read
        counts from the rows meanwhile)."""
        async with self._uow() as uow:
            conn = await uow.session.connection()
            waiting = await pending(conn, program_id)
            if 0 < waiting <= SETTLE_AT_MOST:
                await uow.session.run_sync(
                    lambda s: drain(s.connection(), program_id=program_id, limit=SETTLE_AT_MOST)
                )
                await uow.commit()
                self.settled += waiting

    async def status(self) -> dict:
        async with reading(self._engine) as conn:
            waiting = await conn.scalar(select(func.count()).select_from(TP))
        return {
            **await super().status(),
            "pending": waiting,  # marks not counted yet
            "drained": self.drained,
            "settled": self.settled,  # marks drained by reads first
            "failures": self.failures,
        }
