"""Skill progress, derived from a relationship's skill assessments (pure): the one home of the
rule, for the sessions service (a pair's own view) and reporting (the programme's)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

# Privacy: a breakdown standing on fewer people than this is suppressed.
MIN_GROUP = 5


@dataclass(frozen=True)
class Assessed:
    phase: str  # baseline, midpoint, final
    by: str  # mentee (their own) or mentor (their view)
    ratings: Mapping[str, int]


def skill_progress(assessments: Sequence[Assessed]) -> dict[str, Any]:
    """Per skill and perspective (the mentee's own, the mentor's view): the ratings by phase
    and the progress, latest minus baseline; the relationship's mean progress over the
    mentee's skills that have both."""
    table: dict[str, dict[str, dict[str, int]]] = {}
    for x in assessments:
        for skill, rating in x.ratings.items():
            table.setdefault(skill, {}).setdefault(x.by, {})[x.phase] = rating
    skills: dict[str, Any] = {}
    deltas: list[int] = []
    for skill, views in sorted(table.items()):
        out: dict[str, Any] = {}
        for by, phases in views.items():
            latest = phases.get("final", phases.get("midpoint"))
            base = phases.get("baseline")
            change = None if latest is None or base is None else latest - base
            out[by] = {**phases, "progress": change}
            if by == "mentee" and change is not None:
                deltas.append(change)
        skills[skill] = out
    mean = round(sum(deltas) / len(deltas), 2) if deltas else None
    return {"skills": skills, "mean_progress": mean}


def programme_skill_progress(
    per_relationship: Sequence[Sequence[Assessed]], *, min_group: int
) -> tuple[dict[str, dict[str, float | int]], int]:
    """A programme's progress per skill: the mean of its relationships' progress (the
    mentee's own, latest minus baseline) and how many relationships it stands on. A skill
    measured in fewer than `min_group` relationships is suppressed (privacy); the second value
    counts those."""
    changes: dict[str, list[int]] = {}
    for assessments in per_relationship:
        for skill, views in skill_progress(assessments)["skills"].items():
            change = views.get("mentee", {}).get("progress")
            if change is not None:
                changes.setdefault(skill, []).append(change)
    shown = {
        skill: {"relationships": len(v), "mean_progress": round(sum(v) / len(v), 2)}
        for skill, v in sorted(changes.items())
        if len(v) >= min_group
    }
    return shown, len(changes) - len(shown)
