"""The cohort solver: maximum total compatibility under mentor capacities, proven optimal.

The assignment is the linear programme
    max  sum w_ij x_ij   s.t.  sum_j x_ij <= 1 (mentee i),  sum_i x_ij <= c_j (mentor j),  x >= 0
whose matrix is totally unimodular, so an integral optimum exists. Its dual is
    min  sum u_i + sum c_j v_j   s.t.  u_i + v_j >= w_ij  for every allowed pair,  u, v >= 0.
Any feasible (u, v) whose value equals the assignment's total proves that no assignment does
better (weak duality). That pair of numbers is the certificate this module checks.

How it gets there fast:
1. Score every pair once, block by block on every core (compiled kernels): keep each
   mentee's k best allowed mentors and each mentor's best mentees (the candidate graph), the
   bound on what each row left out (`left_out_i`), and all integer weights (score x 10^6)
   when they fit in memory.
2. Solve min-cost flow on the candidate graph (OR-Tools).
3. Derive duals from the flow: complementary slackness fixes u from v; v is the least solution
   of difference constraints along the candidate edges (compiled Bellman-Ford).
4. Check u_i + v_j >= w_ij for every allowed pair: over the kept weights, one pass; else rows
   with u_i + min(v) >= left_out_i are covered by that bound and the others are re-scored.
   Violated pairs join the candidate graph and the optimum is found again, until the check
   holds and the primal and dual values are equal. Few violations: the previous optimum is
   repaired around them (repair.py) instead of solved again.

Policies: "max_matched" (default) first matches as many mentees as possible, then maximises the
score (each pair's weight gets a bonus larger than any total score); "max_score" maximises the
total score only.
"""

from __future__ import annotations

import mmap
import os
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from services.matching.engine import flow
from services.matching.engine import solver_kernels as kernels
from services.matching.engine.repair import repair
from services.matching.engine.solver_kernels import SCALE

T = TypeVar("T")
B = TypeVar("B")

_THREADS = max(1, min(4, os.cpu_count() or 1))
I64 = npt.NDArray[np.int64]


class Policy(StrEnum):
    max_matched = "max_matched"
    max_score = "max_score"


class ScoreSource(Protocol):
    """Where scores come from: the Scorer (streamed, block by block) or given arrays."""

    n: int
    m: int
    capacity: I64

    @property
    def block_rows(self) -> int: ...

    def blocks(self) -> Iterator[slice]: ...

    def block(self, rows: slice | I64) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]: ...

    def weight_block(
        self, rows: slice | I64, out: npt.NDArray[np.int32] | None = None
    ) -> npt.NDArray[np.int32]: ...

    def weigh_and_select(
        self, rows: slice, out: npt.NDArray[np.int32] | None, k: int, col_threshold: I64
    ) -> tuple: ...


class SolverError(RuntimeError):
    pass


@dataclass(frozen=True, kw_only=True)
class Certificate:
    holds: bool
    primal: int  # the assignment's value, integer weights
    dual: int  # the dual solution's value; equal to primal when the certificate holds
    pairs_covered: int  # allowed pairs the dual constraint was verified for (all of them)
    rows_rescored: int  # rows the bound did not cover, checked against every mentor
    rounds: int  # optimisations: full flow solves plus warm repairs
    pairs_added: int  # pairs added to the candidate graph by the check
    repairs: int = 0  # rounds done by warm repair (repair.py) instead of a full solve

    @classmethod
    def trivial(cls, *, holds: bool) -> Certificate:
        """Nothing to prove (an empty side: holds), or no proof made (a heuristic: does not)."""
        return cls(
            holds=holds, primal=0, dual=0, pairs_covered=0, rows_rescored=0, rounds=0, pairs_added=0
        )


@dataclass(frozen=True, kw_only=True)
class Solution:
    mentor_of: npt.NDArray[np.int64]  # per mentee: mentor index, or -1
    score: npt.NDArray[np.float64]  # per mentee: the pair's score, or nan
    matched: int
    total_score: float
    certificate: Certificate
    timings: dict[str, float] = field(default_factory=dict)
    # The certificate's dual values per mentor, in score units: what one slot of that mentor
    # is worth to the whole cohort (0 when the mentor has room left). Explanations use it.
    slot_value: npt.NDArray[np.float64] = field(default_factory=lambda: np.empty(0))


