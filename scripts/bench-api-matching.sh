#!/usr/bin/env bash
# The service at the engine's speed: 12,000 employees, a programme of 10,000 mentees x 2,000
# mentors enrolled, run, published, paged, suggested and re-paired through the API of one
# `binome serve`, beside the engine alone on the same people, in one run. --pg: the same on
# PostgreSQL (started like the tests' one).
#   scripts/bench-api-matching.sh [--mentees 10000] [--mentors 2000] [--pg]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
if [[ " $* " == *" --pg "* ]]; then
  source scripts/lib/infra.sh
  export BENCH_PG_URL=$PG_URL
fi
exec .venv/bin/python -m tests.bench.api_matching "$@"
