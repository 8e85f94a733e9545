"""Domain rules of enrollment, sessions, feedback and reporting (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.enrollment import domain as enrollment
from services.enrollment.domain import EmployeeStatus, ParticipantStatus
from services.feedback import domain as feedback
from services.reporting import domain as reporting
from services.sessions import domain as sessions
from services.sessions.domain import SessionStatus
from shared.contracts.enrollment import ParticipantRole
from shared.errors import Conflict, Forbidden, Invalid


def _profile(**kw):  # type: ignore[no-untyped-def]
    args = dict(
        role=ParticipantRole.mentor,
        employee_status=EmployeeStatus.active,
        employee_languages=["fr"],
        employee_level=5,
        employee_department="it",
        languages=None,
        level=None,
        department=None,
        capacity=None,
    )
    return enrollment.resolve_profile(**(args | kw))


def test_profile_defaults_from_directory() -> None:
    p = _profile()
    assert (p.languages, p.level, p.department, p.capacity) == (["fr"], 5, "it", 1)
    assert _profile(languages=["en"], capacity=3).capacity == 3
    assert _profile(role=ParticipantRole.mentee).capacity == 1


def test_profile_rules() -> None:
    with pytest.raises(Invalid) as err:
        _profile(employee_status=EmployeeStatus.terminated)
    assert err.value.field == "employee_id"
    with pytest.raises(Invalid) as err:
        _profile(role=ParticipantRole.mentee, capacity=3)
    assert err.value.field == "capacity"
    with pytest.raises(Invalid):
        _profile(employee_languages=[])


def test_withdraw_and_rehire_rules() -> None:
    with pytest.raises(Conflict):
        enrollment.ensure_can_withdraw(ParticipantStatus.withdrawn)
    with pytest.raises(Conflict):
        enrollment.ensure_can_update_employee(EmployeeStatus.terminated, event_type="updated")
    enrollment.ensure_can_update_employee(EmployeeStatus.terminated, event_type="hired")


def test_sessions_rules() -> None:
    with pytest.raises(Conflict):
        sessions.ensure_can_schedule(match_active=False)
    with pytest.raises(Conflict):
        sessions.ensure_scheduled(SessionStatus.completed, "cancel")
    now = datetime.now(UTC)
    planned = [
        ("past", SessionStatus.scheduled, now - timedelta(days=1)),
        ("future", SessionStatus.scheduled, now + timedelta(days=1)),
        ("done", SessionStatus.completed, now + timedelta(days=2)),
    ]
    assert sessions.cancelled_by_match_end(planned, ended_at=now) == ["future"]


def test_feedback_rules() -> None:
    with pytest.raises(Forbidden):
        feedback.ensure_can_rate(session_status="completed", author="x", mentor="a", mentee="b")
    with pytest.raises(Conflict):
        feedback.ensure_can_rate(session_status="scheduled", author="b", mentor="a", mentee="b")
    assert not feedback.assess([1], window=2, threshold=2.5).at_risk
    risk = feedback.assess([5, 1, 2], window=2, threshold=2.5)
    assert risk.at_risk and risk.average == 1.5 and risk.window == [1, 2]
    assert not feedback.assess([1, 2, 5], window=2, threshold=2.5).at_risk
    assert not feedback.assess([2, 3], window=2, threshold=2.5).at_risk  # 2.5 is not below


def test_reporting_arithmetic() -> None:
    assert reporting.count_by(["a", "a", None], keys=("a", "b")) == {"a": 2, "b": 0}
    assert reporting.average([1, 2]) == 1.5
    assert reporting.average([]) is None
