from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching.engine.circles import form_circles, theme_anchors


def _share(themes: np.ndarray, anchors: np.ndarray) -> np.ndarray:
    common = np.bitwise_count(themes[:, None] & anchors[None, :]).astype(float)
    counts = np.bitwise_count(themes).astype(float)[:, None]
    return np.divide(common, counts, out=np.zeros_like(common), where=counts > 0)


def _brute_force(themes, depts, anchors, size, same):  # type: ignore[no-untyped-def]
    """Best (placed, total share) over every assignment (tiny instances only)."""
    share = _share(themes, anchors)
    best = (-1, -1.0)
    for choice in itertools.product(range(-1, len(anchors)), repeat=len(themes)):
        ok = True
        for a in range(len(anchors)):
            members = [i for i, c in enumerate(choice) if c == a]
            if len(members) > size or any(
                sum(depts[i] == d for i in members) > same for d in set(depts)
            ):
                ok = False
                break
        if ok:
            placed = sum(c >= 0 for c in choice)
            total = sum(share[i, c] for i, c in enumerate(choice) if c >= 0)
            best = max(best, (placed, round(total, 6)))
    return best


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    n=st.integers(0, 6),
    c=st.integers(1, 3),
    size=st.integers(1, 3),
    same=st.integers(1, 3),
)
def test_circles_are_feasible_and_optimal(seed, n, c, size, same) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(seed)
    themes = rng.integers(0, 16, size=n).astype(np.uint64)
    depts = rng.integers(0, 2, size=n)
    anchors = rng.integers(1, 16, size=c).astype(np.uint64)
    got = form_circles(themes, depts, anchors, size=size, max_same=same)
    members = [i for circle in got.circles for i in circle.members]
    assert sorted(members + got.unplaced) == list(range(n))  # each mentee once
    for circle in got.circles:
        assert len(circle.members) <= size
        for d in set(depts.tolist()):
            assert sum(depts[i] == d for i in circle.members) <= same
    placed, total = _brute_force(themes, depts.tolist(), anchors, size, same)
    assert len(members) == placed
    assert got.total_shared == pytest.approx(total, abs=1e-5)


def test_circles_around_themes_mix_departments() -> None:
    rng = np.random.default_rng(3)
    n = 60
    themes = rng.integers(1, 2**8, size=n).astype(np.uint64)
    depts = np.repeat(np.arange(3), n // 3)  # three departments of 20
    got = form_circles(themes, depts, theme_anchors(list(range(6))), size=10, max_same=4)
    assert not got.unplaced and len(got.circles) == 6
    for circle in got.circles:
        assert len(circle.members) == 10
        assert len({int(depts[i]) for i in circle.members}) >= 3  # at most 4 of any one


def test_circles_respect_allowed_pairs_per_anchor_sizes_and_tie_break() -> None:
    themes = np.array([0b1, 0b1, 0b1, 0b10], dtype=np.uint64)
    depts = np.array([0, 1, 2, 3])
    anchors = np.array([0b1, 0b1, 0b10], dtype=np.uint64)
    allowed = np.ones((4, 3), dtype=bool)
    allowed[0, 0] = False  # mentee 0 may not join circle 0 (say, its manager leads it)
    tie = np.zeros((4, 3))
    tie[1, 1] = 1.0  # between circles 0 and 1 (same themes), mentee 1 fits circle 1 better
    got = form_circles(
        themes, depts, anchors, size=np.array([1, 2, 0]), allowed=allowed, tie_break=tie
    )
    members = {c.anchor: c.members for c in got.circles}
    assert members[2] == []  # a circle with no room takes no one
    assert 0 not in members[0]
    assert 1 in members[1] and len(members[0]) <= 1 and len(members[1]) <= 2
    assert got.unplaced == [3]  # its theme's circle has no room: left for a later run
    assert sorted(members[0] + members[1]) == [0, 1, 2]
