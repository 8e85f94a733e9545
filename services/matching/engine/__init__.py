"""Binôme's matching engine: a pure library (numpy, numba, OR-Tools; no I/O) the service calls.

- model: a cohort as arrays, the programme's weights and constraints.
- scoring: every mentee x mentor pair's compatibility in [0, 1], block by block, from criteria
  a programme weights; hard constraints give the `allowed` mask; scoring_kernels: its
  compiled loops.
- solver: the cohort assignment of maximum total compatibility under mentor capacities, with
  an LP duality certificate over every pair (also those outside its candidate graph);
  solver_kernels: its compiled loops; repair: the warm re-optimisation it uses when the
  check adds a few pairs.
- stable, explain, circles: stability and its audit, explanations and self-service, circles.
- baselines, bench, synthetic, warm: what a user would otherwise pick, the benchmark, seeded
  programmes, loading the compiled code ahead of use.
"""
