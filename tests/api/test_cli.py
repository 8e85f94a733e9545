"""The `binome` command as a person meets it: a mistake is one clear line and exit status 2,
never a traceback; one embedded server per data folder; `binome wait` for scripts."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from contextlib import suppress
from pathlib import Path

import pytest

from tests.helpers import free_port

ROOT = Path(__file__).resolve().parents[2]


def binome(*args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, **env}
    return subprocess.run(
        [sys.executable, "-m", "services.cli", *args],
        cwd=ROOT,
        env=environment,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (
            ["serve"],
            {"BINOME_BUS": "kafak"},
            "BINOME_BUS: Input should be 'local' or 'kafka' (got 'kafak')",
        ),
        (
            ["serve"],
            {"BINOME_DATABASE_URL": "postgres://u:p@db/binome_{service}"},
            "BINOME_DATABASE_URL: use the asyncpg driver: postgresql+asyncpg://u:p@db/binome_{service}",
        ),
        (
            ["serve"],
            {"BINOME_TOPIC_PARTITIONS": "many"},
            "BINOME_TOPIC_PARTITIONS: Input should be a valid integer",
        ),
        (
            ["token", "--org", "a", "--role", "admin"],
            {"BINOME_BOGUS": "1"},
            "unknown Binôme settings in the environment: BINOME_BOGUS",
        ),
        (["serve", "--service", "matchng"], {}, "argument --service: invalid choice: 'matchng'"),
        (
            ["proxy-config", "--out", "x", "--route", "matching"],
            {},
            "--route 'matching': expected SERVICE=http://host:port",
        ),
        (
            ["proxy-config", "--out", "x", "--route", "matching=http://m:1"],
            {},
            "no --route for enrollment, sessions, feedback, reporting",
        ),
        (["serve", "--log-level", "loud"], {}, "argument --log-level: invalid choice: 'loud'"),
        (["serve", "--workers", "0"], {}, "--workers 0: one process or more"),
        (
            ["serve"],
            {"BINOME_REQUEST_QUEUE_TIMEOUT": "PT0S"},
            "BINOME_REQUEST_QUEUE_TIMEOUT: Input should be greater than 0 seconds",
        ),
        (
            ["serve"],
            {"BINOME_DB_POOL_SIZE": "0"},
            "BINOME_DB_POOL_SIZE: Input should be greater than or equal to 1",
        ),
        (
            ["serve", "--service", "matching", "--workers", "2"],
            {"BINOME_BUS": "local"},
            "--workers needs one --service on the Kafka bus",
        ),
    ],
)
def test_a_mistake_is_one_clear_line(args: list[str], env: dict[str, str], says: str) -> None:
    done = binome(*args, **env)
    assert done.returncode == 2
    assert says in done.stderr
    assert "Traceback" not in done.stderr and done.stderr.strip().splitlines()[-1].count(says) == 1


def test_one_embedded_server_per_data_folder_and_wait(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    first = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env={**os.environ, "BINOME_DATA_DIR": data},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        ready = binome("wait", "--url", url, "--timeout", "120", timeout=150)
        assert ready.returncode == 0, ready.stderr
        settled = binome("wait", "--url", url, "--settled", "--timeout", "60", timeout=90)
        assert settled.returncode == 0, settled.stderr
        t0 = time.monotonic()
        second = binome("serve", "--port", str(free_port()), BINOME_DATA_DIR=data)
        assert second.returncode == 2 and time.monotonic() - t0 < 30
        assert (
            f"the data folder {data} is in use by binome serve (pid {first.pid})" in second.stderr
        )
        assert first.poll() is None  # the first one goes on
    finally:
        first.terminate()
        first.wait(timeout=30)
    # Nobody there: `wait` says what it waited for, and gives up when told.
    gone = binome("wait", "--url", url, "--timeout", "1")
    assert gone.returncode == 2
    assert f"{url} still no answer (ConnectError) after 1 s" in gone.stderr


def test_the_images_command_hands_sigterm_to_the_server(tmp_path: Path) -> None:
    """The Dockerfile's CMD, run as a container would (with the process it starts as PID 1's
    stand-in): SIGTERM reaches the server itself, which shuts down cleanly (exec form)."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    cmd = json.loads(next(ln for ln in dockerfile.splitlines() if ln.startswith("CMD "))[4:])
    port = free_port()  # its port, not the image's 8000 (which a test may not own here)
    argv = [part.replace("--port 8000", f"--port {port}") for part in cmd]
    bin_dir = str(Path(sys.executable).parent)  # `binome` as the image has it on its PATH
    env = {
        **os.environ,
        "PATH": f"{bin_dir}:{os.environ['PATH']}",
        "PYTHONPATH": str(ROOT),
        "SERVICE": "enrollment",
        "BINOME_DATA_DIR": str(tmp_path / "data"),
        "BINOME_LOG_FORMAT": "json",
    }
    log = tmp_path / "server.log"
    server = subprocess.Popen(
        argv, env=env, stdout=log.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        ready = binome("wait", "--url", f"http://127.0.0.1:{port}", "--timeout", "120", timeout=150)
        assert ready.returncode == 0, ready.stderr + log.read_text()
        server.send_signal(signal.SIGTERM)
        # uvicorn shuts down, then re-raises the signal so the exit status tells why.
        assert server.wait(timeout=30) in (0, -signal.SIGTERM)
    finally:
        with suppress(ProcessLookupError):  # whatever of it is left (a shell's orphan)
            os.killpg(server.pid, signal.SIGKILL)
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines()]
    # The server itself got it (not a shell that would have died and left it running).
    assert "Application shutdown complete." in messages
