"""Schemathesis's CLI against a real `binome serve` process (tests/api/test_fuzz.py on SQLite,
tests/infra/test_fuzz_pg.py on PostgreSQL and Kafka)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "tests" / "api" / "schemathesis.toml"
# The same examples on every run (CI must not be a lottery); FUZZ_RANDOM=1 explores anew.
FIXED = not os.environ.get("FUZZ_RANDOM")


@contextmanager
def serving(env: dict[str, str]) -> Iterator[str]:
    """`binome serve` on a free port with these BINOME_* settings; its URL once ready."""
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_")}
    keep = {k: os.environ[k] for k in ("BINOME_JWT_SECRET",) if k in os.environ}
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port),
         "--log-level", "warning"],
        cwd=ROOT, env={**clean, **keep, "BINOME_RATE_LIMIT_PER_TOKEN": "off",
                       "BINOME_RATE_LIMIT_PER_ADDRESS": "off", **env},
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert proc.poll() is None, "binome serve exited"
            time.sleep(0.2)
        else:
            raise AssertionError("binome serve did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def schemathesis(
    url: str, token: str, folder: Path, *, phases: str, max_examples: int
) -> tuple[int, int]:
    """Every check of schemathesis's CLI over `phases`; fails the test, with the failures,
    unless none. Returns (operations tested, cases generated), from its summary."""
    tool = Path(sys.executable).parent / "schemathesis"
    ran = subprocess.run(
        [str(tool), "--config-file", str(CONFIG), "run", f"{url}/openapi.json",
         "-H", f"Authorization: Bearer {token}", "--checks", "all", "--phases", phases,
         "--max-examples", str(max_examples if FIXED else 10 * max_examples), "--workers", "2",
         *(["--generation-deterministic"] if FIXED else []),
         "--wait-for-schema", "60", "--no-color"],
        cwd=folder, capture_output=True, text=True, timeout=1200, check=False,
    )  # fmt: skip
    summary = ran.stdout[ran.stdout.find("SUMMARY") :]
    # What went wrong, above the summary: the FAILURES section, and ERRORS (the tool's own).
    starts = [i for i in (ran.stdout.find("ERRORS"), ran.stdout.find("FAILURES")) if i >= 0]
    failures = ran.stdout[min(starts, default=0) : ran.stdout.find("SUMMARY")]
    assert ran.returncode == 0, failures[:8000] + summary + ran.stderr[-2000:]
    print(summary)  # operations, phases and cases, for the log
    tested = int(summary.split("Tested: ")[1].split()[0])
    generated = int(summary.split("Test cases:")[1].split("generated")[0].strip())
    return tested, generated
