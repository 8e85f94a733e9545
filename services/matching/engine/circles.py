"""Circles (group mentoring): mentees grouped around anchors, a mentor or a theme each.

Every mentee joins one circle; a circle takes at most `size` mentees, and at most `max_same`
from any one department, so that circles mix people (diversity as a hard rule, not a hope);
a mentee only joins a circle its `allowed` mask permits (the hard constraints of a pair with
the circle's mentor: language, reporting line, timezone...). Within those rules the grouping
places as many mentees as possible, then maximises how much each shares with the circle's
anchor: the fraction of the mentee's themes the anchor covers (to the millionth), then an
optional tie-break in [0, 1] (the pair's compatibility score, say). It is a min-cost flow
(mentee -> (circle, department) -> circle -> sink), solved exactly by OR-Tools.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.matching.engine import flow

SCALE = 1_000_000
U64 = npt.NDArray[np.uint64]


@dataclass(frozen=True)
class Circle:
    anchor: int  # index of the mentor (or theme bit) it forms around
    members: list[int]  # mentee indices
    shared: float  # mean share of the members' themes the anchor covers


@dataclass(frozen=True)
class Circles:
    circles: list[Circle]
    unplaced: list[int]  # mentees no circle could take (not enough room)
    total_shared: float


def theme_anchors(themes: list[int]) -> U64:
    """Anchors for circles 'around a theme': one bit each."""
    return np.array([1 << t for t in themes], dtype=np.uint64)


def form_circles(
    mentee_themes: U64,
    mentee_department: npt.NDArray[np.int64],
    anchor_themes: U64,
    *,
    size: int | npt.NDArray[np.int64],
    max_same: int | npt.NDArray[np.int64] | None = None,
    allowed: npt.NDArray[np.bool_] | None = None,
    tie_break: npt.NDArray[np.floating] | None = None,
) -> Circles:
    """Group mentees into one circle per anchor (at most `size` each, a number or one per
    anchor; at most `max_same` per department, default half the size rounded up), placing as
    many mentees as possible, then maximising the themes shared with anchors."""
    n, c = len(mentee_themes), len(anchor_themes)
    sizes = np.broadcast_to(np.asarray(size, dtype=np.int64), (c,))
    if (sizes < 0).any() or (np.ndim(size) == 0 and int(size) < 1):
        raise ValueError("size must be at least 1")
    same = np.broadcast_to(
        np.asarray(-(-sizes // 2) if max_same is None else max_same, dtype=np.int64), (c,)
    )
    if n == 0 or c == 0:
        return Circles([Circle(a, [], 0.0) for a in range(c)], list(range(n)), 0.0)
    counts = np.bitwise_count(mentee_themes).astype(np.float64)
    common = np.bitwise_count(mentee_themes[:, None] & anchor_themes[None, :]).astype(np.float64)
    share = np.divide(common, counts[:, None], out=np.zeros_like(common), where=counts[:, None] > 0)
    # Shared themes first (in millionths), then the tie-break: one integer weight.
    weight = np.rint(share * SCALE).astype(np.int64)
    if tie_break is not None:
        weight = weight * 100 + np.rint(np.clip(tie_break, 0, 1) * 99).astype(np.int64)
    ok = np.ones((n, c), dtype=bool) if allowed is None else np.asarray(allowed, dtype=bool)
    depts, dept_of = np.unique(mentee_department, return_inverse=True)
    d = len(depts)
    # Nodes: source, mentees, (circle, department) gates, circles, sink.
    src, gate0 = 0, 1 + n
    circle0 = gate0 + c * d
    sink = circle0 + c
    mentees = np.arange(n)
    anchors = np.arange(c)
    tails = [np.zeros(n, np.int64)]
    heads = [1 + mentees]
    caps = [np.ones(n, np.int64)]
    # A bonus per placement above any total share: place as many mentees as possible first.
    bonus = n * (int(weight.max()) + 1) + 1  # above any total weight
    costs = [np.zeros(n, np.int64)]
    ii, cc = np.nonzero(ok)  # the mentee-circle pairs the rules allow
    tails.append(1 + ii)
    heads.append(gate0 + cc * d + dept_of[ii])
    caps.append(np.ones(len(ii), np.int64))
    costs.append(-(weight[ii, cc] + bonus))
    gc, gd = np.meshgrid(anchors, np.arange(d), indexing="ij")
    tails.append(gate0 + gc.ravel() * d + gd.ravel())
    heads.append(circle0 + gc.ravel())
    caps.append(same[gc.ravel()])
    costs.append(np.zeros(c * d, np.int64))
    tails.append(circle0 + anchors)
    heads.append(np.full(c, sink))
    caps.append(sizes.copy())
    costs.append(np.zeros(c, np.int64))
    status, flows = flow.solve(
        flow.Flow(
            tails=np.concatenate(tails).astype(np.int32),
            heads=np.concatenate(heads).astype(np.int32),
            capacities=np.concatenate(caps).astype(np.int64),
            costs=np.concatenate(costs).astype(np.int64),
            source=src,
            sink=sink,
            supply=n,
            max_flow=True,
            answer=np.arange(n, n + len(ii)),
        )
    )
    if status != flow.OPTIMAL:
        raise RuntimeError("circle formation failed")
    used = flows > 0
    member, circle = ii[used], cc[used]
    groups = []
    for a in range(c):
        people = sorted(member[circle == a].tolist())
        mean = float(share[people, a].mean()) if people else 0.0
        groups.append(Circle(a, people, round(mean, 6)))
    placed = set(member.tolist())
    total = float(share[member, circle].sum())
    return Circles(groups, [i for i in range(n) if i not in placed], round(total, 6))
