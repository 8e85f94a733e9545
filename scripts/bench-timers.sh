#!/usr/bin/env bash
# Durable timers on PostgreSQL (started like the tests' one): a backlog of due timers fired
# through their handler, and due-to-fired latency under a steady stream; then relationship
# health re-judged in bulk when a programme's policy changes; each beside a naive baseline
# measured in the same run.
#   scripts/bench-timers.sh [--timers 100000] [--naive 5000] [--rate 500] [--seconds 10]
#   (the health part: BENCH_RELATIONSHIPS=100000 BENCH_NAIVE_RELATIONSHIPS=2000)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
source scripts/lib/infra.sh
export BENCH_PG_URL=$PG_URL
.venv/bin/python -m tests.bench.timers "$@"
echo
exec .venv/bin/python -m tests.bench.health --relationships "${BENCH_RELATIONSHIPS:-100000}" \
  --naive "${BENCH_NAIVE_RELATIONSHIPS:-2000}"
