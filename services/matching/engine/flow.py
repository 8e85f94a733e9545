"""Min-cost flows solved by OR-Tools, in a child process once they are large: the engine's
one way to them (a cohort's pairs, a circles programme's circles).

OR-Tools' `SimpleMinCostFlow.solve` holds the GIL for the whole solve: 60 ms for a
10,000 x 2,000 cohort's graph, seconds at 50,000 x 10,000, during which no other thread of the
process runs, the service's event loop included (every request waited: `/healthz` 1.7 s at
worst during a 50,000 x 10,000 run). From FLOW_ELSEWHERE_FROM arcs the graph goes to a child
process instead (`python -m services.matching.engine.flow`: numpy and OR-Tools only), over
its stdin and stdout as pickled arrays, and the calling thread waits without the GIL. The
child is started at the first such solve, kept for the next ones, ends when its parent does
(its stdin closes), and is started again if it died; if it cannot answer, the solve runs
here as before.
"""

from __future__ import annotations

import logging
import pickle
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import IO, Any

import numpy as np
import numpy.typing as npt
from ortools.graph.python import min_cost_flow

log = logging.getLogger(__name__)

I64 = npt.NDArray[np.int64]

FLOW_ELSEWHERE_FROM = 50_000  # arcs: below, the solve is shorter than a trip to the child


@dataclass(frozen=True)
class Flow:
    """A min-cost flow problem: arcs (tails, heads, capacities, unit costs), `supply` units
    from `source` to `sink`; `max_flow`: the maximum flow of minimum cost (else the minimum
    cost flow of exactly `supply`); `answer`: the arcs whose flows are wanted."""

    tails: npt.NDArray[np.int32]
    heads: npt.NDArray[np.int32]
    capacities: I64
    costs: I64
    source: int
    sink: int
    supply: int
    max_flow: bool
    answer: I64


def solve_here(flow: Flow) -> tuple[int, I64]:
    """(OR-Tools' status, the flows on `flow.answer`'s arcs), in this process."""
    smcf = min_cost_flow.SimpleMinCostFlow()
    smcf.add_arcs_with_capacity_and_unit_cost(flow.tails, flow.heads, flow.capacities, flow.costs)
    smcf.set_nodes_supplies(
        np.array([flow.source, flow.sink]), np.array([flow.supply, -flow.supply])
    )
    status = smcf.solve_max_flow_with_min_cost() if flow.max_flow else smcf.solve()
    if status != smcf.OPTIMAL:
        return int(status), np.empty(0, dtype=np.int64)
    return int(status), np.asarray(smcf.flows(flow.answer), dtype=np.int64)


OPTIMAL = int(min_cost_flow.SimpleMinCostFlow.OPTIMAL)


class _Child:
    """The child process solving large flows, one at a time."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._process: subprocess.Popen[bytes] | None = None

    def _started(self) -> subprocess.Popen[bytes]:
        if self._process is None or self._process.poll() is not None:
            self._process = subprocess.Popen(
                [sys.executable, "-m", "services.matching.engine.flow"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
            )
        return self._process

    def prepare(self) -> None:
        """Start the child if it is not running (it imports while the caller goes on); never
        waits: a solve under way has it running already."""
        if self._lock.acquire(blocking=False):
            try:
                self._started()
            finally:
                self._lock.release()

    def solve(self, flow: Flow) -> tuple[int, I64]:
        with self._lock:
            for attempt in (1, 2):
                process = self._started()
                try:
                    assert process.stdin is not None and process.stdout is not None
                    _send(process.stdin, flow)
                    answer: tuple[int, I64] = pickle.load(process.stdout)
                    return answer
                except (OSError, EOFError, pickle.UnpicklingError) as e:
                    process.kill()
                    process.wait()
                    log.warning("the flow process failed (%s), attempt %s of 2", e, attempt)
        return solve_here(flow)  # it cannot answer: here, holding the GIL as before

    @property
    def pid(self) -> int | None:
        """The child's pid, while it runs."""
        process = self._process
        return process.pid if process is not None and process.poll() is None else None


_child = _Child()


def solve(flow: Flow) -> tuple[int, I64]:
    """(OR-Tools' status, the flows on `flow.answer`'s arcs): in the child process from
    FLOW_ELSEWHERE_FROM arcs, else here."""
    if len(flow.tails) >= FLOW_ELSEWHERE_FROM:
        return _child.solve(flow)
    return solve_here(flow)


def prepare() -> None:
    """Have the child process ready for a large solve soon (a cohort's run, while its people
    are read): its start (numpy and OR-Tools imported, 0.2 s) is not waited for then."""
    _child.prepare()


def child_pid() -> int | None:
    return _child.pid


def _send(out: IO[bytes], value: Any) -> None:
    pickle.dump(value, out, protocol=pickle.HIGHEST_PROTOCOL)
    out.flush()


def main() -> None:
    """The child: a flow from stdin, its answer to stdout, until stdin closes."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    while True:
        try:
            flow = pickle.load(source)
        except EOFError:
            return
        _send(sink, solve_here(flow))


if __name__ == "__main__":
    main()
