"""The README's core-loop walk-through (and its circles sequel), run exactly as written by
bash against `scripts/run.sh` on a fresh data folder, as a newcomer would paste it."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
from contextlib import suppress
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
SECTION = "## Walk through the core loop (curl, embedded mode)"


def walkthrough() -> str:
    """The section's bash blocks, in order, as one script."""
    readme = (ROOT / "README.md").read_text()
    start = readme.index(SECTION)
    section = readme[start : readme.index("\n## ", start + 1)]
    blocks = re.findall(r"```bash\n(.*?)```", section, flags=re.S)
    assert len(blocks) == 2
    return "\n".join(blocks)


def test_the_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    script = walkthrough()
    with socket.socket() as probe:  # its server is on :8000: another one there would be used
        assert probe.connect_ex(("127.0.0.1", 8000)) != 0, "port 8000 is taken: stop that server"
    assert "sleep" not in script  # waits are for what they wait for, not for a guess
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_")}
    env["BINOME_DATA_DIR"] = str(tmp_path / "data")  # a fresh start, not ./data
    # Then stop the server the first line started in the background, as its reader would.
    proc = subprocess.Popen(
        ["bash", "-c", f"{script}\nkill %1; wait"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # the server it starts in the background is in its group
    )
    try:
        out, err = proc.communicate(timeout=300)
    finally:
        with suppress(ProcessLookupError):  # anything of it still running
            os.killpg(proc.pid, signal.SIGTERM)
    assert proc.returncode == 0, err[-3000:]
    # Step 7: the case recommended re-pairing and the policy did it; Bob is proposed in Ann's
    # place, the session planned after the end is cancelled.
    (tmp_path / "walkthrough.out").write_text(out)
    docs = [d for d in _documents(out) if isinstance(d, dict)]
    case = next(d for d in docs if "recommendation" in d)
    assert case == {**case, "recommendation": "repair", "status": "closed", "outcome": "repaired"}
    matches = [d for d in docs if "mentor_employee_id" in d and "end_reason" in d]
    assert {(m["mentor_employee_id"], m["status"]) for m in matches} >= {
        ("ann", "ended"),
        ("bob", "proposed"),
    }
    assert {"status": "cancelled", "cancel_reason": "match_ended"} in docs
    # The circle: Ann and three mentees from three departments, who met her together.
    assert docs[-3:] == [
        {"mentee_employee_id": e, "status": "completed"} for e in ("kim", "lea", "max")
    ]
    assert "Traceback" not in err


def _documents(out: str) -> list[Any]:
    """Every JSON value the walk-through printed (curl's compact answers run into each other
    and into the server's log lines; jq's are pretty-printed), in order."""
    decoder, found, i = json.JSONDecoder(), [], 0
    while i < len(out):
        if out[i] in "{[":
            try:
                value, end = decoder.raw_decode(out, i)
            except json.JSONDecodeError:
                i += 1
                continue
            found.append(value)
            i = end
        else:
            i += 1
    return found
