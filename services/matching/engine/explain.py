"""Per-mentee answers on top of scores and a solution: explanations, self-service
suggestions, and minimal-change replacements."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.matching.engine.scoring import ArraySource, Scorer
from services.matching.engine.solver import Solution, solve

I64 = npt.NDArray[np.int64]


@dataclass(frozen=True)
class Option:
    mentor: int
    score: float
    contributions: dict[str, float]


@dataclass(frozen=True)
class Explanation:
    mentee: int
    chosen: Option | None
    # The mentee's highest-scored allowed mentor, when it is not the chosen one, and why.
    top_choice: Option | None
    why_not_top_choice: str | None
    # The best allowed mentor other than the chosen one: what the mentee would get instead.
    next_best: Option | None


def _row(scorer: Scorer, mentee: int) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    scores, allowed = scorer.block(np.array([mentee]))
    return scores[0], allowed[0]


def _best(scores: npt.NDArray[np.float32], ok: npt.NDArray[np.bool_], count: int) -> I64:
    """The `count` best allowed mentors by score, best first; ties by index (stable).

    A partition, not a sort of the whole row: a programme may have thousands of mentors.
    """
    idx = np.flatnonzero(ok)
    if len(idx) > count > 0:
        kth = np.partition(scores[idx], len(idx) - count)[len(idx) - count]
        idx = idx[scores[idx] >= kth]  # the count best, and any tied with the last of them
    order = np.lexsort((idx, -scores[idx]))
    return idx[order][: max(count, 0)]


def _option(scorer: Scorer, mentee: int, mentor: int, score: float) -> Option:
    return Option(int(mentor), float(score), scorer.contributions(mentee, int(mentor)))


def explain(
    scorer: Scorer,
    solution: Solution,
    mentee: int,
    row: tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]] | None = None,
) -> Explanation:
    """Why the mentee got its mentor; `row`: its scores and allowed mask, if already known."""
    scores, allowed = _row(scorer, mentee) if row is None else row
    ranked = _best(scores, allowed, 2)
    mentor = int(solution.mentor_of[mentee])
    chosen = _option(scorer, mentee, mentor, scores[mentor]) if mentor >= 0 else None
    top = top_why = None
    if len(ranked) and int(ranked[0]) != mentor:
        j = int(ranked[0])
        top = _option(scorer, mentee, j, scores[j])
        gain = float(scores[j]) - (float(scores[mentor]) if mentor >= 0 else 0.0)
        # The certificate's dual value of j's slot: what the cohort loses if one of its slots
        # is taken away from the mentees it has (scores are in [0, 1], so a value above 1
        # means that losing the slot would leave a mentee unmatched).
        if not len(solution.slot_value):  # a stable matching: no dual values, preferences
            top_why = (
                "that mentor is full with mentees it scores higher, and a stable "
                "matching gives each mentor its preferred mentees"
            )
        elif float(solution.slot_value[j]) > 1:
            top_why = (
                "that mentor is full, and giving this mentee one of its slots would "
                "leave another mentee without any mentor"
            )
        else:
            worth = float(solution.slot_value[j])
            top_why = (
                f"that mentor is full: a slot there adds {worth:.4f} to the cohort's "
                f"total as matched, at least the {gain:.4f} this mentee would gain"
            )
    others = [int(j) for j in ranked if int(j) != mentor]
    nxt = _option(scorer, mentee, others[0], scores[others[0]]) if others else None
    return Explanation(mentee, chosen, top, top_why, nxt)


def explain_all(scorer: Scorer, solution: Solution, mentees: I64) -> Iterator[Explanation]:
    """explain() for many mentees, their rows scored a block at a time."""
    step = max(1, min(scorer.block_rows, 1024))
    for start in range(0, len(mentees), step):
        rows = np.asarray(mentees[start : start + step], dtype=np.int64)
        scores, allowed = scorer.block(rows)
        for k, i in enumerate(rows.tolist()):
            yield explain(scorer, solution, i, (scores[k], allowed[k]))


def suggestions(
    scorer: Scorer, mentee: int, *, load: I64, n: int = 5, excluded: Iterable[int] = ()
) -> list[Option]:
    """Self-service: the mentee's best `n` allowed mentors that still have room."""
    scores, allowed = _row(scorer, mentee)
    room = scorer.capacity - np.asarray(load) > 0
    ok = allowed & room
    ok[list(excluded)] = False
    return [_option(scorer, mentee, int(j), scores[j]) for j in _best(scores, ok, n)]


def replacements(
    scorer: Scorer, mentees: Iterable[int], *, load: I64, excluded: Iterable[tuple[int, int]] = ()
) -> dict[int, int]:
    """Minimal change: new mentors for these mentees only, within the room mentors have left.

    Every other pair stays as it is; among the mentees needing one, the replacements are the
    optimal assignment (as many as possible, then the best total), certified like a cohort.
    """
    rows = np.array(sorted(set(mentees)), dtype=np.int64)
    if not len(rows):
        return {}
    scores, allowed = scorer.block(rows)
    position = {int(i): k for k, i in enumerate(rows)}
    for i, j in excluded:
        if int(i) in position:
            allowed[position[int(i)], int(j)] = False
    room = np.maximum(scorer.capacity - np.asarray(load), 0)
    sol = solve(ArraySource(scores, room, allowed))
    return {int(rows[k]): int(j) for k, j in enumerate(sol.mentor_of) if j >= 0}
