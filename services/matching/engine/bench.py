"""Benchmark: Binôme's solver beside what a user would pick instead, measured in one run.

  python -m services.matching.engine.bench                      # 1,000x200 and 10,000x2,000
  python -m services.matching.engine.bench --sizes 50000x10000  # the large programme
  python -m services.matching.engine.bench --instance FILE.npz  # scores, capacity, allowed

Each method runs in its own fresh process so that its peak memory (max RSS) is its own, after
loading the compiled kernels on a tiny programme (a one-off cost per process). Scoring
time is the vectorised scoring of every pair (the baselines need the dense matrix; Binôme's
solver streams it block by block and counts it inside its own solve). The gap is measured
against Binôme's total, which its certificate proves optimal.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import resource
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from services.matching.engine import baselines, synthetic
from services.matching.engine.explain import replacements, suggestions
from services.matching.engine.model import Constraints, Weights
from services.matching.engine.scoring import ArraySource, Scorer
from services.matching.engine.solver import solve
from services.matching.engine.warm import warm_up

# A baseline is skipped above this many pairs: one run would take minutes (or the memory).
LIMITS = {"greedy": 25_000_000, "scipy_lsa_expanded": 25_000_000, "ortools_dense_flow": 25_000_000}
BASELINES: dict[str, Callable[..., Any]] = {
    "greedy": baselines.greedy,
    "scipy_lsa_expanded": baselines.lsa_expanded,
    "ortools_dense_flow": baselines.dense_flow,
}


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _dense(scorer: Scorer) -> tuple[np.ndarray, np.ndarray, float]:
    t = time.perf_counter()
    scores = np.empty((scorer.n, scorer.m), dtype=np.float32)
    allowed = np.empty((scorer.n, scorer.m), dtype=bool)
    for rows in scorer.blocks():
        scores[rows], allowed[rows] = scorer.block(rows)
    return scores, allowed, time.perf_counter() - t


def _run(method: str, n: int, m: int, capacity: int, seed: int, out: Any) -> None:
    warm_up()  # no method's timings include loading the compiled kernels
    cohort = synthetic.programme(n, m, capacity=capacity, seed=seed)
    # A 6-hour timezone gap and no seniority rule: the problem the README's published figures
    # were measured on.
    limits = Constraints(max_timezone_gap_h=6, seniority_required=False)
    scorer = Scorer(cohort, Weights(), limits)
    if method == "binome":
        t = time.perf_counter()
        sol = solve(scorer)
        total = time.perf_counter() - t
        result = {
            "scoring_s": sol.timings["score_and_candidates_s"],
            "solve_s": total - sol.timings["score_and_candidates_s"],
            "total": sol.total_score,
            "matched": sol.matched,
            "certificate": sol.certificate.holds,
            "rounds": sol.certificate.rounds,
            "peak_mb": _peak_mb(),
        }
        out.put(result | _self_service(scorer, sol.mentor_of))
        return
    scores, allowed, scoring_s = _dense(scorer)
    t = time.perf_counter()
    mentor_of = BASELINES[method](scores, allowed, scorer.capacity)
    solve_s = time.perf_counter() - t
    matched = mentor_of >= 0
    idx = np.flatnonzero(matched)
    total = float(scores[idx, mentor_of[idx]].astype(np.float64).sum())
    out.put(
        {
            "scoring_s": scoring_s,
            "solve_s": solve_s,
            "total": total,
            "matched": int(matched.sum()),
            "certificate": None,
            "peak_mb": _peak_mb(),
        }
    )


def _self_service(scorer: Scorer, mentor_of: np.ndarray) -> dict[str, float]:
    """After the cohort is matched: one mentee's suggestions, and the minimal-change re-match
    when a mentor leaves (the others each accept one more mentee), in milliseconds."""
    load = np.bincount(mentor_of[mentor_of >= 0], minlength=scorer.m)
    t = time.perf_counter()
    suggestions(scorer, 0, load=np.maximum(load - 1, 0), n=10)
    suggest_ms = (time.perf_counter() - t) * 1000
    leaving = int(np.argmax(load))
    orphans = np.flatnonzero(mentor_of == leaving)
    room_load = load - 1  # one more place each...
    room_load[leaving] = scorer.capacity[leaving]  # ...except the mentor who leaves
    t = time.perf_counter()
    new = replacements(scorer, orphans.tolist(), load=room_load)
    replace_ms = (time.perf_counter() - t) * 1000
    return {
        "suggest_ms": suggest_ms,
        "replace_ms": replace_ms,
        "replaced": len(new),
        "orphans": len(orphans),
    }


def _in_child(method: str, *args: Any) -> dict[str, Any]:
    ctx = mp.get_context("spawn")
    out = ctx.Queue()
    proc = ctx.Process(target=_run, args=(method, *args, out))
    proc.start()
    result = out.get()
    proc.join()
    return result


def bench_size(n: int, m: int, capacity: int, seed: int) -> None:
    print(f"\n{n:,} mentees x {m:,} mentors, capacity {capacity} (seed {seed})")
    header = (
        f"{'method':<20}{'scoring s':>10}{'solve s':>9}{'peak MB':>9}{'matched':>9}"
        f"{'total score':>13}{'gap %':>8}  certificate"
    )
    print(header)
    print("-" * len(header))
    rows = {"binome": _in_child("binome", n, m, capacity, seed)}
    best = rows["binome"]
    _print("binome (certified)", best, best)
    self_service = (
        f"  then: suggestions for one mentee {best['suggest_ms']:.1f} ms; a mentor leaves, "
        f"{best['replaced']} of {best['orphans']} mentees re-matched (minimal change) in "
        f"{best['replace_ms']:.1f} ms"
    )
    for name in BASELINES:
        if n * m > LIMITS[name]:
            print(f"{name:<20}skipped: {n * m / 1e6:.0f} M pairs, one run would take minutes")
            continue
        rows[name] = _in_child(name, n, m, capacity, seed)
        _print(name, rows[name], best)
    print(self_service)
    sys.stdout.flush()


def _print(name: str, r: dict[str, Any], best: dict[str, Any]) -> None:
    pct = 100 * (best["total"] - r["total"]) / best["total"] if best["total"] else 0.0
    gap = f"{max(pct, 0.0):.3f}" if abs(pct) >= 5e-4 else "0.000"
    cert = {True: "holds", False: "FAILS", None: "-"}[r["certificate"]]
    print(
        f"{name:<20}{r['scoring_s']:>10.2f}{r['solve_s']:>9.2f}{r['peak_mb']:>9.0f}"
        f"{r['matched']:>9,}{r['total']:>13.3f}{gap:>8}  {cert}"
    )


def bench_instance(path: str) -> None:
    data = np.load(path)
    scores = data["scores"]
    allowed = data["allowed"] if "allowed" in data else None
    source = ArraySource(scores, data["capacity"], allowed)
    warm_up()  # no method's timings include loading the compiled kernels
    sol = solve(source)
    c = sol.certificate
    print(f"instance {path}: {source.n:,} mentees x {source.m:,} mentors")
    print(
        f"total score {sol.total_score:.6f}, matched {sol.matched:,}, certificate "
        f"{'holds' if c.holds else 'FAILS'} (primal {c.primal}, dual {c.dual}, "
        f"{c.pairs_covered:,} pairs covered, {c.rounds} rounds)"
    )
    print("timings: " + ", ".join(f"{k} {v:.3f}" for k, v in sol.timings.items()))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--sizes",
        default="1000x200,10000x2000",
        help="comma-separated MENTEESxMENTORS, e.g. 50000x10000",
    )
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--instance", help="an .npz with scores, capacity and allowed")
    args = parser.parse_args(argv)
    if args.instance:
        bench_instance(args.instance)
        return
    for size in args.sizes.split(","):
        n, m = (int(x) for x in size.lower().split("x"))
        bench_size(n, m, args.capacity, args.seed)


if __name__ == "__main__":
    main()
