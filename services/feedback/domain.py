"""Feedback's rules, free of I/O: who may rate what, and when a relationship is at risk."""

from __future__ import annotations

from dataclasses import dataclass

from shared.errors import Conflict, Forbidden


def ensure_can_rate(*, session_status: str, author: str | None, mentor: str, mentee: str) -> None:
    if author not in (mentor, mentee):
        raise Forbidden("only the session's mentor or mentee can rate it")
    if session_status != "completed":
        raise Conflict(f"cannot rate a session that is {session_status}")


@dataclass(frozen=True)
class Risk:
    at_risk: bool
    average: float | None
    window: list[int]


def assess(ratings_oldest_first: list[int], *, window: int, threshold: float) -> Risk:
    """At risk when the last `window` ratings exist and average below the threshold."""
    recent = ratings_oldest_first[-window:]
    if len(recent) < window:
        return Risk(False, None, recent)
    average = sum(recent) / len(recent)
    return Risk(average < threshold, round(average, 4), recent)