@dataclass
class _Graph:
    """Candidate edges: mentee, mentor, integer score (millionths), and the pair's score."""

    ei: I64
    ej: I64
    ew: I64
    es: npt.NDArray[np.float32]

    @staticmethod
    def empty() -> _Graph:
        none = np.empty(0, np.int64)
        return _Graph(none, none, none, np.empty(0, np.float32))

    @staticmethod
    def concat(parts: list[_Graph]) -> _Graph:
        return _Graph(
            np.concatenate([g.ei for g in parts]),
            np.concatenate([g.ej for g in parts]),
            np.concatenate([g.ew for g in parts]),
            np.concatenate([g.es for g in parts]),
        )


@dataclass
class _Scan:
    graph: _Graph
    left_out: I64  # per mentee: best integer score not in its candidate list (-1: none)
    allowed_pairs: int
    cache: npt.NDArray[np.int32] | None  # all integer weights, when they fit in memory


def _threaded(fn: Callable[[B], T], blocks: list[B]) -> list[T]:
    """fn over the blocks, in order, spread over the cores (the kernels release the GIL)."""
    if len(blocks) <= 1:
        return [fn(b) for b in blocks]
    with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="matching") as pool:
        return list(pool.map(fn, blocks))


def _weights_cache(n: int, m: int) -> npt.NDArray[np.int32]:
    """An (n, m) int32 array in plain anonymous memory, filled by the scan's threads.

    Not np.empty: numpy advises the kernel to back large arrays with huge pages, and where
    transparent huge pages are on "madvise" with synchronous defrag (as on the machines this
    was measured on), faulting in 2 GB then stalls on compaction: 4.7 s against 1.0 s.
    """
    buffer = mmap.mmap(-1, max(1, n * m * 4))
    return np.frombuffer(buffer, dtype=np.int32, count=n * m).reshape(n, m)


def _column_thresholds(source: ScoreSource, per_mentor: I64) -> I64:
    """Per mentor, an estimate of its per_mentor-th best weight, from evenly spaced rows.

    Enough rows that the estimate is the 4th best of the sample or deeper (a 1st best of a
    small sample keeps far more than per_mentor pairs per mentor), and at most every row.
    """
    n = source.n
    quota = int(per_mentor[per_mentor > 0].min()) if (per_mentor > 0).any() else 1
    size = min(n, max(source.block_rows, int(np.ceil(4 * n / quota))))
    rows = np.unique(np.linspace(0, n - 1, size).astype(np.int64))
    step = source.block_rows
    chunks: list[I64] = [rows[a : a + step] for a in range(0, len(rows), step)]
    q = np.maximum(1, np.ceil(per_mentor * len(rows) / max(n, 1))).astype(np.int64)
    # Each chunk's own q best per column; the q-th best of their union is the sample's.
    tops = _threaded(lambda c: kernels.column_tops(source.weight_block(c), q), chunks)
    kth = kernels.column_tops(np.concatenate(tops), q)[np.maximum(q, 1) - 1, np.arange(len(q))]
    return np.where(per_mentor > 0, kth, SCALE + 1)


def _scan(source: ScoreSource, k: int, per_mentor: I64, cache_bytes: int) -> _Scan:
    """One pass over every pair, keeping each mentee's best mentors and each mentor's best
    mentees as candidate edges.

    A row's k best are found exactly (one compare per pair in the kernel); a column's best are
    estimated on a sample of rows (see `_column_thresholds`). Any candidate graph is fine:
    the certificate adds back what it missed. What must be exact is the bound: every pair
    left out of row i weighs less than its k-th best.
    """
    n, m = source.n, source.m
    cache = _weights_cache(n, m) if n * m * 4 <= cache_bytes else None
    blocks = list(source.blocks())
    col_threshold = _column_thresholds(source, per_mentor)

    def scan_block(rows: slice) -> tuple[_Graph, I64, int]:
        out = None if cache is None else cache[rows]
        ri, cj, cw, left_out, allowed = source.weigh_and_select(rows, out, k, col_threshold)
        graph = _Graph(ri + rows.start, cj, cw, (cw / SCALE).astype(np.float32))
        return graph, left_out, int(allowed)

    parts = _threaded(scan_block, blocks)
    return _Scan(
        _Graph.concat([g for g, _, _ in parts]),
        np.concatenate([lo for _, lo, _ in parts]),
        sum(c for _, _, c in parts),
        cache,
    )


