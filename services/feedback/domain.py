"""Feedback's rules, free of I/O: who may rate what, and when a relationship is at risk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from shared.contracts import feedback as ev
from shared.contracts.enrollment import EngagementPolicy
from shared.contracts.feedback import HealthReason, HealthState
from shared.contracts.sessions import SessionStatus
from shared.errors import Conflict, Forbidden


def ensure_can_rate(
    *,
    session_status: SessionStatus,
    author: str | None,
    mentor: str,
    mentee: str,
    already_rated: bool,
) -> None:
    """A held session is rated once by each of its two parties."""
    if author not in (mentor, mentee):
        raise Forbidden("only the session's mentor or mentee can rate it")
    if session_status is not SessionStatus.completed:
        raise Conflict(f"cannot rate a session that is {session_status.value}")
    if already_rated:
        raise Conflict("you already rated this session")


@dataclass(frozen=True)
class Risk:
    at_risk: bool
    average: float | None
    window: list[int]
    threshold: float


def assess(ratings_oldest_first: list[int], *, window: int, threshold: float) -> Risk:
    """At risk when the last `window` ratings exist and average below the threshold."""
    recent = ratings_oldest_first[-window:]
    if len(recent) < window:
        return Risk(False, None, recent, threshold)
    average = sum(recent) / len(recent)
    return Risk(average < threshold, round(average, 4), recent, threshold)


def alarm(risk: Risk, *, match_id: str, program_id: str) -> ev.RelationshipAtRisk | None:
    """The event that tells matching to correct the relationship, when it is at risk."""
    if not risk.at_risk or risk.average is None:
        return None
    return ev.RelationshipAtRisk(
        match_id=match_id,
        program_id=program_id,
        average_rating=risk.average,
        ratings=risk.window,
        threshold=risk.threshold,
    )


# --- relationship health ------------------------------------------------------------------
#
# Recomputed on every signal. Points lost, each signal's share of them the reason's weight:
#   inactivity (no session held or planned): 15 past nudge_after cadences, 35 past
#     attention_after, 60 past at_risk_after;
#   one side's ratings low (its last `window` below the threshold): 25 per side;
#   an unconfirmed session: 10 each (at most 20); a no-show: 15 each (at most 30);
#   the latest pulse answered by either side averaging 2 or less: 20; an unanswered survey:
#   5 each (at most 10).
# State: at_risk past at_risk_after or with both sides' ratings low; needs_attention past
# attention_after, with one side's ratings low, an unconfirmed session, a no-show, a low
# pulse or two unanswered surveys;
# too_early younger than one cadence with nothing against it; on_track otherwise.

Side = Literal["mentor", "mentee"]


@dataclass(frozen=True)
class HealthInputs:
    now: datetime
    activated_at: datetime
    last_activity_at: datetime  # the last session held or planned, or the activation
    policy: EngagementPolicy
    ratings: dict[Side, list[int]]  # each side's ratings, oldest first
    window: int
    threshold: float
    unconfirmed: int = 0
    no_shows: int = 0
    low_pulse: bool = False
    unanswered: int = 0


@dataclass(frozen=True)
class Health:
    state: HealthState
    score: int
    reasons: list[HealthReason]


def idle_cadences(inputs: HealthInputs) -> float:
    return (inputs.now - inputs.last_activity_at) / inputs.policy.cadence


def health(inputs: HealthInputs) -> Health:
    p, lost = inputs.policy, []
    idle = idle_cadences(inputs)
    days = (inputs.now - inputs.last_activity_at).total_seconds() / 86400
    for after, points in ((p.at_risk_after, 60), (p.attention_after, 35), (p.nudge_after, 15)):
        if idle >= after:
            lost.append(("inactivity", points, f"no session held or planned for {days:.1f} days"))
            break
    low_sides = []
    for side in ("mentor", "mentee"):
        risk = assess(
            inputs.ratings.get(side, []), window=inputs.window, threshold=inputs.threshold
        )
        if risk.at_risk:
            low_sides.append(side)
            lost.append(
                (f"low_ratings_{side}", 25, f"the {side}'s last ratings average {risk.average}")
            )
    if inputs.unconfirmed:
        n = inputs.unconfirmed
        lost.append(("unconfirmed", min(10 * n, 20), f"{n} session(s) neither held nor cancelled"))
    if inputs.no_shows:
        n = inputs.no_shows
        lost.append(("no_show", min(15 * n, 30), f"{n} no-show(s)"))
    if inputs.low_pulse:
        lost.append(("low_pulse", 20, "the latest pulse survey averages 2 or less"))
    if inputs.unanswered:
        n = inputs.unanswered
        lost.append(("unanswered_survey", min(5 * n, 10), f"{n} survey(s) left unanswered"))
    total = sum(points for _, points, _ in lost)
    reasons = [
        HealthReason(signal=signal, share=round(points / total, 4), detail=detail)
        for signal, points, detail in lost
    ]
    if idle >= p.at_risk_after or len(low_sides) == 2:
        state = HealthState.at_risk
    elif (
        idle >= p.attention_after
        or low_sides
        or inputs.unconfirmed
        or inputs.no_shows
        or inputs.low_pulse
        or inputs.unanswered >= 2
    ):
        state = HealthState.needs_attention
    elif inputs.now - inputs.activated_at < p.cadence and not lost:
        state = HealthState.too_early
    else:
        state = HealthState.on_track
    return Health(state=state, score=max(0, 100 - total), reasons=reasons)


def next_inactivity_check(inputs: HealthInputs) -> datetime | None:
    """When the idle time next crosses a threshold (nudge, attention, at risk), if any."""
    p = inputs.policy
    for after in (p.nudge_after, p.attention_after, p.at_risk_after):
        at = inputs.last_activity_at + p.cadence * after
        if at > inputs.now:
            return at
    return None


def nudge_due_now(inputs: HealthInputs, *, last_nudge_at: datetime | None) -> bool:
    """Idle for `nudge_after` cadences and not nudged since the last activity: once per
    idle spell."""
    if idle_cadences(inputs) < inputs.policy.nudge_after:
        return False
    return last_nudge_at is None or last_nudge_at < inputs.last_activity_at


LOW_PULSE = 2.0


def survey_mean(quality: int, progress: int, rhythm: int, recommend: int) -> float:
    return round((quality + progress + rhythm + recommend) / 4, 2)


def ensure_can_answer(*, status: str, respondent: str, caller: str | None, expired: bool) -> None:
    """The respondent answers their own survey, once, before it expires."""
    if caller != respondent:
        raise Forbidden("only the survey's respondent answers it")
    if status != "open" or expired:
        raise Conflict(f"this survey is {'expired' if expired else status}")
