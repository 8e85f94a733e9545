"""Reporting's arithmetic, free of I/O."""

from __future__ import annotations

import math
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from enum import StrEnum
from typing import Any

from shared.progress import MIN_GROUP


def counted(counts: Mapping[str | None, int], *, keys: Iterable[str] = ()) -> dict[str, int]:
    """Counts made by the database (a GROUP BY) with every expected key present (0 when
    absent) and first, the others after them in order; no count for a missing value."""
    found = dict(sorted((k, n) for k, n in counts.items() if k is not None))
    return {k: found.get(k, 0) for k in keys} | found


def average(total: int, count: int) -> float | None:
    """A mean to the thousandth, from a sum and a count; none of nothing."""
    return round(total / count, 3) if count else None


def hours(minutes: Iterable[int]) -> float:
    """Minutes of sessions as hours, to the hundredth."""
    return round(sum(minutes) / 60, 2)


# --- KPIs -----------------------------------------------------------------------------------
#
# Each KPI is defined once, here: its name, group, unit and the sentence returned with it (and
# quoted in the README). The use case gathers the aggregates from the database; these functions
# turn them into figures and apply the privacy rule.


class KpiGroup(StrEnum):
    participation = "participation"
    matching = "matching"
    engagement = "engagement"
    satisfaction = "satisfaction"
    outcomes = "outcomes"
    health = "health"


@dataclass(frozen=True)
class Definition:
    group: KpiGroup
    unit: str
    text: str


P, M, E, S = KpiGroup.participation, KpiGroup.matching, KpiGroup.engagement, KpiGroup.satisfaction
OUT, H = KpiGroup.outcomes, KpiGroup.health
DEFINITIONS: dict[str, Definition] = {
    "participants": Definition(
        P,
        "people",
        "Participants who asked to enrol before the period's end, by role and current status "
        "(pending approval, active, withdrawn, rejected).",
    ),
    "pending_approvals": Definition(P, "people", "Enrolments awaiting an admin's approval now."),
    "waiting_list": Definition(P, "people", "Active mentees waiting now for a mentor with room."),
    "withdrawals": Definition(
        P, "people", "Participants who withdrew during the period, by reason category."
    ),
    "match_rate": Definition(
        M,
        "share",
        "Share of the mentees enrolled before the period's end who had been proposed a mentor"
        " by then (the usual aim: 0.7).",
    ),
    "time_to_match_days": Definition(
        M,
        "days",
        "Days from enrolment to the first proposed mentor, for mentees first proposed one "
        "during the period: median and p90 (nearest rank).",
    ),
    "acceptance_rate": Definition(
        M,
        "share",
        "Share of the proposals decided during the period that were accepted (activated) "
        "rather than declined.",
    ),
    "rematch_rate": Definition(
        M,
        "share",
        "Share of the matches proposed during the period that replace a relationship that ended.",
    ),
    "rematch_causes": Definition(
        M, "relationships", "The end reasons of the relationships those re-matches replace."
    ),
    "mentor_load": Definition(
        M, "mentors", "Active mentors by their number of active mentees now."
    ),
    "active_relationships": Definition(
        E, "relationships", "Relationships active at some time during the period."
    ),
    "relationships_in_cadence": Definition(
        E,
        "share",
        "Share of the relationships active at the period's end (or now) with a session held "
        "within their programme's cadence before it.",
    ),
    "sessions": Definition(
        E,
        "sessions",
        "Sessions planned for a time in the period, by outcome: held, planned (not yet held),"
        " missed (cancelled or unconfirmed), no_show.",
    ),
    "mentoring_hours": Definition(
        E, "hours", "Hours of the sessions held in the period (their planned durations)."
    ),
    "sessions_per_relationship": Definition(
        E, "sessions", "Sessions held in the period per relationship active in it."
    ),
    "days_since_last_activity": Definition(
        E,
        "days",
        "For relationships active at the period's end (or now): days since their last session"
        " held (or their start, if none), median.",
    ),
    "community_attendance": Definition(
        E,
        "people",
        "Community events (workshops, exchange groups, trainings) held during the period (for "
        "a programme: its own): the people who attended, the events, and the share of seats "
        "taken that were attended.",
    ),
    "ratings": Definition(
        S,
        "rating",
        "Session ratings given during the period, per side (the mentor's, the mentee's): how "
        "many of each value 1-5, and their mean.",
    ),
    "survey_response_rate": Definition(
        S,
        "share",
        "Share of the surveys sent during the period (pulse and closing) that their "
        "respondent answered.",
    ),
    "survey_scores": Definition(
        S,
        "rating",
        "Mean answer (1-5) of the surveys answered during the period, by kind (pulse, closing).",
    ),
    "would_recommend": Definition(
        S,
        "share",
        "Share of the surveys answered during the period (pulse and closing) whose respondent "
        "would recommend the programme: 4 or 5 of 5.",
    ),
    "skill_progress": Definition(
        OUT,
        "points",
        "Per target skill: relationships measured (the mentee's own baseline and a later "
        "assessment), their mean progress (latest minus baseline) and the share that "
        "improved.",
    ),
    "goals_reached": Definition(
        OUT,
        "share",
        "Share of the goals of signed agreements brought to 100 % (goals of relationships "
        "started before the period's end).",
    ),
    "completion_rate": Definition(
        OUT,
        "share",
        "Share of the relationships that ended during the period that were completed (rather "
        "than ended for another reason).",
    ),
    "retention": Definition(
        OUT,
        "share",
        "Employees still with the company at the period's end among those there at its start "
        "(hired before the end, not gone before the start), participants of the scope and the"
        " others, with the population sizes and how many left.",
    ),
    "health_states": Definition(
        H,
        "relationships",
        "Active relationships by their current health state (a new one is too early to tell"
        " until feedback judges otherwise).",
    ),
    "health_reasons": Definition(
        H,
        "relationships",
        "Relationships needing attention or at risk now, by the signals behind it.",
    ),
    "cases": Definition(
        H, "cases", "Corrective cases open now, and those closed during the period by outcome."
    ),
}


