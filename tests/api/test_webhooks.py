"""Outbound webhooks on the embedded mode, delivered to a real HTTP receiver that checks each
signature with the Standard Webhooks reference verifier: subscribed events arrive as
CloudEvents, signed, logged; a failing receiver is retried on the schedule (a clock the test
moves), the endpoint disabled after sustained failure, re-enabled and its failures recovered;
a secret rotated signs beside the old one until that expires; bad subscriptions are refused
with a 422 naming the problem (SSRF: loopback, private, link-local addresses)."""

from __future__ import annotations

import shutil
from collections.abc import AsyncIterator, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from services import load_all
from shared.app import build_app
from shared.clock import ManualClock
from shared.settings import Settings
from tests.helpers import Api, auth, eventually
from tests.helpers.webhooks import Receiver, receiver

HIRED = "binome.enrollment.employee.hired.v1"
PROGRAM_CREATED = "binome.enrollment.program.created.v1"


def _settings(data_dir: Path, **webhooks: Any) -> Settings:
    return Settings(
        data_dir=data_dir,
        outbox_poll_interval_s=0.2,
        consumer_retry_backoff_s=0.01,
        timer_poll_interval_s=0.05,
        **webhooks,
    )


@pytest.fixture
def settings(tmp_path: Path, migrated: Path) -> Settings:
    """Receivers on this host allowed (the test's own), retries a minute then ten apart, an
    endpoint disabled after an hour of failures."""
    shutil.copytree(migrated, tmp_path / "data")
    return _settings(
        tmp_path / "data",
        webhook_allow_private=True,
        webhook_retry_schedule=[timedelta(minutes=1), timedelta(minutes=10)],
        webhook_disable_after=timedelta(hours=1),
        webhook_timeout_s=5,
    )


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


async def _subscribe(api: Api, hook: Receiver, types: list[str]) -> dict[str, Any]:
    made = await api.ok(
        "POST", "/v1/webhooks", json={"url": hook.url, "event_types": types}, expect=201
    )
    hook.secrets.append(made["secret"])
    return made


async def _hire(api: Api, *ids: str) -> None:
    await api.hire(*({"id": i, "name": i.title(), "languages": ["fr"]} for i in ids), prefix=ids[0])


async def _deliveries(api: Api, endpoint_id: str, **params: str) -> list[dict[str, Any]]:
    return await api.items(f"/v1/webhooks/{endpoint_id}/deliveries", params=params)


async def test_subscribed_events_arrive_signed_as_cloudevents_and_are_logged(
    api: Api, hook: Receiver
) -> None:
    made = await _subscribe(api, hook, [HIRED])
    assert made["secret"].startswith("whsec_") and made["enabled"] is True
    assert made["event_types"] == [HIRED]
    await api.program({"name": "Not subscribed", "format": "classic"}, status=None)
    await _hire(api, "ada", "bob")

    await eventually(lambda: _n(hook, 2), what="two deliveries")
    for got in hook.received:
        assert got.verified_with == [made["secret"]], "the reference verifier accepts it"
        assert got.path == "/hooks/binome"
        assert got.headers["content-type"] == "application/cloudevents+json"
        assert got.headers["user-agent"].startswith("Binome-Webhooks/")
    events = sorted((r.event for r in hook.received), key=lambda e: e["data"]["employee_id"])
    assert [e["data"]["employee_id"] for e in events] == ["ada", "bob"]
    assert {e["type"] for e in events} == {HIRED}  # not the programme's creation
    assert all(e["specversion"] == "1.0" and e["org"] == "acme" for e in events)

    log = await eventually(
        lambda: _all_status(api, made["id"], "succeeded", 2), what="the log says delivered"
    )
    ids = {r.headers["webhook-id"] for r in hook.received}
    assert {d["id"] for d in log} == ids  # the webhook-id is the delivery's id
    one = await api.ok("GET", f"/v1/webhooks/{made['id']}/deliveries/{log[0]['id']}")
    assert one["payload"]["id"] == one["event_id"]
    assert [(a["number"], a["status_code"]) for a in one["attempt_log"]] == [(1, 200)]
    assert one["delivered_at"] is not None and one["next_attempt_at"] is None

    # Replayed on request: the same delivery (its id) sent again.
    again = await api.ok("POST", f"/v1/webhooks/{made['id']}/deliveries/{log[0]['id']}/replay")
    assert again["status"] == "pending"
    await eventually(lambda: _n(hook, 3), what="the replay")
    assert hook.received[-1].headers["webhook-id"] == log[0]["id"]
    detail = await eventually(
        lambda: _delivered(api, made["id"], log[0]["id"], attempts=2), what="replay logged"
    )
    assert detail["total_attempts"] == 2

    # Listed, read, filtered; the secret is never shown again.
    listed = await api.items("/v1/webhooks")
    assert [e["id"] for e in listed] == [made["id"]] and "secret" not in listed[0]
    assert await _deliveries(api, made["id"], status="failed") == []


