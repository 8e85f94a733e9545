"""The webhook rules (services/reporting/webhooks/domain.py): signatures checked by the
Standard Webhooks reference implementation, addresses Binôme may call, the retry schedule,
secret rotation, when an endpoint is disabled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from services.reporting.webhooks import domain
from shared.errors import Invalid

NOW = datetime(2026, 12, 2, 9, 30, tzinfo=UTC)
A = domain.secret_text(b"a" * 32)
B = domain.secret_text(b"b" * 32)


def _headers(secrets: list[str], body: bytes, at: datetime) -> dict[str, str]:
    stamp = int(at.timestamp())
    return {
        "webhook-id": "msg_1",
        "webhook-timestamp": str(stamp),
        "webhook-signature": domain.signature_header(
            secrets, msg_id="msg_1", timestamp=stamp, body=body
        ),
    }


def test_signatures_are_the_reference_implementations() -> None:
    body = '{"type": "binome.matching.match.proposed.v1", "é": 1}'.encode()
    now = datetime.now(UTC)
    stamp = int(now.timestamp())
    assert domain.sign(A, msg_id="msg_1", timestamp=stamp, body=body) == Webhook(A).sign(
        "msg_1", now, body.decode()
    )
    headers = _headers([A, B], body, now)
    for secret in (A, B):  # during a rotation, either secret verifies the delivery
        Webhook(secret).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(domain.secret_text(b"c" * 32)).verify(body, headers)
    with pytest.raises(WebhookVerificationError):  # a byte changed
        Webhook(A).verify(body.replace(b"1", b"2"), headers)


@pytest.mark.parametrize(
    ("address", "why"),
    [
        ("127.0.0.1", "a loopback address"),
        ("::1", "a loopback address"),
        ("10.0.0.1", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),  # cloud metadata
        ("fe80::1", "a link-local address"),
        ("fd00::1", "a private address"),
        ("::ffff:127.0.0.1", "a loopback address"),  # IPv4-mapped
        ("0.0.0.0", "an unspecified address"),
        ("224.0.0.1", "a multicast address"),
        ("100.64.0.1", "a non-public address"),  # carrier-grade NAT
        ("93.184.216.34", None),
        ("2606:2800:220:1:248:1893:25c8:1946", None),
    ],
)
def test_only_public_addresses_may_be_called(address: str, why: str | None) -> None:
    assert domain.refused_address(address) == why


def test_urls_are_checked_before_anything_is_resolved() -> None:
    assert domain.checked_url("https://hooks.example.com/x", allow_private=False) == (
        "hooks.example.com",
        443,
    )
    assert domain.checked_url("http://127.0.0.1:8080/x", allow_private=True) == ("127.0.0.1", 8080)
    for url, says in [
        ("http://hooks.example.com/x", "https"),
        ("https://127.0.0.1/x", "loopback"),
        ("https://u:p@hooks.example.com/x", "credentials"),
        ("https://hooks.example.com/x#frag", "fragment"),
        ("https://hooks.example.com:0x/x", "not a URL"),
    ]:
        with pytest.raises(Invalid, match=says) as caught:
            domain.checked_url(url, allow_private=False)
        assert caught.value.field == "url"


def test_the_retry_schedule_then_failure() -> None:
    schedule = [timedelta(seconds=5), timedelta(minutes=5)]
    assert domain.next_attempt(1, schedule, NOW) == NOW + timedelta(seconds=5)
    assert domain.next_attempt(2, schedule, NOW) == NOW + timedelta(minutes=5)
    assert domain.next_attempt(3, schedule, NOW) is None  # spent: the delivery failed
    assert domain.succeeded(204) and not domain.succeeded(302) and not domain.succeeded(None)


def test_an_endpoint_is_disabled_after_sustained_failure_or_when_gone() -> None:
    day = timedelta(days=1)
    assert domain.disabling(status_code=500, failing_since=NOW, now=NOW, disable_after=day) is None
    why = domain.disabling(status_code=500, failing_since=NOW - day, now=NOW, disable_after=day)
    assert why is not None and why.startswith("every delivery failed since")
    assert domain.disabling(status_code=410, failing_since=NOW, now=NOW, disable_after=day)


def test_a_rotation_keeps_the_old_secret_signing_for_a_while() -> None:
    secrets = [{"secret": A, "expires_at": None}]
    rotated = domain.rotated(secrets, B, now=NOW, keep_previous=timedelta(hours=1))
    assert domain.live_secrets(rotated, NOW) == [B, A]
    assert domain.live_secrets(rotated, NOW + timedelta(hours=1)) == [B]
    # Rotating again keeps the old one's own expiry, and drops the expired.
    c = domain.secret_text(b"c" * 32)
    again = domain.rotated(
        rotated, c, now=NOW + timedelta(minutes=30), keep_previous=timedelta(days=1)
    )
    assert domain.live_secrets(again, NOW + timedelta(minutes=45)) == [c, B, A]
    assert domain.live_secrets(again, NOW + timedelta(hours=2)) == [c, B]
    assert domain.rotated(secrets, B, now=NOW, keep_previous=timedelta(0)) == [
        {"secret": B, "expires_at": None}
    ]


def test_subscriptions() -> None:
    assert domain.subscribed(["*"], "binome.x.v1")
    assert domain.subscribed(["binome.x.v1"], "binome.x.v1")
    assert not domain.subscribed(["binome.y.v1"], "binome.x.v1")
