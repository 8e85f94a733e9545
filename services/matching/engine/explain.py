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


def _why_not(solution: Solution, top: int, gain: float) -> str:
    """Why the mentee did not get its highest-scored mentor `top`, which would gain `gain`."""
    # The certificate's dual value of the mentor's slot: what the cohort loses if one of its
    # slots is taken away from the mentees it has (scores are in [0, 1], so a value above 1
    # means that losing the slot would leave a mentee unmatched).
    if not len(solution.slot_value):  # a stable matching: no dual values, preferences
        return (
            "that mentor is full with mentees it scores higher, and a stable "
            "matching gives each mentor its preferred mentees"
        )
    worth = float(solution.slot_value[top])
    if worth > 1:
        return (
            "that mentor is full, and giving this mentee one of its slots would "
            "leave another mentee without any mentor"
        )
    return (
        f"that mentor is full: a slot there adds {worth:.4f} to the cohort's "
        f"total as matched, at least the {gain:.4f} this mentee would gain"
    )


def _explain_rows(
    scorer: Scorer,
    solution: Solution,
    rows: I64,
    scores: npt.NDArray[np.float32],
    allowed: npt.NDArray[np.bool_],
) -> list[Explanation]:
    """explain() for these mentees, given their rows of scores and allowed mentors: the two
    best allowed mentors of every row at once (the first maximum is the lowest index among
    ties, as `_best` breaks them), and every option's contributions in one compiled pass."""
    k = np.arange(len(rows))
    masked = np.where(allowed, scores, np.float32(-np.inf))
    first = masked.argmax(axis=1)
    has_first = np.isfinite(masked[k, first])
    masked[k, first] = -np.inf
    second = masked.argmax(axis=1)
    has_second = np.isfinite(masked[k, second])
    mentor = np.asarray(solution.mentor_of)[rows]
    has_chosen = mentor >= 0
    has_top = has_first & (first != mentor)
    # The best allowed mentor other than the chosen one: the first, or else the second.
    nxt = np.where(has_top, first, second)
    has_next = has_top | (has_first & has_second)
    chosen_score = np.where(has_chosen, scores[k, np.maximum(mentor, 0)], 0)
    options = [(has_chosen, mentor), (has_top, first), (has_next, nxt)]
    wanted = np.concatenate([np.flatnonzero(has) for has, _ in options])
    mentors = np.concatenate([col[has] for has, col in options])
    contributions = iter(scorer.contributions_of_pairs(rows[wanted], mentors))
    described: list[list[Option | None]] = [[None] * len(rows) for _ in options]
    for slot, (has, col) in zip(described, options, strict=True):
        for r in np.flatnonzero(has).tolist():
            j = int(col[r])
            slot[r] = Option(j, float(scores[r, j]), next(contributions))
    out = []
    for r, i in enumerate(rows.tolist()):
        top = described[1][r]
        why = None
        if top is not None:
            why = _why_not(solution, top.mentor, top.score - float(chosen_score[r]))
        out.append(Explanation(i, described[0][r], top, why, described[2][r]))
    return out


def explain(
    scorer: Scorer,
    solution: Solution,
    mentee: int,
    row: tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]] | None = None,
) -> Explanation:
    """Why the mentee got its mentor; `row`: its scores and allowed mask, if already known."""
    scores, allowed = _row(scorer, mentee) if row is None else row
    return _explain_rows(
        scorer, solution, np.array([mentee], dtype=np.int64), scores[None, :], allowed[None, :]
    )[0]


def explain_all(scorer: Scorer, solution: Solution, mentees: I64) -> Iterator[Explanation]:
    """explain() for many mentees, their rows scored and explained a block at a time."""
    step = max(1, min(scorer.block_rows, 1024))
    for start in range(0, len(mentees), step):
        rows = np.asarray(mentees[start : start + step], dtype=np.int64)
        scores, allowed = scorer.block(rows)
        yield from _explain_rows(scorer, solution, rows, scores, allowed)


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