async def test_a_failing_receiver_is_retried_then_disabled_then_recovered(
    api: Api, hook: Receiver, clock: ManualClock
) -> None:
    hook.status = 500
    made = await _subscribe(api, hook, ["*"])
    endpoint = made["id"]
    await _hire(api, "cy")
    await eventually(lambda: _n(hook, 1), what="the first attempt")
    first = (await eventually(lambda: _deliveries(api, endpoint), what="logged"))[0]
    first = await eventually(lambda: _delivered(api, endpoint, first["id"], attempts=1))
    assert first["status"] == "pending" and first["last_status"] == 500
    assert first["last_error"] == "the receiver answered 500"

    # Nothing more until the schedule says so (the clock has not moved)...
    await _quiet(hook, 1)
    clock.advance(timedelta(minutes=1))  # ... then the second attempt, and ten minutes on
    await eventually(lambda: _n(hook, 2), what="the retry after a minute")
    await eventually(lambda: _delivered(api, endpoint, first["id"], attempts=2))
    clock.advance(timedelta(minutes=10))
    await eventually(lambda: _n(hook, 3), what="the last retry")
    spent = await eventually(lambda: _delivered(api, endpoint, first["id"], attempts=3))
    assert spent["status"] == "failed" and spent["next_attempt_at"] is None
    still = await api.ok("GET", f"/v1/webhooks/{endpoint}")
    assert still["enabled"] is True and still["failing_since"] is not None

    # Failing for an hour without a success: disabled, and nothing new queued for it.
    await _hire(api, "dee")
    await eventually(lambda: _n(hook, 4), what="dee's first attempt")
    await eventually(lambda: _failing(api, endpoint, 2), what="dee's first attempt logged")
    clock.advance(timedelta(hours=1))
    gone = await eventually(lambda: _disabled(api, endpoint), what="the endpoint disabled")
    assert gone["disabled_reason"].startswith("every delivery failed since")
    status = (await api.ok("GET", "/status"))["services"]["reporting"]["webhook-dispatcher"]
    assert status["alive"] is True and status["disabled_endpoints"] == 1, status
    assert status["failed_deliveries"] == 1 and status["failed_attempts"] >= 4, status
    assert (await api.c.get("/livez")).status_code == 200
    await _hire(api, "eve")
    await _quiet(hook, 5)
    assert len(await _deliveries(api, endpoint)) == 2  # eve was not queued

    # Fixed and re-enabled: dee's delivery goes on; cy's failed one is recovered.
    hook.status = 204
    back = await api.ok("PATCH", f"/v1/webhooks/{endpoint}", json={"enabled": True})
    assert back["enabled"] is True and back["failing_since"] is None
    since = first["created_at"]
    assert await api.ok("POST", f"/v1/webhooks/{endpoint}/recover", json={"since": since}) == {
        "requeued": 1
    }
    log = await eventually(
        lambda: _all_status(api, endpoint, "succeeded", 2), what="both delivered"
    )
    cy = next(d for d in log if d["id"] == first["id"])
    assert cy["total_attempts"] == 4 and cy["attempts"] == 1
    delivered = {r.event["data"]["employee_id"] for r in hook.received if r.verified_with}
    assert delivered == {"cy", "dee"}

    # A delivery still being attempted is not replayed twice over.
    hook.status = 500
    await _hire(api, "fay")
    fay = await eventually(lambda: _pending(api, endpoint), what="fay's delivery failing")
    r = await api.c.post(
        f"/v1/webhooks/{endpoint}/deliveries/{fay['id']}/replay", headers=api.admin
    )
    assert r.status_code == 409, r.text


