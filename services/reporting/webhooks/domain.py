"""Webhook rules, pure: what an endpoint is sent, how a delivery is signed (Standard
Webhooks), when it is tried again, when an endpoint is disabled, which addresses may be
called."""

from __future__ import annotations

import base64
import hashlib
import hmac
import ipaddress
from datetime import datetime, timedelta
from enum import StrEnum
from urllib.parse import urlsplit

from shared.errors import Invalid

SECRET_PREFIX = "whsec_"  # the Standard Webhooks secret form: the key's bytes in base64
ALL = "*"  # subscribed to every event type


class DeliveryStatus(StrEnum):
    pending = "pending"  # to be sent (now, or at its next attempt)
    succeeded = "succeeded"  # the receiver answered 2xx
    failed = "failed"  # every attempt of the retry schedule failed (replayable)


def secret_text(key: bytes) -> str:
    return SECRET_PREFIX + base64.b64encode(key).decode()


def sign(secret: str, *, msg_id: str, timestamp: int, body: bytes) -> str:
    """`v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` keyed by the secret's bytes."""
    key = base64.b64decode(secret.removeprefix(SECRET_PREFIX))
    mac = hmac.new(key, f"{msg_id}.{timestamp}.".encode() + body, hashlib.sha256).digest()
    return "v1," + base64.b64encode(mac).decode()


def signature_header(secrets: list[str], *, msg_id: str, timestamp: int, body: bytes) -> str:
    """One signature per live secret, space-separated: during a rotation the receiver
    accepts the delivery with either its old or its new secret."""
    return " ".join(sign(s, msg_id=msg_id, timestamp=timestamp, body=body) for s in secrets)


def live_secrets(secrets: list[dict], now: datetime) -> list[str]:
    """The secrets that sign now: the current one, and previous ones until they expire."""
    return [
        s["secret"]
        for s in secrets
        if s.get("expires_at") is None or datetime.fromisoformat(s["expires_at"]) > now
    ]


def rotated(
    secrets: list[dict], new: str, *, now: datetime, keep_previous: timedelta
) -> list[dict]:
    """The endpoint's secrets after a rotation: the new one first; those still live sign
    beside it for `keep_previous` more at most (zero: dropped at once); expired ones go."""
    fresh = {"secret": new, "expires_at": None}
    if keep_previous <= timedelta(0):
        return [fresh]
    until = now + keep_previous
    kept = []
    for s in secrets:
        expires = None if s.get("expires_at") is None else datetime.fromisoformat(s["expires_at"])
        if expires is not None and expires <= now:
            continue
        end = until if expires is None else min(expires, until)
        kept.append({"secret": s["secret"], "expires_at": end.isoformat()})
    return [fresh, *kept]


def subscribed(event_types: list[str], type_: str) -> bool:
    return ALL in event_types or type_ in event_types


def next_attempt(attempts: int, schedule: list[timedelta], now: datetime) -> datetime | None:
    """After `attempts` failed attempts, when to try again; None: the schedule is spent."""
    if attempts > len(schedule):
        return None
    return now + schedule[attempts - 1]


def succeeded(status_code: int | None) -> bool:
    return status_code is not None and 200 <= status_code < 300


def disabling(
    *, status_code: int | None, failing_since: datetime, now: datetime, disable_after: timedelta
) -> str | None:
    """Why a failing endpoint is disabled now, or None: it said it is gone (410), or it has
    failed without a success for `disable_after`."""
    if status_code == 410:
        return "the receiver answered 410 Gone"
    if now - failing_since >= disable_after:
        return f"every delivery failed since {failing_since.isoformat(timespec='seconds')}"
    return None


# --- where a webhook may go (SSRF) ------------------------------------------------------------


def refused_address(address: str) -> str | None:
    """Why Binôme may not call this IP address, or None: a public unicast address."""
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    for why, flag in (
        ("a loopback address", ip.is_loopback),
        ("an unspecified address", ip.is_unspecified),
        ("a link-local address", ip.is_link_local),
        ("a multicast address", ip.is_multicast),
        ("a private address", ip.is_private),
        ("a reserved address", ip.is_reserved),
    ):
        if flag:
            return why
    if not ip.is_global:
        return "a non-public address"
    return None


def checked_url(url: str, *, allow_private: bool) -> tuple[str, int]:
    """The URL's host and port, or Invalid naming what is wrong with it: https (http only
    where private receivers are allowed), a host, no credentials, no fragment; a literal IP
    address must be public unless private receivers are allowed (names are resolved and
    checked the same way, at subscription and at each delivery)."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Invalid(f"not a URL: {exc}", field="url") from None
    schemes = ("https", "http") if allow_private else ("https",)
    if parts.scheme not in schemes:
        raise Invalid("a webhook URL must use https", field="url")
    if not parts.hostname:
        raise Invalid("the URL names no host", field="url")
    if parts.username is not None or parts.password is not None:
        raise Invalid("credentials do not belong in a webhook URL", field="url")
    if parts.fragment:
        raise Invalid("a webhook URL has no #fragment", field="url")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        why = refused_address(host)
        if why and not allow_private:
            raise Invalid(f"the URL points to {why} ({host})", field="url")
    return host, port or (443 if parts.scheme == "https" else 80)
