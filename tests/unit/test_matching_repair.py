"""Warm repair and the compiled kernels the solver builds on, against plain references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine import solver as S
from services.matching.engine import solver_kernels as kernels
from services.matching.engine.repair import repair


def _objective(g: S._Graph, mentor_of: np.ndarray, bonus: int) -> int:
    own = (mentor_of[g.ei] >= 0) & (g.ej == mentor_of[g.ei])
    return int((g.ew[own] + bonus).sum())


@st.composite
def graphs(draw):  # type: ignore[no-untyped-def]
    """A random dense instance, a sparse first candidate graph inside it."""
    n, m = draw(st.integers(1, 40)), draw(st.integers(1, 10))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    w = rng.choice(np.arange(0, 1_000_001, 125_000), size=(n, m))  # ties on purpose
    allowed = rng.random((n, m)) < draw(st.floats(0.4, 1.0))
    cap = rng.integers(0, 4, size=m)
    allowed &= (cap > 0)[None, :]
    first = allowed & (rng.random((n, m)) < draw(st.floats(0.1, 0.6)))
    return w, allowed, first, cap


def _graph(w: np.ndarray, mask: np.ndarray) -> S._Graph:
    ei, ej = np.nonzero(mask)
    return S._Graph(
        ei.astype(np.int64),
        ej.astype(np.int64),
        w[ei, ej].astype(np.int64),
        (w[ei, ej] / S.SCALE).astype(np.float32),
    )


@settings(max_examples=120, deadline=None)
@given(inst=graphs(), policy=st.sampled_from(list(S.Policy)))
def test_repair_reaches_the_optimum_of_the_enlarged_graph(inst, policy) -> None:  # type: ignore[no-untyped-def]
    """Solve on a sparse graph, add every pair that violates its duals, repair: the result
    is feasible and as good as a full OR-Tools solve of the enlarged graph."""
    w, allowed, first, cap = inst
    n, m = w.shape
    bonus = n * S.SCALE + 1 if policy is S.Policy.max_matched else 0
    g = _graph(w, first)
    mentor_of = S._flow(n, m, cap, g, policy)
    u, v = S._duals(n, m, cap, S._Graph(g.ei, g.ej, g.ew + bonus, g.es), mentor_of)
    violated = allowed & (u[:, None] - bonus + v[None, :] < w)
    enlarged = _graph(w, first | violated)
    detach = np.flatnonzero(violated.any(axis=1))
    got, _ = repair(enlarged.ei, enlarged.ej, enlarged.ew + bonus, cap, mentor_of, u, v, detach)
    assert got is not None
    matched = got >= 0
    assert (first | violated)[np.flatnonzero(matched), got[matched]].all()
    assert (np.bincount(got[matched], minlength=m) <= cap).all()
    best = S._flow(n, m, cap, enlarged, policy)
    assert _objective(enlarged, got, bonus) == _objective(enlarged, best, bonus)


def test_repair_gives_up_beyond_its_budget() -> None:
    rng = np.random.default_rng(3)
    n, m = 300, 60
    w = rng.integers(0, 1_000_000, size=(n, m))
    cap = np.full(m, 5)
    first = rng.random((n, m)) < 0.05
    g = _graph(w, first)
    mentor_of = S._flow(n, m, cap, g, S.Policy.max_score)
    u, v = S._duals(n, m, cap, g, mentor_of)
    violated = u[:, None] + v[None, :] < w
    enlarged = _graph(w, first | violated)
    detach = np.flatnonzero(violated.any(axis=1))
    assert len(detach) > 10
    given_up, work = repair(enlarged.ei, enlarged.ej, enlarged.ew, cap, mentor_of, u, v, detach, 50)
    assert given_up is None and work == 50
    done, work = repair(enlarged.ei, enlarged.ej, enlarged.ew, cap, mentor_of, u, v, detach)
    assert done is not None and work > 50
    best = S._flow(n, m, cap, enlarged, S.Policy.max_score)
    assert _objective(enlarged, done, 0) == _objective(enlarged, best, 0)


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    shape=st.tuples(st.integers(1, 30), st.integers(1, 40)),
    k=st.integers(1, 6),
)
def test_candidate_selection_keeps_each_row_best_and_bounds_the_rest(seed, shape, k) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    w = rng.choice([-1, 0, 10, 20, 20, 30, 40, 50], size=shape).astype(np.int32)
    col_threshold = rng.choice([5, 35, 1_000], size=shape[1]).astype(np.int64)
    ri, cj, cw, left_out, allowed = kernels.select_candidates(w, k, col_threshold)
    assert allowed == int((w >= 0).sum())
    assert (w[ri, cj] == cw).all() and (cw >= 0).all()
    kept = np.zeros(shape, dtype=bool)
    kept[ri, cj] = True
    for r in range(shape[0]):
        row = w[r]
        ok = np.sort(row[row >= 0])[::-1]
        # the k best of the row (ties included) and every pair at its column's threshold
        if len(ok) >= k:
            assert kept[r][(row >= ok[k - 1]) & (row >= 0)].all()
        else:
            assert kept[r][row >= 0].all()
        assert kept[r][(row >= col_threshold) & (row >= 0)].all()
        # the bound the certificate relies on
        left = row[(~kept[r]) & (row >= 0)]
        assert (left <= left_out[r]).all()
        if left_out[r] < 0:
            assert not len(left)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), q=st.integers(1, 5))
def test_column_tops_is_the_sorted_columns_head(seed, q) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    w = rng.integers(-1, 50, size=(rng.integers(1, 20), 7)).astype(np.int32)
    qs = rng.integers(1, q + 1, size=7).astype(np.int64)
    tops = kernels.column_tops(w, qs)
    for j in range(7):
        head = np.sort(w[:, j])[::-1][: qs[j]]
        expect = np.full(qs[j], -1)
        expect[: len(head)] = head
        assert (tops[: qs[j], j] == np.maximum(expect, -1)).all()