@dataclass(frozen=True)
class Figure:
    """A KPI's value and the number of people it describes."""

    value: Any
    population: int


def suppress(value: Any, population: int, *, min_group: int = MIN_GROUP) -> tuple[Any, bool]:
    """Privacy: a figure describing fewer than `min_group` people (but some) is withheld."""
    if 0 < population < min_group:
        return None, True
    return value, False


def cells(counts: Mapping[str, Figure], *, min_group: int = MIN_GROUP) -> tuple[dict, bool]:
    """A breakdown: each cell withheld on its own when it describes fewer than `min_group`."""
    out: dict[str, Any] = {}
    withheld = False
    for key, figure in counts.items():
        if isinstance(figure.value, Mapping):
            out[key], inner = cells(figure.value, min_group=min_group)
        else:
            out[key], inner = suppress(figure.value, figure.population, min_group=min_group)
        withheld = withheld or inner
    return out, withheld


def share(part: int, whole: int) -> float | None:
    return round(part / whole, 3) if whole else None


def median(values: Sequence[float]) -> float | None:
    return round(statistics.median(values), 2) if values else None


def nearest_rank(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile by nearest rank: the smallest value with at least q of them at or
    below it (ceil(q * n)-th in order)."""
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[max(1, math.ceil(q * len(ordered))) - 1], 2)


def days(delta: timedelta) -> float:
    return delta.total_seconds() / 86400


# --- trends: weekly series (ISO weeks, from Monday 00:00 UTC) -------------------------------

TRENDS: dict[str, Definition] = {
    "enrolments": Definition(P, "people", "Participants enrolled during the week."),
    "proposals": Definition(M, "matches", "Mentors proposed to mentees during the week."),
    "sessions_held": Definition(
        E, "sessions", "Sessions planned for a time in the week that were held."
    ),
    "mentoring_hours": Definition(E, "hours", "Hours of those sessions (planned durations)."),
    "active_relationships": Definition(
        E, "relationships", "Relationships active at the week's end (or now, for this week)."
    ),
    "mentee_rating": Definition(S, "rating", "Mean of the ratings mentees gave during the week."),
    "mentor_rating": Definition(S, "rating", "Mean of the ratings mentors gave during the week."),
    "pulse_score": Definition(S, "rating", "Mean answer of the pulse surveys answered that week."),
    "closing_score": Definition(
        S, "rating", "Mean answer of the closing surveys answered that week."
    ),
}

MAX_WEEKS = 104  # the longest series asked at once


def monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def weeks(first: date, last: date) -> list[date]:
    """The Mondays of the weeks from `first`'s to `last`'s, both included."""
    start, end = monday(first), monday(last)
    return [start + timedelta(weeks=i) for i in range((end - start).days // 7 + 1)]
