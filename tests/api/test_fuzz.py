"""Schema-driven fuzzing of every operation of the embedded API (schemathesis).

Whatever the generated input (valid, invalid, edge values), Binôme answers as its OpenAPI
document says: never a 5xx, only documented statuses and media types, responses that match
their schemas, invalid input refused and valid input accepted. The server is the real
`binome serve` process, on its own port and data folder, seeded with real objects of every
kind (tests/helpers/fuzz.py `seed`) whose ids the fuzzer draws half of the time, so that
requests reach past "not found" into the rules. The same on PostgreSQL and Kafka:
tests/infra/test_fuzz_pg.py.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest

from shared.auth import Role, mint_token
from shared.settings import Settings
from tests.helpers.fuzz import schemathesis, seed, serving

Seeded = tuple[str, dict[str, list[str]]]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    with serving({"BINOME_DATA_DIR": str(tmp_path_factory.mktemp("fuzz"))}) as url:
        yield url, asyncio.run(seed(url, Settings(), org="fuzz"))


def test_every_schemathesis_check_passes_for_an_admin(server: Seeded, tmp_path: Path) -> None:
    """Every check (server errors, status codes and content types documented, responses
    matching their schemas, negative data rejected, positive data accepted, ignored auth,
    resources used after deletion...) in the examples, fuzzing and stateful phases,
    deterministic: 0 failures. (The coverage phase passes too, run by hand: 5,107 cases in
    84 s, more than this test command can spend.) tests/api/schemathesis.toml names the few
    operations whose rules OpenAPI cannot state (cross-field, role-dependent)."""
    url, seeded = server
    admin = mint_token(Settings(), org="fuzz", role=Role.admin)
    tested, generated = schemathesis(
        url, admin, tmp_path, phases="examples,fuzzing,stateful", max_examples=5, seeded=seeded
    )
    assert tested >= 80 and generated > 5 * tested, (tested, generated)


@pytest.mark.parametrize("who", ["party", "outsider"])
def test_every_schemathesis_check_passes_for_employees(
    server: Seeded, tmp_path: Path, who: str
) -> None:
    """Two employees' tokens over each operation's documented examples, the seeded ids in
    every path: the mentee of the seeded relationship (her own objects, answered as
    documented) and a mentee outside it (the same ids: not hers, so 404 or 403, never a leak
    or a 5xx)."""
    url, seeded = server
    employee_id = seeded["employee_id"][0 if who == "party" else 1]  # eve, fay
    token = mint_token(Settings(), org="fuzz", role=Role.employee, employee_id=employee_id)
    tested, generated = schemathesis(
        url, token, tmp_path, phases="examples", max_examples=5, seeded=seeded, always=True
    )
    assert tested >= 80 and generated >= tested, (tested, generated)
