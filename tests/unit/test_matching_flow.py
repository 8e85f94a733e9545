"""Large min-cost flows are solved in a child process (services/matching/engine/flow.py):
OR-Tools holds the GIL for a whole solve, which stopped every other thread of the service,
its event loop included. The same answers either way; a thread of this process keeps running
while the child solves; a child that died is replaced."""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable

import numpy as np

from services.matching.engine import flow


def _problem(n: int, m: int, degree: int, seed: int) -> flow.Flow:
    """n mentees, m mentors of 3 places, `degree` random candidate pairs per mentee."""
    rng = np.random.default_rng(seed)
    src, sink = n + m, n + m + 1
    pairs = n * degree
    tails = np.concatenate([np.full(n, src), np.repeat(np.arange(n), degree), np.arange(n, n + m)])
    heads = np.concatenate([np.arange(n), n + rng.integers(0, m, pairs), np.full(m, sink)])
    return flow.Flow(
        tails=tails.astype(np.int32),
        heads=heads.astype(np.int32),
        capacities=np.concatenate([np.ones(n + pairs), np.full(m, 3)]).astype(np.int64),
        costs=np.concatenate([np.zeros(n), -rng.integers(0, 10**6, pairs), np.zeros(m)]).astype(
            np.int64
        ),
        source=src,
        sink=sink,
        supply=n,
        max_flow=True,
        answer=np.arange(n, n + pairs),
    )


def _ticks_during(
    solve: Callable[[], tuple[int, np.ndarray]],
) -> tuple[tuple[int, np.ndarray], int]:
    """The answer, and how many times another thread of this process woke (every 1 ms)
    while `solve` ran."""
    ticks, running = [0], [True]

    def tick() -> None:
        while running[0]:
            time.sleep(0.001)
            ticks[0] += 1

    thread = threading.Thread(target=tick)
    thread.start()
    time.sleep(0.01)
    start = ticks[0]
    try:
        answer = solve()
        return answer, ticks[0] - start
    finally:
        running[0] = False
        thread.join()


def test_a_large_flow_is_solved_in_a_child_process_while_this_one_runs() -> None:
    problem = _problem(30_000, 6_000, 8, seed=1)
    assert len(problem.tails) >= flow.FLOW_ELSEWHERE_FROM
    (status, here), ticks_here = _ticks_during(lambda: flow.solve_here(problem))
    (status_elsewhere, elsewhere), ticks_elsewhere = _ticks_during(lambda: flow.solve(problem))
    print(f"\nticks while solved here {ticks_here}, in the child {ticks_elsewhere}")
    assert status == status_elsewhere == flow.OPTIMAL
    assert np.array_equal(here, elsewhere) and here.sum() > 0
    assert flow.child_pid() is not None
    # Here, OR-Tools holds the GIL: the other thread waits out the solve. In the child, it
    # keeps waking (every millisecond, at most the solve's duration).
    assert ticks_elsewhere >= 10 * max(ticks_here, 1), (ticks_here, ticks_elsewhere)


def test_a_child_that_died_is_replaced_and_small_flows_stay_here() -> None:
    problem = _problem(20_000, 4_000, 4, seed=2)
    first = flow.solve(problem)
    pid = flow.child_pid()
    assert pid is not None
    os.kill(pid, signal.SIGKILL)
    again = flow.solve(problem)
    assert flow.child_pid() not in (None, pid)
    assert again[0] == first[0] == flow.OPTIMAL and np.array_equal(again[1], first[1])
    small = _problem(100, 20, 3, seed=3)
    assert len(small.tails) < flow.FLOW_ELSEWHERE_FROM
    status, flows = flow.solve(small)
    assert status == flow.OPTIMAL and np.array_equal(flows, flow.solve_here(small)[1])
