#!/usr/bin/env bash
# The README's run command: Binôme embedded, all five services on http://127.0.0.1:8000,
# SQLite files under ./data and the in-process bus. Nothing else to install or start.
#   scripts/run.sh [binome serve args, e.g. --host 0.0.0.0 --port 8080]
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/venv.sh
exec .venv/bin/binome serve "$@"
