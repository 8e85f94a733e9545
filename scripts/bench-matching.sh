#!/usr/bin/env bash
# The matching engine's benchmark: Binôme's certified solver beside greedy, scipy's
# linear_sum_assignment on the capacity-expanded matrix and OR-Tools min-cost flow on the dense
# graph, on seeded synthetic programmes (or an outside instance).
#   scripts/bench-matching.sh                               1,000x200 and 10,000x2,000
#   scripts/bench-matching.sh --sizes 1000x200,10000x2000,50000x10000
#   scripts/bench-matching.sh --instance FILE.npz           arrays scores, capacity, allowed
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
exec .venv/bin/python -m services.matching.engine.bench "$@"
