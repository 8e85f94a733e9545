"""Clients generated from the served OpenAPI document work: openapi-typescript's types (from
npm into tests/js by the test command) type-check a frontend's scripted use of the API with
`tsc --strict`, problems included, and a mistake in that use fails the check."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from tests.helpers import Api

JS = Path(__file__).resolve().parents[1] / "js"


def _run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(JS / "node_modules" / ".bin" / args[0]), *args[1:]],
        cwd=cwd,
        capture_output=True,
        text=True,
        check=False,
        timeout=180,
    )


async def test_a_generated_typescript_client_type_checks_a_frontends_use(
    api: Api, tmp_path: Path
) -> None:
    (tmp_path / "openapi.json").write_text(json.dumps((await api.c.get("/openapi.json")).json()))
    (tmp_path / "node_modules").symlink_to(JS / "node_modules")
    (tmp_path / "tsconfig.json").write_text((JS / "tsconfig.json").read_text())
    usage = (JS / "usage.ts").read_text()
    # Defaults make a field optional in a request, not required (openapi-typescript's default).
    generated = _run(
        "openapi-typescript", "openapi.json", "-o", "client/api.ts", "--default-non-nullable",
        "false", cwd=tmp_path,
    )  # fmt: skip
    assert generated.returncode == 0, generated.stderr
    (tmp_path / "usage.ts").write_text(usage)
    checked = _run("tsc", "-p", "tsconfig.json", cwd=tmp_path)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    # The check can fail: a misspelt field of the request body.
    (tmp_path / "usage.ts").write_text(usage.replace('name: "Onboarding"', 'nmae: "Onboarding"'))
    refused = _run("tsc", "-p", "tsconfig.json", cwd=tmp_path)
    assert refused.returncode != 0 and "nmae" in refused.stdout
    # ... and a conditional header of the wrong type (the ETag is a string, never null).
    (tmp_path / "usage.ts").write_text(usage.replace('"If-Match": version', '"If-Match": null'))
    refused = _run("tsc", "-p", "tsconfig.json", cwd=tmp_path)
    assert refused.returncode != 0 and "'null' is not assignable" in refused.stdout, refused.stdout