async def test_a_rotated_secret_signs_beside_the_old_one_until_it_expires(
    api: Api, hook: Receiver, clock: ManualClock
) -> None:
    made = await _subscribe(api, hook, [HIRED])
    old = made["secret"]
    rotated = await api.ok(
        "POST",
        f"/v1/webhooks/{made['id']}/secret/rotate",
        json={"keep_previous_for": "PT1H"},
    )
    new = rotated["secret"]
    assert new != old and rotated["previous_secret_expires_at"] is not None
    hook.secrets.append(new)
    await _hire(api, "gus")
    await eventually(lambda: _n(hook, 1))
    assert hook.received[0].verified_with == [old, new]  # either secret verifies it

    clock.advance(timedelta(hours=1, minutes=1))
    assert (await api.ok("GET", f"/v1/webhooks/{made['id']}"))["previous_secret_expires_at"] is None
    await _hire(api, "hal")
    await eventually(lambda: _n(hook, 2))
    assert hook.received[1].verified_with == [new]  # the old one signs no more

    # Rotated with no overlap: only the newest signs at once.
    newest = (
        await api.ok(
            "POST", f"/v1/webhooks/{made['id']}/secret/rotate", json={"keep_previous_for": "PT0S"}
        )
    )["secret"]
    hook.secrets.append(newest)
    await _hire(api, "ivy")
    await eventually(lambda: _n(hook, 3))
    assert hook.received[2].verified_with == [newest]


@pytest.fixture
async def strict(tmp_path: Path, migrated: Path) -> AsyncIterator[Api]:
    """Binôme with the default webhook settings: only public https receivers."""
    shutil.copytree(migrated, tmp_path / "strict")
    settings = _settings(tmp_path / "strict")
    app = build_app(load_all(), settings, name="binome", clock=ManualClock())
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://binome") as c:
            yield Api(c, settings)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("http://93.184.216.34/hook", "must use https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://[::1]:8443/hook", "loopback"),
        ("https://localhost/hook", "resolves to a loopback address"),
        ("https://10.1.2.3/hook", "private"),
        ("https://192.168.0.10/hook", "private"),
        ("https://169.254.169.254/latest/meta-data", "link-local"),
        ("https://[::ffff:10.0.0.1]/hook", "private"),
        ("https://0.0.0.0/hook", "unspecified"),
        ("https://bob:secret@93.184.216.34/hook", "credentials"),
        ("ftp://93.184.216.34/hook", "must use https"),
        ("https:///hook", "no host"),
        ("https://93.184.216.34:99999/hook", "not a URL"),
    ],
)
async def test_receivers_on_internal_addresses_are_refused(
    strict: Api, url: str, says: str
) -> None:
    r = await strict.c.post(
        "/v1/webhooks", json={"url": url, "event_types": ["*"]}, headers=strict.admin
    )
    assert r.status_code == 422, r.text
    problem = r.json()
    assert says in problem["detail"], problem
    assert problem["errors"][0]["loc"] == ["body", "url"], problem


