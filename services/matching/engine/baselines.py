"""What a user would pick instead of Binôme's solver; the benchmark runs them side by side.

All take dense (scores, allowed, capacity) and return mentor_of (-1 = unmatched). They serve
the "max_matched" policy the way a user would set it up: more pairs first, then score.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow
from scipy.optimize import linear_sum_assignment

from services.matching.engine.solver import SCALE

I64 = npt.NDArray[np.int64]


def greedy(scores: npt.NDArray[np.float32], allowed: npt.NDArray[np.bool_], capacity: I64) -> I64:
    """Best remaining pair first, until mentees or capacity run out."""
    n, m = scores.shape
    flat = np.flatnonzero(allowed.ravel())
    order = flat[np.argsort(-scores.ravel()[flat], kind="stable")]
    mentor_of = np.full(n, -1, dtype=np.int64)
    room = capacity.astype(np.int64).copy()
    left = n
    for pair in order.tolist():
        i, j = divmod(pair, m)
        if mentor_of[i] < 0 and room[j] > 0:
            mentor_of[i] = j
            room[j] -= 1
            left -= 1
            if not left:
                break
    return mentor_of


def lsa_expanded(
    scores: npt.NDArray[np.float32], allowed: npt.NDArray[np.bool_], capacity: I64
) -> I64:
    """scipy's Hungarian-type solver on the matrix with one column per mentor slot."""
    n = scores.shape[0]
    slots = np.repeat(np.arange(scores.shape[1]), capacity)
    bonus = n + 1.0  # more pairs first, as the max_matched policy wants
    w = np.where(allowed, scores.astype(np.float64) + bonus, 0.0)[:, slots]
    rows, cols = linear_sum_assignment(w, maximize=True)
    mentor_of = np.full(n, -1, dtype=np.int64)
    ok = allowed[rows, slots[cols]]
    mentor_of[rows[ok]] = slots[cols[ok]]
    return mentor_of


def dense_flow(
    scores: npt.NDArray[np.float32], allowed: npt.NDArray[np.bool_], capacity: I64
) -> I64:
    """OR-Tools min-cost flow with every allowed pair as an arc (no pruning, no certificate)."""
    n, m = scores.shape
    ei, ej = np.nonzero(allowed)
    w = np.rint(scores[ei, ej] * np.float32(SCALE)).astype(np.int64)
    smcf = min_cost_flow.SimpleMinCostFlow()
    src, sink = n + m, n + m + 1
    tails = np.concatenate([np.full(n, src), ei, n + np.arange(m)])
    heads = np.concatenate([np.arange(n), n + ej, np.full(m, sink)])
    caps = np.concatenate([np.ones(n + len(ei), dtype=np.int64), capacity.astype(np.int64)])
    costs = np.concatenate([np.zeros(n, np.int64), -w, np.zeros(m, np.int64)])
    smcf.add_arcs_with_capacity_and_unit_cost(
        tails.astype(np.int32), heads.astype(np.int32), caps, costs
    )
    smcf.set_nodes_supplies(np.array([src, sink]), np.array([n, -n]))
    if smcf.solve_max_flow_with_min_cost() != smcf.OPTIMAL:
        raise RuntimeError("dense min-cost flow failed")
    used = smcf.flows(np.arange(n, n + len(ei))) > 0
    mentor_of = np.full(n, -1, dtype=np.int64)
    mentor_of[ei[used]] = ej[used]
    return mentor_of
