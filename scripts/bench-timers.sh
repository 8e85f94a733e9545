#!/usr/bin/env bash
# Durable timers on PostgreSQL (started like the tests' one): a backlog of due timers fired
# through their handler, and due-to-fired latency under a steady stream, each beside a naive
# baseline measured in the same run.
#   scripts/bench-timers.sh [--timers 100000] [--naive 5000] [--rate 500] [--seconds 10]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
source scripts/lib/infra.sh
export BENCH_PG_URL=$PG_URL
exec .venv/bin/python -m tests.bench.timers "$@"