async def test_bad_subscriptions_and_strangers_get_clear_answers(api: Api, hook: Receiver) -> None:
    async def post(body: Any, headers: dict[str, str] | None = None) -> httpx.Response:
        return await api.c.post("/v1/webhooks", json=body, headers=headers or api.admin)

    r = await post({"url": hook.url, "event_types": ["binome.nothing.v1"]})
    assert r.status_code == 422 and "unknown event type" in r.text, r.text
    assert r.json()["errors"][0]["loc"] == ["body", "event_types", "0"]
    r = await post({"url": hook.url, "event_types": ["*", HIRED]})
    assert r.status_code == 422, r.text
    r = await post({"url": hook.url, "event_types": []})
    assert r.status_code == 422, r.text
    r = await post({"url": hook.url, "event_types": ["*"], "secret": "mine"})
    assert r.status_code == 422 and "secret" in r.text, r.text
    r = await post({"url": hook.url, "event_types": ["*"]}, api.as_employee("ada"))
    assert r.status_code == 403, r.text

    made = await _subscribe(api, hook, ["*"])
    other = auth(api.settings, org="globex", role="admin")
    for method, path in [
        ("GET", f"/v1/webhooks/{made['id']}"),
        ("GET", f"/v1/webhooks/{made['id']}/deliveries"),
        ("DELETE", f"/v1/webhooks/{made['id']}"),
    ]:
        r = await api.c.request(method, path, headers=other)
        assert r.status_code == 404, (method, path, r.text)
    r = await api.c.patch(f"/v1/webhooks/{made['id']}", json={"url": None}, headers=api.admin)
    assert r.status_code == 422 and "url" in r.text, r.text
    r = await api.c.post(
        f"/v1/webhooks/{made['id']}/secret/rotate",
        json={"keep_previous_for": "P30D"},
        headers=api.admin,
    )
    assert r.status_code == 422, r.text
    r = await api.c.get(f"/v1/webhooks/{made['id']}/deliveries/nope", headers=api.admin)
    assert r.status_code == 404, r.text

    r = await api.c.delete(f"/v1/webhooks/{made['id']}", headers=api.admin)
    assert r.status_code == 204, r.text
    assert await api.items("/v1/webhooks") == []


# --- helpers -----------------------------------------------------------------------------


async def _n(hook: Receiver, n: int) -> bool:
    return len(hook.received) >= n


async def _quiet(hook: Receiver, n: int) -> None:
    """Give the dispatcher time to (wrongly) send more, then check it did not."""
    import asyncio

    await asyncio.sleep(0.5)
    assert len(hook.received) == n, [r.event["data"] for r in hook.received[n:]]


async def _all_status(api: Api, endpoint: str, status: str, n: int) -> list[dict[str, Any]]:
    log = await _deliveries(api, endpoint)
    return log if len(log) == n and all(d["status"] == status for d in log) else []


async def _delivered(api: Api, endpoint: str, delivery: str, *, attempts: int) -> Any:
    one = await api.ok("GET", f"/v1/webhooks/{endpoint}/deliveries/{delivery}")
    return one if one["total_attempts"] == attempts else None


async def _failing(api: Api, endpoint: str, n: int) -> bool:
    """n deliveries logged, each attempted at least once."""
    log = await _deliveries(api, endpoint)
    return len(log) == n and all(d["total_attempts"] >= 1 for d in log)


async def _disabled(api: Api, endpoint: str) -> Any:
    got = await api.ok("GET", f"/v1/webhooks/{endpoint}")
    return got if not got["enabled"] else None


async def _pending(api: Api, endpoint: str) -> Any:
    for d in await _deliveries(api, endpoint, status="pending"):
        if d["total_attempts"] >= 1:
            return d
    return None


async def test_an_endpoint_is_changed_or_deleted_only_on_the_version_read(
    api: Api, hook: Receiver
) -> None:
    made = await _subscribe(api, hook, ["*"])
    path = f"/v1/webhooks/{made['id']}"
    read = (await api.c.get(path, headers=api.admin)).headers["etag"]
    paused = await api.c.patch(
        path, json={"enabled": False}, headers={**api.admin, "If-Match": read}
    )
    assert paused.status_code == 200 and paused.json()["enabled"] is False
    # Another admin, on the version read before the pause: neither re-describes nor deletes it.
    stale = {**api.admin, "If-Match": read}
    r = await api.c.patch(path, json={"description": "mine"}, headers=stale)
    assert r.status_code == 412 and paused.headers["etag"] in r.json()["detail"], r.text
    r = await api.c.delete(path, headers=stale)
    assert r.status_code == 412, r.text
    kept = await api.ok("GET", path)
    assert kept["enabled"] is False and kept["description"] != "mine"
    # On the current version, the delete is made.
    r = await api.c.delete(path, headers={**api.admin, "If-Match": paused.headers["etag"]})
    assert r.status_code == 204
    assert (await api.c.get(path, headers=api.admin)).status_code == 404