def _flow(n: int, m: int, capacity: I64, g: _Graph, policy: Policy) -> I64:
    """Maximum-weight b-matching on the graph by min-cost flow; returns mentor_of.

    max_matched: OR-Tools' maximum flow of minimum cost (as many pairs as the graph allows,
    then the best total); max_score: a free source-to-sink arc lets mentees stay unmatched.
    """
    src, sink = n + m, n + m + 1
    mentees = np.arange(n, dtype=np.int64)
    mentors = np.arange(m, dtype=np.int64)
    bypass = policy is Policy.max_score
    tails = np.concatenate([np.full(n, src), g.ei, n + mentors, [src] if bypass else []])
    heads = np.concatenate([mentees, n + g.ej, np.full(m, sink), [sink] if bypass else []])
    caps = np.concatenate([np.ones(n + len(g.ei), dtype=np.int64), capacity, [n] if bypass else []])
    costs = np.concatenate(
        [np.zeros(n, dtype=np.int64), -g.ew, np.zeros(m + int(bypass), dtype=np.int64)]
    )
    status, flows = flow.solve(
        flow.Flow(
            tails=tails.astype(np.int32),
            heads=heads.astype(np.int32),
            capacities=caps.astype(np.int64),
            costs=costs,
            source=src,
            sink=sink,
            supply=n,
            max_flow=not bypass,
            answer=np.arange(n, n + len(g.ei)),
        )
    )
    if status != flow.OPTIMAL:
        raise SolverError(f"min-cost flow ended with status {status}")
    used = flows > 0
    mentor_of = np.full(n, -1, dtype=np.int64)
    mentor_of[g.ei[used]] = g.ej[used]
    return mentor_of


def _duals(n: int, m: int, capacity: I64, g: _Graph, mentor_of: I64) -> tuple[I64, I64]:
    """Least dual solution satisfying complementary slackness on the candidate graph."""
    matched = mentor_of >= 0
    own = matched[g.ei] & (g.ej == mentor_of[g.ei])
    own_w = np.zeros(n, dtype=np.int64)
    own_w[g.ei[own]] = g.ew[own]
    v = np.zeros(m, dtype=np.int64)
    free_edge = ~matched[g.ei]  # an unmatched mentee i: u_i = 0, so v_j >= w_ij
    np.maximum.at(v, g.ej[free_edge], g.ew[free_edge])
    # A matched mentee i: u_i = w_i,m(i) - v_m(i); u_i + v_j >= w_ij gives
    # v_j >= v_m(i) + (w_ij - w_i,m(i)): difference constraints between mentors.
    other = matched[g.ei] & ~own
    a = mentor_of[g.ei[other]]
    order = np.argsort(a, kind="stable")
    ptr = np.searchsorted(a[order], np.arange(m + 1)).astype(np.int64)
    b = np.ascontiguousarray(g.ej[other][order])
    d = np.ascontiguousarray((g.ew[other] - own_w[g.ei[other]])[order])
    if not kernels.least_prices(ptr, b, d, v):
        raise SolverError("dual values do not settle: the flow is not optimal")
    u = np.zeros(n, dtype=np.int64)
    u[matched] = own_w[matched] - v[mentor_of[matched]]
    load = np.bincount(mentor_of[matched], minlength=m)
    if (u < 0).any() or (v[load < capacity] != 0).any():
        raise SolverError("complementary slackness fails: the flow is not optimal")
    return u, v


