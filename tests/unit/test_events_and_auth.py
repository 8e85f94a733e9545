from __future__ import annotations

from datetime import UTC, datetime, timedelta

import jwt
import orjson
import pytest

from shared.auth import Role, decode_token, mint_token
from shared.contracts.enrollment import EngagementPolicy, ProgramUpdated
from shared.contracts.feedback import HealthReason, HealthState, RelationshipHealthChanged
from shared.contracts.matching import MatchEnded
from shared.events import (
    Event,
    UndecodableEvent,
    UnknownEventType,
    contract_for,
    from_wire,
    to_structured,
    to_wire,
    topic_for,
    wire_of,
)
from shared.settings import Settings
from shared.tokens import VerifiedTokens, verify_token


def _ended() -> MatchEnded:
    return MatchEnded(
        match_id="m1",
        program_id="p",
        mentor_participant_id="t",
        mentee_participant_id="e",
        mentor_employee_id="T",
        mentee_employee_id="E",
        reason="low_satisfaction",
    )


def test_cloudevents_binary_mode_round_trip() -> None:
    event = Event.of(_ended(), org="acme", traceparent="00-" + "a" * 32 + "-" + "b" * 16 + "-01")
    headers, value = to_wire(event)
    h = dict(headers)
    assert h["ce_specversion"] == b"1.0"
    assert h["ce_type"] == b"binome.matching.match.ended.v1"
    assert h["ce_subject"] == b"m1"  # the aggregate id, also the Kafka key
    assert h["content-type"] == b"application/json"
    back = from_wire(headers, value)
    assert back == event
    assert back.parse() == _ended()
    assert topic_for(event.type) == "binome.matching.events"
    assert topic_for(event.type, "staging.") == "staging.binome.matching.events"


def test_the_outbox_wire_form_is_the_envelopes() -> None:
    """`wire_of` (what `uow.emit` stores) decodes to the event `Event.of` builds: same headers,
    same data, floats, times, durations and enums included."""
    data = RelationshipHealthChanged(
        match_id="m1", program_id="p1", state=HealthState.at_risk, previous=None, score=35,
        reasons=[HealthReason(signal="no_show", share=0.3333, detail="1 no-show(s) é")],
    )  # fmt: skip
    at = datetime(2026, 3, 1, 9, 30, tzinfo=UTC)
    trace = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "tracestate": "k=v"}
    event_id, headers, value = wire_of(data, org="acme", time=at, **trace)
    back = from_wire([(k, v.encode()) for k, v in headers], value.encode())
    assert back == Event.of(data, org="acme", time=at, **trace).model_copy(update={"id": event_id})
    assert back.parse() == data
    policy = ProgramUpdated(
        program_id="p1", name="n", engagement=EngagementPolicy(cadence=timedelta(days=7)),
        changed=["engagement"],
    )  # fmt: skip
    _, _, value = wire_of(policy, org="acme", time=at)
    assert orjson.loads(value) == Event.of(policy, org="acme", time=at).data


def test_the_structured_form_carries_the_binary_forms_attributes() -> None:
    """What a webhook sends (CloudEvents structured mode) holds the same attributes as the
    Kafka headers (binary mode), without their `ce_` prefix, and the data."""
    trace = {"traceparent": "00-" + "a" * 32 + "-" + "b" * 16 + "-01", "tracestate": "k=v"}
    event = Event.of(_ended(), org="acme", **trace)
    headers, value = to_wire(event)
    doc = orjson.loads(to_structured(event))
    binary = {k.removeprefix("ce_"): v.decode() for k, v in headers if k.startswith("ce_")}
    assert {k: v for k, v in doc.items() if k not in ("data", "datacontenttype")} == binary
    assert doc["data"] == orjson.loads(value) and doc["datacontenttype"] == "application/json"
    assert doc["traceparent"] == trace["traceparent"] and doc["specversion"] == "1.0"


def test_poison_is_recognised() -> None:
    with pytest.raises(UndecodableEvent):
        from_wire([("content-type", b"text/plain")], b"junk")
    headers, value = to_wire(Event.of(_ended(), org="acme"))
    with pytest.raises(UndecodableEvent):
        from_wire(headers, b"{not json")
    for not_an_object in (b"[1, 2]", b'"text"', b"3"):  # JSON, but no event's data
        with pytest.raises(UndecodableEvent, match="not an object"):
            from_wire(headers, not_an_object)
    no_time = [(k, v) for k, v in headers if k != "ce_time"]
    with pytest.raises(UndecodableEvent, match="KeyError"):
        from_wire(no_time, value)
    v9 = [(k, b"binome.matching.match.ended.v9" if k == "ce_type" else v) for k, v in headers]
    with pytest.raises(UnknownEventType):
        from_wire(v9, value).parse()
    assert contract_for("binome.matching.match.ended.v1") is MatchEnded


def test_tokens() -> None:
    s = Settings()
    token = mint_token(s, org="acme", role=Role.employee, employee_id="u1")
    p = decode_token(s, token)
    assert (p.org, p.role, p.employee_id) == ("acme", Role.employee, "u1")
    other = Settings(jwt_secret="another-secret-that-is-long-enough-1234")
    with pytest.raises(jwt.InvalidTokenError):
        decode_token(other, token)
    expired = mint_token(s, org="acme", role=Role.admin, ttl_s=-10)
    with pytest.raises(jwt.ExpiredSignatureError):
        decode_token(s, expired)


def test_a_verified_token_is_remembered_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings()
    admin, _ = verify_token(settings, mint_token(settings, org="acme", role=Role.admin))
    now = [1_000_000.0]
    monkeypatch.setattr("shared.tokens.time.time", lambda: now[0])
    verified = VerifiedTokens(size=2, ttl_s=60)
    verified.put("a", admin, expires=now[0] + 30)
    verified.put("b", admin, expires=now[0] + 3600)
    assert verified.get("a") == admin and verified.get("b") == admin
    now[0] += 31  # a's token expired: verified again (and refused) by the caller
    assert verified.get("a") is None and verified.get("b") == admin
    now[0] += 30  # b's is still valid, but kept no longer than ttl_s (a withdrawn key)
    assert verified.get("b") is None
    for token in ("c", "d", "e"):  # the most recently used, `size` of them
        verified.put(token, admin, expires=now[0] + 3600)
    assert verified.get("c") is None and verified.get("e") == admin


def test_settings_reject_unknown_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BINOME_KAFKA_BOOTSTRAPS", "typo:9092")
    with pytest.raises(ValueError, match="BINOME_KAFKA_BOOTSTRAPS"):
        Settings()
    monkeypatch.delenv("BINOME_KAFKA_BOOTSTRAPS")
    monkeypatch.setenv("BINOME_DATABASE_URL", "postgresql+asyncpg://h/binome_{service}")
    assert Settings().database_url_for("matching") == "postgresql+asyncpg://h/binome_matching"
