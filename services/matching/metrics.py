"""Matching's own Prometheus series (exposed by the app's /metrics with `service="matching"`):
how long cohort runs take, end to end and in the solver, and how large they are."""

from __future__ import annotations

from prometheus_client import Histogram

_SECONDS = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)
_SIZES = (10, 50, 100, 500, 1_000, 5_000, 10_000, 50_000)

RUN_SECONDS = Histogram(
    "binome_matching_run_duration_seconds",
    "A cohort run from request to commit: loading, solving, storing the draft.",
    buckets=_SECONDS,
    registry=None,
)
SOLVE_SECONDS = Histogram(
    "binome_matching_solve_duration_seconds",
    "The engine's share of a cohort run (the solve and its certificate).",
    buckets=_SECONDS,
    registry=None,
)
RUN_MENTEES = Histogram(
    "binome_matching_run_mentees",
    "Mentees a cohort run considered.",
    buckets=_SIZES,
    registry=None,
)
RUN_PAIRS = Histogram(
    "binome_matching_run_pairs",
    "Pairs a cohort run proposed.",
    buckets=_SIZES,
    registry=None,
)

ALL = (RUN_SECONDS, SOLVE_SECONDS, RUN_MENTEES, RUN_PAIRS)
