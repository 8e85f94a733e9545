"""The pure parts stay pure: the engine, each domain and the event contracts import in a
process where the web, database, broker, HTTP-client and tracing libraries cannot be imported.

(import-linter checks the same statically in scripts/test.sh; this proves it by running.)"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from services import SERVICE_NAMES

BLOCKED = (
    "fastapi",
    "starlette",
    "sqlmodel",
    "sqlalchemy",
    "aiokafka",
    "httpx",
    "alembic",
    "opentelemetry",
    "uvicorn",
    "asyncpg",
    "aiosqlite",
)

_BLOCKER = textwrap.dedent(
    """
    import importlib, pkgutil, sys

    BLOCKED = set({blocked!r})

    class Blocker:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] in BLOCKED:
                raise ImportError(f"blocked: {{name}} (reached from a pure module)")
            return None

    sys.meta_path.insert(0, Blocker())
    for name in {modules!r}:
        module = importlib.import_module(name)
        if hasattr(module, "__path__"):  # a package: every module in it
            for info in pkgutil.walk_packages(module.__path__, name + "."):
                importlib.import_module(info.name)
    print("ok")
    """
)


def _import_blocked(*modules: str) -> subprocess.CompletedProcess[str]:
    code = _BLOCKER.format(blocked=BLOCKED, modules=list(modules))
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize(
    "module",
    [
        "services.matching.engine",
        "services.matching.cohort",
        *(f"services.{name}.domain" for name in SERVICE_NAMES),
        "shared.contracts",
        "shared.errors",
        "shared.domain",
    ],
)
def test_pure_module_imports_without_io_libraries(module: str) -> None:
    done = _import_blocked(module)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_the_blocker_does_block() -> None:
    """The test above can fail: a module that needs the database does not import here."""
    done = _import_blocked("services.matching.usecases")
    assert done.returncode != 0 and "blocked: " in done.stderr
