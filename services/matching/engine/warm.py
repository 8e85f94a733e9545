"""Load (or, on a machine's first run, compile) the engine's kernels before they are needed.

numba compiles a kernel on its first call and keeps the machine code on disk (`cache=True`):
a fresh process then only loads it (about 0.6 s for all of them); a fresh checkout or a new
CPU compiles them (about 20 s). The matching service calls this in the background at start,
so its first run does not pay it; the benchmark and the tests call it before timing anything.
"""

from __future__ import annotations

import numpy as np

from services.matching.engine import synthetic
from services.matching.engine.model import Constraints, Weights
from services.matching.engine.scoring import ArraySource, Scorer
from services.matching.engine.solver import Policy, solve


def warm_up() -> None:
    """Run every compiled path once on a tiny programme."""
    scorer = Scorer(synthetic.programme(40, 10, seed=1), Weights(), Constraints())
    scorer.block(slice(0, 5))
    scorer.contributions(0, 1)
    scorer.contributions_of_pairs(np.array([0, 1]), np.array([1, 2]))
    # Scores every mentor wants the same few mentees for: the check adds pairs back and the
    # solver repairs its optimum, so the repair kernel is loaded too.
    solve(scorer, k=1, per_mentor=0)
    rng = np.random.default_rng(0)
    solve(ArraySource(rng.random((30, 6)).astype(np.float32), np.full(6, 2)), k=1, per_mentor=0)
    solve(scorer, policy=Policy.max_score, cache_bytes=0)
