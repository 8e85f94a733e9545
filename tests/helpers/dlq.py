"""Dead letters recovered after a fix, through the `binome dlq` command: the same scenario on
the embedded bus (api tier) and on Kafka (infra tier)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import httpx

from shared.messaging.bus import Bus
from tests import testkit
from tests.helpers import binome_cli, eventually

Publish = Callable[[list[testkit.CounterIncremented]], Awaitable[None]]


async def dead_letters_replayed_after_a_fix(
    *,
    client: httpx.AsyncClient,
    publish: Publish,
    bus: Bus,
    dead_letter_topic: str,
    group: str,
    env: dict[str, str],
) -> None:
    run, bug = uuid.uuid4().hex, f"bug-{uuid.uuid4().hex[:6]}"

    async def counts() -> dict[str, int]:
        return (await client.get(f"/v1/testkit/{run}")).json()

    async def settled(total: int, dead: int) -> bool:
        return (await counts())["total"] == total and await bus.count(dead_letter_topic) >= dead

    testkit.BUGGY_COUNTERS.add(bug)
    try:
        events = [
            testkit.CounterIncremented(run_id=run, counter_id=bug, amount=10) for _ in range(4)
        ] + [testkit.CounterIncremented(run_id=run, counter_id="fine", amount=1)]
        await publish(events)
        await eventually(lambda: settled(1, 4), timeout=30, what="4 dead letters, 1 applied")

        listed = await binome_cli("dlq", "list", "--group", group, "--json", env=env)
        assert listed.returncode == 0, listed.stderr
        letters = json.loads(listed.stdout)
        assert len(letters) == 4
        assert {x["type"] for x in letters} == {testkit.CounterIncremented.TYPE}
        assert all(
            x["error"].startswith(f"RuntimeError: bug: cannot apply counter {bug}") for x in letters
        )
        assert all(x["attempts"] == 3 and x["dead_lettered_at"] for x in letters)

        shown = await binome_cli("dlq", "show", letters[0]["event_id"], "--group", group, env=env)
        assert shown.returncode == 0, shown.stderr
        assert bug in json.loads(shown.stdout)["data"]
        missing = await binome_cli("dlq", "show", "no-such-id", "--group", group, env=env)
        assert missing.returncode == 1 and "no dead letter" in missing.stderr

        other_type = await binome_cli(
            "dlq", "list", "--group", group, "--type", "binome.x.y.z.v1", "--json", env=env
        )
        assert json.loads(other_type.stdout) == []
        future = await binome_cli(
            "dlq", "list", "--group", group, "--since", "2999-01-01T00:00:00Z", "--json", env=env
        )
        assert json.loads(future.stdout) == []

        dry = await binome_cli("dlq", "replay", "--group", group, "--dry-run", env=env)
        assert "would replay 4" in dry.stdout
    finally:
        testkit.BUGGY_COUNTERS.discard(bug)  # the fix is deployed

    replayed = await binome_cli("dlq", "replay", "--group", group, env=env)
    assert replayed.returncode == 0 and "replayed 4" in replayed.stdout, replayed.stderr
    await eventually(lambda: _total_is(counts, 41), timeout=30, what="replayed events applied")
    # Replaying again changes nothing: the inbox knows these events now.
    again = await binome_cli("dlq", "replay", "--group", group, env=env)
    assert "replayed 4" in again.stdout
    # Same key as the replays, so applied after them: by then the duplicates were skipped.
    sentinel = testkit.CounterIncremented(run_id=run, counter_id=bug, amount=100)
    await publish([sentinel])
    await eventually(lambda: _total_is(counts, 141), timeout=30, what="sentinel behind replays")
    assert await counts() == {"rows": 6, "distinct": 6, "total": 141}


async def _total_is(counts: Callable[[], Awaitable[dict[str, int]]], total: int) -> bool:
    return (await counts())["total"] == total
