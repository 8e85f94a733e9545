"""Binôme's matching engine: a pure library (numpy, OR-Tools; no I/O) the service calls.

- scoring: every mentee x mentor pair's compatibility in [0, 1], vectorised, block by block,
  from criteria a programme weights; hard constraints give the `allowed` mask.
- solver: the cohort assignment of maximum total compatibility under mentor capacities, with
  an LP duality certificate over every pair (also those outside its candidate graph).
- baselines: what a user would otherwise pick (greedy, scipy's assignment, dense min-cost flow),
  for the benchmark.
"""
