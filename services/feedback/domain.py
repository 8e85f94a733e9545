"""Feedback's rules, free of I/O: who may rate what, and when a relationship is at risk."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Literal

from shared.contracts.enrollment import AtRiskAction, EngagementPolicy
from shared.contracts.feedback import (
    CaseAction,
    CaseCause,
    CaseOutcome,
    CaseStatus,
    HealthReason,
    HealthState,
)
from shared.contracts.matching import EndReason
from shared.contracts.sessions import SessionStatus
from shared.errors import Conflict, Forbidden, Invalid


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


@dataclass(frozen=True, slots=True)
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


# --- relationship health ------------------------------------------------------------------
#
# Recomputed on every signal. Points lost, each signal's share of them the reason's weight:
#   inactivity (no session held or planned): 15 past nudge_after cadences, 35 past
#     attention_after, 60 past at_risk_after;
#   one side's ratings low (its last `window` below the threshold): 25 per side;
#   an unconfirmed session: 10 each (at most 20); a no-show: 15 each (at most 30);
#   the latest pulse answered by either side averaging 2 or less: 20; an unanswered survey:
#   5 each (at most 10).
# State: at_risk past at_risk_after, with both sides' ratings low, or at a score of
# AT_RISK_SCORE or less (several signals at once); needs_attention past
# attention_after, with one side's ratings low, an unconfirmed session, a no-show, a low
# pulse or two unanswered surveys;
# too_early younger than one cadence with nothing against it; on_track otherwise.

Side = Literal["mentor", "mentee"]
AT_RISK_SCORE = 40


@dataclass(frozen=True, slots=True)
class HealthInputs:
    now: datetime
    activated_at: datetime
    last_activity_at: datetime  # the last session held or planned, or the activation
    policy: EngagementPolicy
    ratings: dict[Side, list[int]]  # each side's ratings, oldest first
    unconfirmed: int = 0
    no_shows: int = 0
    low_pulse: bool = False
    unanswered: int = 0


@dataclass(frozen=True)
class Health:
    state: HealthState
    score: int
    # Each signal behind the score: its share of the points lost, and what it says.
    shares: tuple[tuple[str, float, str], ...] = ()

    @property
    def reasons(self) -> list[HealthReason]:
        """The reasons as the contract states them (built when asked: a programme re-judged
        at once stores 100,000 relationships' reasons as plain values)."""
        return [HealthReason(signal=s, share=share, detail=d) for s, share, d in self.shares]

    def stored(self) -> list[dict[str, object]]:
        """The reasons as a relationship row keeps them (a HealthReason's fields)."""
        return [{"signal": s, "share": share, "detail": d} for s, share, d in self.shares]

    @property
    def signals(self) -> list[str]:
        return [s for s, _, _ in self.shares]


def idle_cadences(inputs: HealthInputs) -> float:
    return (inputs.now - inputs.last_activity_at) / inputs.policy.cadence


def health(inputs: HealthInputs) -> Health:
    p, lost = inputs.policy, []
    idle = idle_cadences(inputs)
    for after, points in ((p.at_risk_after, 60), (p.attention_after, 35), (p.nudge_after, 15)):
        if idle >= after:
            since = inputs.last_activity_at.isoformat(timespec="seconds")
            lost.append(("inactivity", points, f"no session held or planned since {since}"))
            break
    low_sides = []
    thresholds = {"mentor": p.mentor_low_rating, "mentee": p.mentee_low_rating}
    for side in ("mentor", "mentee"):
        risk = assess(
            inputs.ratings.get(side, []), window=p.min_ratings, threshold=thresholds[side]
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
    shares = tuple((signal, round(points / total, 4), detail) for signal, points, detail in lost)
    score = max(0, 100 - total)
    if idle >= p.at_risk_after or len(low_sides) == 2 or score <= AT_RISK_SCORE:
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
    return Health(state=state, score=score, shares=shares)


@dataclass(frozen=True)
class SessionCounts:
    held: int
    unconfirmed: int  # since the last session held
    no_shows: int  # since the last session held


def session_counts(sessions: list[tuple[SessionStatus, datetime | None]]) -> SessionCounts:
    """A relationship's sessions (status, scheduled at): held, and the unconfirmed and missed
    ones planned after the last one held (meeting again clears what came before)."""
    held = [at for status, at in sessions if status is SessionStatus.completed and at]
    last_held = max(held, default=None)

    def since(status: SessionStatus) -> int:
        return sum(
            1
            for s, at in sessions
            if s is status and (last_held is None or at is None or at > last_held)
        )

    return SessionCounts(
        held=len(held),
        unconfirmed=since(SessionStatus.unconfirmed),
        no_shows=since(SessionStatus.no_show),
    )


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


# --- corrective cases ------------------------------------------------------------------------
#
# open --mediation|training|pause|resume--> monitoring --health at risk again--> open
# open|monitoring --repair|conclude|dismiss--> closed (repaired, concluded, dismissed)
# open|monitoring --health on track or too early--> closed (recovered)
# open|monitoring --the match ended otherwise--> closed (ended)

RECOVERED = (HealthState.on_track, HealthState.too_early)


@dataclass(frozen=True)
class Recommendation:
    action: CaseAction
    why: str


def recommend(
    *, cause: CaseCause, signals: set[str], held: int, has_training: bool
) -> Recommendation:
    """The action the rules recommend for a case (the README's table, in this order)."""
    if cause is CaseCause.incompatible:
        return Recommendation(CaseAction.repair, "a party ended the match as incompatible")
    low = {s.removeprefix("low_ratings_") for s in signals if s.startswith("low_ratings_")}
    if low == {"mentor", "mentee"}:
        return Recommendation(CaseAction.repair, "both sides rate their sessions low")
    if low == {"mentee"} and has_training:
        return Recommendation(
            CaseAction.training, "the mentee rates the sessions low: training for the mentor"
        )
    if low or signals & {"low_pulse", "unanswered_survey", "no_show", "unconfirmed"}:
        return Recommendation(
            CaseAction.mediation,
            "one side's ratings or the surveys show a problem: a meeting with the programme "
            "manager",
        )
    if held == 0:
        return Recommendation(
            CaseAction.repair, "the pair never met despite the nudges: a new mentor"
        )
    return Recommendation(
        CaseAction.conclude, f"the pair stopped meeting after {held} session(s) despite nudges"
    )


def end_reason(*, cause: CaseCause, signals: set[str]) -> EndReason:
    """Why a match a case re-pairs or concludes ends (parties read `ended_by_programme` for
    the reasons that would reveal the other side's answers)."""
    if cause is CaseCause.incompatible:
        return EndReason.incompatible
    if any(s.startswith("low_ratings_") for s in signals) or "low_pulse" in signals:
        return EndReason.low_satisfaction
    if signals == {"inactivity"}:
        return EndReason.disengaged
    return EndReason.programme_decision


@dataclass(frozen=True)
class CaseState:
    status: CaseStatus
    outcome: CaseOutcome | None
    paused: bool
    training_item_id: str | None
    training_completed_at: datetime | None

    def __post_init__(self) -> None:  # a row read back holds plain strings
        object.__setattr__(self, "status", CaseStatus(self.status))
        if self.outcome is not None:
            object.__setattr__(self, "outcome", CaseOutcome(self.outcome))


# Actions on the relationship itself: it must still be running.
NEEDS_ACTIVE = (CaseAction.mediation, CaseAction.training, CaseAction.pause, CaseAction.resume)

CLOSING = {
    CaseAction.repair: CaseOutcome.repaired,
    CaseAction.conclude: CaseOutcome.concluded,
    CaseAction.dismiss: CaseOutcome.dismissed,
}


def act(
    c: CaseState, *, action: CaseAction, catalogue: set[str], training_item_id: str | None = None
) -> CaseState:
    """An action on a case (an admin's, or the policy's): the case's next state."""
    if c.status is CaseStatus.closed:
        raise Conflict(f"the case is closed ({c.outcome.value if c.outcome else 'closed'})")
    if action in CLOSING:
        return replace(c, status=CaseStatus.closed, outcome=CLOSING[action])
    if action is CaseAction.pause:
        if c.paused:
            raise Conflict("the relationship is already paused by this case")
        return replace(c, status=CaseStatus.monitoring, paused=True)
    if action is CaseAction.resume:
        if not c.paused:
            raise Conflict("the relationship is not paused by this case")
        return replace(c, status=CaseStatus.monitoring, paused=False)
    if action is CaseAction.training:
        if training_item_id not in catalogue:
            known = sorted(catalogue) or "none: the programme has no training catalogue"
            raise Invalid(
                f"unknown training item {training_item_id!r}; the catalogue holds {known}",
                field="training_item_id",
            )
        return replace(
            c,
            status=CaseStatus.monitoring,
            training_item_id=training_item_id,
            training_completed_at=None,
        )
    return replace(c, status=CaseStatus.monitoring)  # mediation


def complete_training(c: CaseState, *, at: datetime) -> CaseState:
    if c.training_item_id is None:
        raise Conflict("no training is assigned in this case")
    if c.training_completed_at is not None:
        raise Conflict("the training is already completed")
    return replace(c, training_completed_at=at)


def health_moved(c: CaseState, state: HealthState) -> CaseState:
    """The relationship's health changed: back on track closes the case (recovered); at risk
    again reopens one being monitored."""
    if c.status is CaseStatus.closed:
        return c
    if state in RECOVERED:
        return replace(c, status=CaseStatus.closed, outcome=CaseOutcome.recovered)
    if state is HealthState.at_risk and c.status is CaseStatus.monitoring and not c.paused:
        return replace(c, status=CaseStatus.open)
    return c


def match_ended(c: CaseState) -> CaseState:
    """The match ended by other means (a party, a departure): nothing left to correct."""
    if c.status is CaseStatus.closed:
        return c
    return replace(c, status=CaseStatus.closed, outcome=CaseOutcome.ended)


def policy_action(on_at_risk: AtRiskAction) -> CaseAction | None:
    """The action a programme's policy takes without review after the grace period."""
    return {
        AtRiskAction.rematch: CaseAction.repair,
        AtRiskAction.conclude: CaseAction.conclude,
    }.get(on_at_risk)


def with_rhythm(policy: EngagementPolicy, rhythm: timedelta | None) -> EngagementPolicy:
    """The pair's agreed meeting rhythm, when they signed one, replaces the programme's
    cadence (inactivity is counted in their own rhythm)."""
    return policy if rhythm is None else policy.model_copy(update={"cadence": rhythm})
