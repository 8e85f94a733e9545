"""Feedback's rules, free of I/O: who may rate what, and when a relationship is at risk."""

from __future__ import annotations

from dataclasses import dataclass

from shared.contracts import feedback as ev
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
