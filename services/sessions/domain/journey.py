"""A relationship's journey, pure: its mentorship agreement (goals with target skills and
milestones, the meeting rhythm, both parties' confirmation, versions) and its skill
assessments (baseline, midpoint, final), from which skill progress is derived.

    draft --confirm (one side)--> draft --confirm (the other)--> signed (version n)
    signed --a change of goals or rhythm--> draft (version n + 1; version n kept in history)

Progress on a goal and reaching a milestone are the journey itself, not a change of terms:
they do not make a new version.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from shared.contracts import sessions as ev
from shared.progress import Assessed, skill_progress

__all__ = ["Assessed", "skill_progress"]
from shared.contracts.enrollment import Tag
from shared.domain import Transition
from shared.errors import Conflict, Forbidden, Invalid

Side = Literal["mentor", "mentee"]
Slug = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")


class Milestone(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Slug
    title: str = Field(min_length=1, max_length=200)
    due_on: date
    reached_on: date | None = None


class Goal(BaseModel):
    """A goal of the pair: from the programme's objectives or their own words, with the
    target skills it develops (the programme's vocabulary) and milestones."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Slug
    title: str = Field(min_length=1, max_length=200)
    skills: list[Tag] = Field(default=[], max_length=20)
    milestones: list[Milestone] = Field(default=[], max_length=20)
    progress: int = Field(default=0, ge=0, le=100)  # percent, as the pair reports it

    @field_validator("milestones")
    @classmethod
    def _unique(cls, items: list[Milestone]) -> list[Milestone]:
        ids = [m.id for m in items]
        if len(ids) != len(set(ids)):
            raise ValueError("milestone ids must be unique within a goal")
        return items


def check_goals(goals: list[Goal]) -> list[Goal]:
    ids = [g.id for g in goals]
    if len(ids) != len(set(ids)):
        raise ValueError("goal ids must be unique")
    return goals


@dataclass(frozen=True)
class AgreementState:
    """A match's agreement as its rules see it (the row's fields of the same names)."""

    match_id: str
    program_id: str
    mentor_employee_id: str
    mentee_employee_id: str
    version: int
    goals: tuple[Goal, ...]
    rhythm: timedelta | None
    mentor_confirmed: bool
    mentee_confirmed: bool
    signed_at: datetime | None
    history: tuple[dict[str, Any], ...] = ()

    def __post_init__(self) -> None:  # rows hold lists and plain dicts
        goals = tuple(g if isinstance(g, Goal) else Goal.model_validate(g) for g in self.goals)
        object.__setattr__(self, "goals", goals)
        object.__setattr__(self, "history", tuple(self.history))

    @property
    def ever_signed(self) -> bool:
        """A version was signed (the current one, or one before a change)."""
        return self.signed_at is not None or self.version > 1

    @property
    def skills(self) -> list[str]:
        """The agreement's target skills: its goals', in order."""
        return list(dict.fromkeys(s for g in self.goals for s in g.skills))

    def goal(self, goal_id: str) -> Goal:
        for g in self.goals:
            if g.id == goal_id:
                return g
        raise Invalid(f"no goal {goal_id!r} in this agreement", field="goal_id")


def side_of(a: AgreementState, employee_id: str | None) -> Side:
    if employee_id == a.mentor_employee_id:
        return "mentor"
    if employee_id == a.mentee_employee_id:
        return "mentee"
    raise Forbidden("only the pair writes and confirms its agreement")


def _facts(a: AgreementState) -> dict[str, Any]:
    return {
        "match_id": a.match_id,
        "program_id": a.program_id,
        "mentor_employee_id": a.mentor_employee_id,
        "mentee_employee_id": a.mentee_employee_id,
        "version": a.version,
    }


def check_vocabulary(goals: Sequence[Goal], vocabulary: Sequence[str]) -> None:
    """A programme with target skills speaks their names in goals too."""
    if not vocabulary:
        return
    for k, g in enumerate(goals):
        unknown = [s for s in g.skills if s not in vocabulary]
        if unknown:
            raise Invalid(
                f"{unknown} are not among the programme's skills {list(vocabulary)}",
                field=f"goals.{k}.skills",
            )


def write(
    current: AgreementState, *, goals: list[Goal], rhythm: timedelta | None
) -> Transition[AgreementState]:
    """New terms. Unchanged: nothing happens. A signed agreement's change is a new version
    (the signed one kept in history) that both confirm again."""
    kept = {g.id: g for g in current.goals}
    # Progress and reached milestones carry over: they are the journey, not the terms.
    goals = [_carry(g, kept.get(g.id)) for g in goals]
    if tuple(goals) == current.goals and rhythm == current.rhythm:
        return Transition(current)
    if current.signed_at is None:
        return Transition(replace(current, goals=tuple(goals), rhythm=rhythm))
    signed = {
        "version": current.version,
        "goals": [g.model_dump(mode="json") for g in current.goals],
        "rhythm": None if current.rhythm is None else current.rhythm.total_seconds(),
        "signed_at": current.signed_at.isoformat(),
    }
    new = replace(
        current,
        version=current.version + 1,
        goals=tuple(goals),
        rhythm=rhythm,
        mentor_confirmed=False,
        mentee_confirmed=False,
        signed_at=None,
        history=(*current.history, signed),
    )
    return Transition(new)


def _carry(goal: Goal, before: Goal | None) -> Goal:
    if before is None:
        return goal
    reached = {m.id: m.reached_on for m in before.milestones}
    milestones = [m.model_copy(update={"reached_on": reached.get(m.id)}) for m in goal.milestones]
    return goal.model_copy(update={"progress": before.progress, "milestones": milestones})


def confirm(a: AgreementState, *, side: Side, at: datetime) -> Transition[AgreementState]:
    """One side confirms the current version; the second confirmation signs it."""
    if not a.goals:
        raise Conflict("an agreement needs at least one goal before it is confirmed")
    if a.signed_at is not None:
        raise Conflict(f"version {a.version} is signed already")
    new = replace(
        a,
        mentor_confirmed=a.mentor_confirmed or side == "mentor",
        mentee_confirmed=a.mentee_confirmed or side == "mentee",
    )
    if not (new.mentor_confirmed and new.mentee_confirmed):
        return Transition(new)
    new = replace(new, signed_at=at)
    event = ev.AgreementSigned(
        **_facts(new),
        goals=[g.model_dump(mode="json", include={"id", "title", "skills"}) for g in new.goals],
        skills=new.skills,
        rhythm=new.rhythm,
    )
    return Transition(new, [event])


def _with_goal(a: AgreementState, goal: Goal) -> AgreementState:
    return replace(a, goals=tuple(goal if g.id == goal.id else g for g in a.goals))


def progress(
    a: AgreementState, *, goal_id: str, percent: int, note: str | None
) -> Transition[AgreementState]:
    if not a.ever_signed:
        raise Conflict("progress is reported once the agreement is signed")
    goal = a.goal(goal_id)
    new = _with_goal(a, goal.model_copy(update={"progress": percent}))
    event = ev.GoalProgressed(
        **_facts(a), goal_id=goal_id, progress=percent, previous=goal.progress, note=note
    )
    return Transition(new, [event])


def reach(
    a: AgreementState, *, goal_id: str, milestone_id: str, on: date
) -> Transition[AgreementState]:
    if not a.ever_signed:
        raise Conflict("milestones are reached once the agreement is signed")
    goal = a.goal(goal_id)
    found = next((m for m in goal.milestones if m.id == milestone_id), None)
    if found is None:
        raise Invalid(f"no milestone {milestone_id!r} in goal {goal_id!r}", field="milestone_id")
    if found.reached_on is not None:
        raise Conflict(f"milestone {milestone_id!r} was reached on {found.reached_on}")
    milestones = [
        m.model_copy(update={"reached_on": on}) if m.id == milestone_id else m
        for m in goal.milestones
    ]
    new = _with_goal(a, goal.model_copy(update={"milestones": milestones}))
    event = ev.MilestoneReached(
        **_facts(a), goal_id=goal_id, milestone_id=milestone_id, due_on=found.due_on, on=on
    )
    return Transition(new, [event])


def milestone_timer(match_id: str, goal_id: str, milestone_id: str) -> str:
    return f"milestone:{match_id}:{goal_id}:{milestone_id}"


def overdue_at(m: Milestone) -> datetime:
    """A milestone is overdue once its due day is over (UTC)."""
    return datetime.combine(m.due_on + timedelta(days=1), time(0), tzinfo=UTC)


def open_milestones(a: AgreementState) -> list[tuple[str, Milestone]]:
    """(goal id, milestone) not reached yet, whose overdue timers a signature arms."""
    return [(g.id, m) for g in a.goals for m in g.milestones if m.reached_on is None]


def overdue(
    a: AgreementState, *, goal_id: str, milestone_id: str, now: datetime
) -> list[ev.MilestoneOverdue]:
    """The overdue event, if the milestone still exists, unreached and past its day."""
    goal = next((g for g in a.goals if g.id == goal_id), None)
    found = goal and next((m for m in goal.milestones if m.id == milestone_id), None)
    if not found or found.reached_on is not None or now < overdue_at(found):
        return []
    return [
        ev.MilestoneOverdue(
            **_facts(a), goal_id=goal_id, milestone_id=milestone_id, due_on=found.due_on
        )
    ]


# --- skill assessments ----------------------------------------------------------------------


class Phase(StrEnum):
    baseline = "baseline"  # when the agreement is made
    midpoint = "midpoint"
    final = "final"  # at the end


def check_ratings(a: AgreementState | None, ratings: Mapping[str, int]) -> None:
    """An assessment rates the signed agreement's target skills, 1 to 5 each."""
    if a is None or not a.ever_signed:
        raise Conflict("skills are assessed against a signed agreement: sign one first")
    allowed = a.skills
    if not ratings:
        raise Invalid("rate at least one of the agreement's skills", field="ratings")
    for skill in ratings:
        if skill not in allowed:
            raise Invalid(
                f"{skill!r} is not a skill of this agreement ({allowed})", field=f"ratings.{skill}"
            )
