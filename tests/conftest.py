"""Settings every test process starts from (subprocesses inherit them)."""

from __future__ import annotations

import os
import secrets

# Rate limits off: the suite (fuzzing, benchmarks, event storms) is not one caller of a real
# deployment. tests/api/test_edge.py sets them explicitly and checks the 429s.
os.environ.setdefault("BINOME_RATE_LIMIT_PER_TOKEN", "off")
os.environ.setdefault("BINOME_RATE_LIMIT_PER_ADDRESS", "off")
# A deployment-like run (the Kafka bus) refuses the public development secret: the suite and
# the processes it starts share one made for it.
os.environ.setdefault("BINOME_JWT_SECRET", secrets.token_urlsafe(48))
