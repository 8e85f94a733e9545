"""Session-wide preparation shared by every test folder."""

from __future__ import annotations

import pytest

from services.matching.engine.warm import warm_up


@pytest.fixture(scope="session", autouse=True)
def _compiled_matching_kernels() -> None:
    """Compile (fresh checkout) or load the engine's kernels once, up front: the service
    processes the tests start then load them from numba's cache, and no test's waiting time
    includes a compilation."""
    warm_up()