def solve(
    source: ScoreSource,
    *,
    policy: Policy = Policy.max_matched,
    k: int = 6,
    per_mentor: int | None = None,
    add_per_row: int = 64,
    cache_bytes: int = 3 * 2**30,
    max_rounds: int = 50,
    repair_budget: int = 32,
) -> Solution:
    """The optimal assignment, with its certificate checked over every allowed pair.

    k: mentors kept per mentee in the candidate graph; per_mentor: mentees kept per mentor
    (default: eight times its capacity, at least 8); add_per_row: violated pairs added per
    mentee per round; cache_bytes: keep every integer score in memory when they fit, so the
    certificate pass does not re-score; repair_budget: a warm repair (repair.py) may examine
    up to this many arcs per arc of the graph before solving again is cheaper (measured here:
    a full solve costs about as much as 35 per arc); 0 always solves again.
    """
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    n, m = source.n, source.m
    capacity = np.asarray(source.capacity, dtype=np.int64)
    # Mentor-side candidates matter as much as the mentees' favourites: when the popular
    # mentors are full, the optimum runs through mentors who are nobody's first choice.
    quota = np.maximum(8 * capacity, 8) if per_mentor is None else np.full(m, per_mentor, np.int64)
    quota = np.where(capacity > 0, quota, 0)
    if n == 0 or m == 0:
        return Solution(
            mentor_of=np.full(n, -1, np.int64),
            score=np.full(n, np.nan),
            matched=0,
            total_score=0.0,
            certificate=Certificate.trivial(holds=True),
        )
    # A bonus per pair above any possible total score: more pairs always win.
    bonus = n * SCALE + 1 if policy is Policy.max_matched else 0
    scan = _scan(source, k, quota, cache_bytes)
    graph = scan.graph
    timings["score_and_candidates_s"] = time.perf_counter() - t0
    timings["certificate_s"] = 0.0
    rows_rescored = pairs_added = repairs = 0
    mentor_of = _flow(n, m, capacity, graph, policy)
    timings["flow_s"] = time.perf_counter() - t0 - timings["score_and_candidates_s"]
    for round_ in range(1, max_rounds + 1):
        t = time.perf_counter()
        weighted = _Graph(graph.ei, graph.ej, graph.ew + bonus, graph.es)
        u, v = _duals(n, m, capacity, weighted, mentor_of)
        found, rescored = _violations(source, scan, u, v, bonus, add_per_row)
        rows_rescored += rescored
        timings["certificate_s"] += time.perf_counter() - t
        if found is None:
            own = (mentor_of[graph.ei] >= 0) & (graph.ej == mentor_of[graph.ei])
            primal = int(weighted.ew[own].sum())
            dual = int(u.sum()) + int((capacity * v).sum())
            cert = Certificate(
                holds=primal == dual,
                primal=primal,
                dual=dual,
                pairs_covered=scan.allowed_pairs,
                rows_rescored=rows_rescored,
                rounds=round_,
                pairs_added=pairs_added,
                repairs=repairs,
            )
            score = np.full(n, np.nan)
            score[graph.ei[own]] = graph.es[own]
            timings["total_s"] = time.perf_counter() - t0
            matched = int((mentor_of >= 0).sum())
            return Solution(
                mentor_of=mentor_of,
                score=score,
                matched=matched,
                total_score=float(np.nansum(score)),
                certificate=cert,
                timings=timings,
                slot_value=v / SCALE,
            )
        pairs_added += len(found.ei)
        graph = _Graph.concat([graph, found])
        t = time.perf_counter()
        # A few violated mentees: repair the optimum around them (repair.py), within a budget
        # of work comparable to a full solve; many, or over budget: solve again.
        detach = np.unique(found.ei)
        repaired = None
        if repair_budget > 0 and len(detach) <= max(64, n // 10):
            budget = repair_budget * (len(graph.ei) + n + m)
            repaired, _ = repair(
                graph.ei, graph.ej, graph.ew + bonus, capacity, mentor_of, u, v, detach, budget
            )
        if repaired is None:
            mentor_of = _flow(n, m, capacity, graph, policy)
        else:
            mentor_of = repaired
            repairs += 1
        timings["flow_s"] += time.perf_counter() - t
    raise SolverError(f"no certificate after {max_rounds} rounds")


def _violations(
    source: ScoreSource, scan: _Scan, u: I64, v: I64, bonus: int, per_row: int
) -> tuple[_Graph | None, int]:
    """Pairs with u_i + v_j < w_ij over every allowed pair (None when there is none).

    With the weight cache every pair is checked exactly, in one pass. Without it, a row whose
    u_i + min(v) already reaches its left-out bound is covered by that bound (every pair
    outside the candidate graph weighs at most that); the other rows are re-scored.
    """
    shifted_u = u - bonus
    v = np.ascontiguousarray(v, dtype=np.int64)
    if scan.cache is not None:
        cache = scan.cache

        def check(rows: slice) -> tuple[I64, I64, I64]:
            ri, cj, cw = kernels.violated_pairs(cache[rows], v, shifted_u[rows], per_row)
            return ri + rows.start, cj, cw

        parts = _threaded(check, list(source.blocks()))
        rescored = 0
    else:
        v_min = int(v.min()) if len(v) else 0
        left = np.where(scan.left_out >= 0, scan.left_out + bonus, -1)
        rows_to_check = np.flatnonzero(u + v_min < left)
        rescored = len(rows_to_check)
        step = source.block_rows
        chunks = [rows_to_check[a : a + step] for a in range(0, rescored, step)]

        def rescore(chunk: I64) -> tuple[I64, I64, I64]:
            w = source.weight_block(chunk)
            ri, cj, cw = kernels.violated_pairs(w, v, shifted_u[chunk], per_row)
            return chunk[ri], cj, cw

        parts = _threaded(rescore, chunks)  # type: ignore[arg-type]
    ei = np.concatenate([p[0] for p in parts]) if parts else np.empty(0, np.int64)
    if not len(ei):
        return None, rescored
    ej = np.concatenate([p[1] for p in parts])
    ew = np.concatenate([p[2] for p in parts])
    return _Graph(ei, ej, ew, (ew / SCALE).astype(np.float32)), rescored
