"""Settings every test process starts from (subprocesses inherit them)."""

from __future__ import annotations

import os

# Rate limits off: the suite (fuzzing, benchmarks, event storms) is not one caller of a real
# deployment. tests/api/test_edge.py sets them explicitly and checks the 429s.
os.environ.setdefault("BINOME_RATE_LIMIT_PER_TOKEN", "off")
os.environ.setdefault("BINOME_RATE_LIMIT_PER_ADDRESS", "off")
