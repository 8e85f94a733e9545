"""Reporting's tables as SQLAlchemy Core tables: plain columns for the SQL expressions of the
KPIs, the trends and the tallies (one home for the short names they share)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table, func
from sqlmodel import SQLModel

from services.reporting.models import (
    CaseView,
    CommunityAttendanceView,
    EmployeeView,
    GoalView,
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
    SkillView,
    SurveyView,
    TallyPending,
)


def _table(model: type[SQLModel]) -> Table:
    return model.__table__  # type: ignore[attr-defined, no-any-return]


# The views.
P, M, S, R, G = (
    _table(v) for v in (ParticipantView, MatchView, SessionView, RatingView, ProgramView)
)
K, Y, H, U, E, C = (
    _table(v) for v in (SkillView, SurveyView, HealthView, GoalView, EmployeeView, CaseView)
)
A = _table(CommunityAttendanceView)
# The tallies: cells, person counts, what each relationship and participant added, the marks.
CELL, PERSON = _table(KpiCell), _table(KpiPerson)
T, PT, TP = _table(RelationshipTally), _table(ParticipantTally), _table(TallyPending)


def week_of(column: Any, dialect: str) -> Any:
    """The Monday (UTC) of `column`'s week, as the database computes it (a date; SQLite: its
    ISO text)."""
    if dialect == "postgresql":
        return func.date(func.date_trunc("week", func.timezone("UTC", column)))
    return func.date(column, "weekday 0", "-6 days")  # SQLite: next Sunday (or today), -6
