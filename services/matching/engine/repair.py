"""Warm re-optimisation: the optimal assignment again after new pairs join the candidate graph.

The certificate's check adds the pairs that violate the dual (u_i + v_j < w_ij); solving the
whole min-cost flow again for a few hundred such pairs wastes the work already done. Instead
the previous optimum is repaired by successive shortest paths (Ahuja, Magnanti & Orlin, ch. 9):

- the flow network is the solver's (source -> mentee -> mentor -> sink, plus a free bypass
  from source to sink for mentees left unmatched), arc cost -(w_ij + bonus);
- node potentials start from the previous duals (p_i = u_i, p_j = -v_j), under which every
  residual arc has a non-negative reduced cost c(x, y) + p_x - p_y, except the new pairs;
- each mentee with a violated pair is detached from its mentor and its potential raised until
  all its arcs are non-negative again: the mentee now holds one unit too many (an excess) and
  its mentor's slot one too few (a deficit; the sink's, for a mentee that was unmatched);
- from each excess, Dijkstra on reduced costs finds the cheapest way to a deficit; the unit
  moves along it (mentees may change mentor, a slot may be released, a mentee may drop to
  unmatched) and the potentials of the nodes it settled are lowered so reduced costs stay
  non-negative. When no excess is left the flow is optimal on the enlarged graph.

A repair costs a few local searches instead of a solve of the whole graph. The result is not
taken on trust: the solver derives the duals from it again and checks them over every pair.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from numba import njit

I64 = npt.NDArray[np.int64]

# How each settled node was reached (the arc kind of its predecessor).
_ASSIGN, _UNASSIGN, _LEAVE, _ENTER, _TO_SINK, _FROM_SINK, _BYPASS, _UNBYPASS = range(8)


@njit(inline="always", cache=True)
def _heap_push(keys, vals, size, key, val):
    pos = size
    keys[pos] = key
    vals[pos] = val
    while pos > 0:
        parent = (pos - 1) >> 1
        if keys[parent] < key or (keys[parent] == key and vals[parent] <= val):
            break
        keys[pos], vals[pos] = keys[parent], vals[parent]
        keys[parent], vals[parent] = key, val
        pos = parent
    return size + 1


@njit(inline="always", cache=True)
def _heap_pop(keys, vals, size):
    key, val = keys[0], vals[0]
    size -= 1
    if size > 0:
        k, v = keys[size], vals[size]
        pos = 0
        while True:
            child = 2 * pos + 1
            if child >= size:
                break
            if child + 1 < size and (
                keys[child + 1] < keys[child]
                or (keys[child + 1] == keys[child] and vals[child + 1] < vals[child])
            ):
                child += 1
            if keys[child] < k or (keys[child] == k and vals[child] < v):
                keys[pos], vals[pos] = keys[child], vals[child]
                pos = child
            else:
                break
        keys[pos], vals[pos] = k, v
    return key, val, size


@njit(inline="always", cache=True)
def _relax(y, nd, via, how, run, search, size):
    """Reach node y at distance nd from `via` by an arc of kind `how`, if that is shorter."""
    seen, dist, pred, kind, heap_k, heap_v = search
    if seen[y] != run or nd < dist[y]:
        seen[y], dist[y], pred[y], kind[y] = run, nd, via, how
        size = _heap_push(heap_k, heap_v, size, nd, y)
    return size


@njit(inline="always", cache=True)
def _apply_path(start, target, pred, kind, graph, flow):
    """Move one unit along the path found (target back to start); returns the change of the
    bypass flow. Releases first, so a mentor never holds more than capacity + 1 mentees."""
    n, ptr, adj_j, adj_w = graph
    mentor_of, own_w, in_flow, out, slot_ptr, slots = flow
    bypass = 0
    for phase in range(2):
        y = target
        while y != start:
            x = pred[y]
            k = kind[y]
            if phase == 0:
                if k == _UNASSIGN:  # mentor x gives up mentee y
                    for s in range(slot_ptr[x - n], slot_ptr[x - n + 1]):
                        if slots[s] == y:
                            slots[s] = -1
                    mentor_of[y] = -1
            elif k == _ASSIGN:  # mentee x takes mentor y
                j = y - n
                for s in range(slot_ptr[j], slot_ptr[j + 1]):
                    if slots[s] < 0:
                        slots[s] = x
                        break
                mentor_of[x] = j
                for e in range(ptr[x], ptr[x + 1]):
                    if adj_j[e] == j:
                        own_w[x] = adj_w[e]
            elif k == _LEAVE:
                in_flow[x] = 0
            elif k == _ENTER:
                in_flow[y] = 1
            elif k == _TO_SINK:
                out[x - n] += 1
            elif k == _FROM_SINK:
                out[y - n] -= 1
            elif k == _BYPASS:
                bypass += 1
            elif k == _UNBYPASS:
                bypass -= 1
            y = x
    return bypass


@njit(nogil=True, cache=True)
def _repair(ptr, adj_j, adj_w, capacity, mentor_of, u, v, detach, budget):
    n = ptr.shape[0] - 1
    m = capacity.shape[0]
    src, sink = n + m, n + m + 1
    nodes = n + m + 2
    p = np.zeros(nodes, dtype=np.int64)
    p[:n] = u
    p[n : n + m] = -v
    own_w = np.zeros(n, dtype=np.int64)  # the weight of each mentee's assigned pair
    in_flow = np.zeros(n, dtype=np.int64)  # flow on source -> mentee
    out = np.zeros(m, dtype=np.int64)  # flow on mentor -> sink
    for i in range(n):
        j = mentor_of[i]
        if j >= 0:
            in_flow[i] = 1
            out[j] += 1
            for e in range(ptr[i], ptr[i + 1]):
                if adj_j[e] == j:
                    own_w[i] = adj_w[e]
    bypass = n - in_flow.sum()
    # Mentees assigned to each mentor: one spare place, used while a path is applied.
    slot_ptr = np.zeros(m + 1, dtype=np.int64)
    for j in range(m):
        slot_ptr[j + 1] = slot_ptr[j] + capacity[j] + 1
    slots = np.full(slot_ptr[m], -1, dtype=np.int64)
    for i in range(n):
        j = mentor_of[i]
        if j >= 0:
            for s in range(slot_ptr[j], slot_ptr[j + 1]):
                if slots[s] < 0:
                    slots[s] = i
                    break
    deficit = np.zeros(nodes, dtype=np.int64)
    for i in detach:
        best = p[i]
        for e in range(ptr[i], ptr[i + 1]):
            best = max(best, adj_w[e] + p[n + adj_j[e]])  # w_ij - v_j
        p[i] = best
        j = mentor_of[i]
        if j >= 0:
            for s in range(slot_ptr[j], slot_ptr[j + 1]):
                if slots[s] == i:
                    slots[s] = -1
            mentor_of[i] = -1
            deficit[n + j] += 1
        else:
            in_flow[i] = 1
            bypass -= 1
            deficit[sink] += 1

    dist = np.zeros(nodes, dtype=np.int64)
    seen = np.zeros(nodes, dtype=np.int64)  # run number when first reached
    done = np.zeros(nodes, dtype=np.int64)  # run number when settled
    pred = np.full(nodes, -1, dtype=np.int64)
    kind = np.zeros(nodes, dtype=np.int64)
    settled = np.empty(nodes, dtype=np.int64)
    heap_k = np.empty(8 * nodes + ptr[n] + 16, dtype=np.int64)
    heap_v = np.empty(8 * nodes + ptr[n] + 16, dtype=np.int64)
    search = (seen, dist, pred, kind, heap_k, heap_v)
    graph = (n, ptr, adj_j, adj_w)
    flow = (mentor_of, own_w, in_flow, out, slot_ptr, slots)
    work = 0
    for run in range(1, detach.shape[0] + 1):
        start = detach[run - 1]
        size = _heap_push(heap_k, heap_v, 0, 0, start)
        dist[start] = 0
        seen[start] = run
        pred[start] = -1
        n_settled = 0
        target = -1
        while size > 0:
            d, x, size = _heap_pop(heap_k, heap_v, size)
            if done[x] == run or d > dist[x]:
                continue
            done[x] = run
            settled[n_settled] = x
            n_settled += 1
            work += 1 + (ptr[x + 1] - ptr[x] if x < n else 0) + (n if x == src else 0)
            work += m if x == sink else 0
            if work > budget:
                return -2  # more work than solving again would take
            if deficit[x] > 0:
                target = x
                break
            # Relax every residual arc out of x: (head, reduced cost, kind).
            if x < n:  # a mentee
                for e in range(ptr[x], ptr[x + 1]):
                    j = adj_j[e]
                    if mentor_of[x] == j:
                        continue
                    y = n + j
                    nd = d + (p[x] - adj_w[e] - p[y])
                    size = _relax(y, nd, x, _ASSIGN, run, search, size)
                if in_flow[x] == 1:
                    nd = d + (p[x] - p[src])
                    size = _relax(src, nd, x, _LEAVE, run, search, size)
            elif x < n + m:  # a mentor
                j = x - n
                for s in range(slot_ptr[j], slot_ptr[j + 1]):
                    i = slots[s]
                    if i < 0:
                        continue
                    nd = d + (own_w[i] + p[x] - p[i])
                    size = _relax(i, nd, x, _UNASSIGN, run, search, size)
                if out[j] < capacity[j]:
                    nd = d + (p[x] - p[sink])
                    size = _relax(sink, nd, x, _TO_SINK, run, search, size)
            elif x == src:
                for i in range(n):
                    if in_flow[i] == 0:
                        nd = d + (p[src] - p[i])
                        size = _relax(i, nd, src, _ENTER, run, search, size)
                nd = d + (p[src] - p[sink])
                size = _relax(sink, nd, src, _BYPASS, run, search, size)
            else:  # the sink
                for j in range(m):
                    if out[j] > 0:
                        y = n + j
                        nd = d + (p[sink] - p[y])
                        size = _relax(y, nd, sink, _FROM_SINK, run, search, size)
                if bypass > 0:
                    nd = d + (p[sink] - p[src])
                    size = _relax(src, nd, sink, _UNBYPASS, run, search, size)
        if target < 0:
            return -1  # no path: the network is inconsistent (cannot happen, see the bypass)
        big = dist[target]
        for s in range(n_settled):
            x = settled[s]
            p[x] += dist[x] - big
        bypass += _apply_path(start, target, pred, kind, graph, flow)
        deficit[target] -= 1
    return work


def repair(
    ei: I64,
    ej: I64,
    ew: I64,
    capacity: I64,
    mentor_of: I64,
    u: I64,
    v: I64,
    detach: I64,
    budget: int | None = None,
) -> tuple[I64 | None, int]:
    """The optimal mentor_of on the graph (ei, ej, ew: weights with any bonus included), from
    the previous optimum and its duals (u, v), re-optimising around the `detach` mentees (those
    with a pair that violates the duals). Returns (mentor_of, work done: arcs examined), or
    (None, work) when the work would exceed `budget` (then solving again is cheaper).
    """
    n = len(mentor_of)
    order = np.argsort(ei, kind="stable")
    ptr = np.searchsorted(ei[order], np.arange(n + 1)).astype(np.int64)
    result = np.array(mentor_of, dtype=np.int64)
    work = _repair(
        ptr,
        np.ascontiguousarray(ej[order], dtype=np.int64),
        np.ascontiguousarray(ew[order], dtype=np.int64),
        np.asarray(capacity, dtype=np.int64),
        result,
        np.asarray(u, dtype=np.int64),
        np.asarray(v, dtype=np.int64),
        np.unique(np.asarray(detach, dtype=np.int64)),
        np.int64(2**62 if budget is None else budget),
    )
    if work == -2:
        return None, int(budget or 0)
    if work < 0:
        raise RuntimeError("repair found no path: the flow network is inconsistent")
    return result, int(work)
