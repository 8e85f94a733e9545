"""Schema-driven fuzzing of every operation of the embedded API (schemathesis).

Whatever the generated input (valid, invalid, edge values), Binôme answers as its OpenAPI
document says: never a 5xx, only documented statuses and media types, responses that match
their schemas, invalid input refused and valid input accepted. The server is the real
`binome serve` process, on its own port and data folder.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from shared.auth import Role, mint_token
from shared.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
ADMIN = mint_token(Settings(), org="fuzz", role=Role.admin)
# The same examples on every run (CI must not be a lottery); FUZZ_RANDOM=1 explores anew.
FIXED = not os.environ.get("FUZZ_RANDOM")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = dict(os.environ, BINOME_DATA_DIR=str(tmp_path_factory.mktemp("fuzz")))
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "services.cli",
            "serve",
            "--port",
            str(port),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.2)
        else:
            pytest.fail("binome serve did not become ready")
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=15)


def test_every_schemathesis_check_passes(server: str, tmp_path: Path) -> None:
    """Schemathesis's own CLI, every check (server errors, status codes and content types
    documented, responses matching their schemas, negative data rejected, positive data
    accepted, ignored auth, resources used after deletion...) and every phase (examples,
    coverage, fuzzing, stateful), deterministic: 0 failures. tests/api/schemathesis.toml names
    the few operations whose rules OpenAPI cannot state (cross-field, role-dependent)."""
    tool = Path(sys.executable).parent / "schemathesis"
    report = tmp_path / "report.json"
    ran = subprocess.run(
        [str(tool), "--config-file", str(ROOT / "tests" / "api" / "schemathesis.toml"), "run",
         f"{server}/openapi.json", "-H", f"Authorization: Bearer {ADMIN}",
         "--checks", "all", "--phases", "examples,coverage,fuzzing,stateful",
         "--max-examples", "5" if FIXED else "50", "--workers", "2",
         *(["--generation-deterministic"] if FIXED else []),
         "--wait-for-schema", "60", "--no-color", "--report", "ndjson",
         "--report-ndjson-path", str(report)],
        cwd=tmp_path, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    summary = ran.stdout[ran.stdout.find("SUMMARY") :]
    failures = ran.stdout[ran.stdout.find("FAILURES") : ran.stdout.find("SUMMARY")]
    assert ran.returncode == 0, failures[:8000] + summary + ran.stderr[-2000:]
    print(summary)  # operations, phases and cases, for the log
    tested = int(summary.split("Tested: ")[1].split()[0])
    generated = int(summary.split("Test cases:")[1].split("generated")[0].strip())
    assert tested >= 80 and generated > 20 * tested, summary
