"""Domain rules of enrollment, sessions, feedback and reporting (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.enrollment import domain as enrollment
from services.enrollment.domain import EmployeeStatus, ParticipantStatus
from services.feedback import domain as feedback
from services.reporting import domain as reporting
from services.sessions import domain as sessions
from shared.contracts.enrollment import ParticipantRole, ProgramStatus, WithdrawalReason
from shared.contracts.sessions import CancelReason, SessionStatus
from shared.errors import Conflict, Forbidden, Invalid


def _profile(**kw):  # type: ignore[no-untyped-def]
    args = dict(
        role=ParticipantRole.mentor,
        employee_status=EmployeeStatus.active,
        directory=enrollment.DirectoryFacts(
            manager_id=None, languages=["fr"], level=5, department="it"
        ),
        languages=None,
        level=None,
        department=None,
        capacity=None,
    )
    return enrollment.resolve_profile(**(args | kw))


def test_profile_defaults_from_directory() -> None:
    p = _profile()
    assert (p.languages, p.level, p.department, p.capacity) == (["fr"], 5, "it", 1)
    assert _profile(languages=["fr", "en"], capacity=3).capacity == 3
    assert _profile(role=ParticipantRole.mentee).capacity == 1


def test_the_directory_wins_unless_an_admin_overrides() -> None:
    for claim in ({"level": 9}, {"department": "sales"}, {"languages": ["en"]}):
        with pytest.raises(Invalid) as err:
            _profile(**claim)
        assert err.value.field == next(iter(claim))
        assert _profile(**claim, override=True)
    assert _profile(level=5, department="it").level == 5  # the same as the directory's
    lacking = enrollment.DirectoryFacts(
        manager_id=None, languages=["fr"], level=None, department=None
    )
    added = _profile(directory=lacking, level=3, department="data", languages=["fr", "de"])
    assert (added.level, added.department, added.languages) == (3, "data", ["fr", "de"])


def test_eligibility_reads_the_directory() -> None:
    from datetime import date

    rule = enrollment.RoleEligibility(
        departments=["Data"], min_level=3, max_level=6, min_tenure=timedelta(days=90),
        languages=["EN", "fr"],
    )  # fmt: skip
    today = date(2027, 1, 1)
    ok = enrollment.EmployeeFacts(
        department="data", level=4, hired_on=date(2026, 1, 1), languages=["fr"]
    )
    assert enrollment.ineligibility(rule, ok, today=today) == []
    assert enrollment.ineligibility(enrollment.RoleEligibility(), ok, today=today) == []
    nothing = enrollment.EmployeeFacts(department=None, level=None, hired_on=None, languages=[])
    assert len(enrollment.ineligibility(rule, nothing, today=today)) == 4
    fresh = enrollment.EmployeeFacts(
        department="Data", level=7, hired_on=date(2026, 12, 1), languages=["de"]
    )
    why = enrollment.ineligibility(rule, fresh, today=today)
    assert [w.split()[0] for w in why] == ["level", "hired", "speaks"]


def test_programme_lifecycle_steps() -> None:
    p = enrollment.ProgramState(id="p", status="draft")  # type: ignore[arg-type]
    opened = enrollment.move_program(p, ProgramStatus.enrolling)
    assert opened.state.status is ProgramStatus.enrolling
    (event,) = opened.events
    assert (event.status, event.previous) == (ProgramStatus.enrolling, ProgramStatus.draft)
    with pytest.raises(Conflict, match="can become: closed, running"):
        enrollment.move_program(opened.state, ProgramStatus.draft)
    closed = enrollment.move_program(p, ProgramStatus.closed).state
    with pytest.raises(Conflict, match="closed for good"):
        enrollment.move_program(closed, ProgramStatus.enrolling)
    with pytest.raises(Conflict):
        enrollment.check_enrolment_open(ProgramStatus.draft, opens=None, closes=None, today=None)  # type: ignore[arg-type]


def test_profile_rules() -> None:
    with pytest.raises(Invalid) as err:
        _profile(employee_status=EmployeeStatus.terminated)
    assert err.value.field == "employee_id"
    with pytest.raises(Invalid) as err:
        _profile(role=ParticipantRole.mentee, capacity=3)
    assert err.value.field == "capacity"
    with pytest.raises(Invalid):
        _profile(
            directory=enrollment.DirectoryFacts(
                manager_id=None, languages=[], level=5, department="it"
            )
        )


def test_withdraw_and_rehire_rules() -> None:
    p = enrollment.ParticipantState(
        id="p",
        program_id="g",
        employee_id="e",
        role="mentor",
        status="active",  # type: ignore[arg-type]
        withdrawn_reason=None,
        withdrawn_note=None,
        rejected_reason=None,
        decision_note=None,
    )
    gone = enrollment.withdraw(p, reason=WithdrawalReason.no_time, note="too busy")
    assert (gone.state.status, gone.state.withdrawn_reason, gone.state.withdrawn_note) == (
        ParticipantStatus.withdrawn,
        WithdrawalReason.no_time,
        "too busy",
    )
    (event,) = gone.events
    assert (event.TYPE, event.role) == (
        "binome.enrollment.participant.withdrawn.v1",
        ParticipantRole.mentor,
    )
    with pytest.raises(Conflict):
        enrollment.withdraw(gone.state, reason=WithdrawalReason.other)
    now = datetime.now(UTC)
    gone_employee = enrollment.EmployeeState(
        id="e", status=EmployeeStatus.terminated, updated_at=now
    )
    with pytest.raises(Conflict):
        enrollment.take_record(gone_employee, employee_id="e", event_type="updated", at=now)
    back = enrollment.take_record(gone_employee, employee_id="e", event_type="hired", at=now)
    assert back.status is EmployeeStatus.active and back.updated_at == now


def test_an_employees_record_follows_the_hris() -> None:
    now = datetime.now(UTC)
    hired = enrollment.take_record(None, employee_id="e", event_type="hired", at=now)
    assert hired == enrollment.EmployeeState(id="e", status=EmployeeStatus.active, updated_at=now)
    gone = enrollment.terminate(hired, at=now)
    assert gone.state.status is EmployeeStatus.terminated
    assert [e.TYPE for e in gone.events] == ["binome.enrollment.employee.terminated.v1"]
    assert enrollment.terminate(gone.state, at=now).events == ()  # a second one: no effect
    assert enrollment.snapshot_event("updated").TYPE == "binome.enrollment.employee.updated.v1"


def test_manager_chain_walks_up_and_stops() -> None:
    managers = {"lead": "head", "head": "ceo", "ceo": None}
    assert enrollment.manager_chain("lead", managers) == ["lead", "head", "ceo"]
    assert enrollment.manager_chain(None, managers) == []
    # Unknown to the directory: named, then the walk stops.
    assert enrollment.manager_chain("ghost", managers) == ["ghost"]
    # A loop in the org chart ends the walk; so does depth.
    assert enrollment.manager_chain("a", {"a": "b", "b": "a"}) == ["a", "b"]
    deep = {f"m{i}": f"m{i + 1}" for i in range(50)}
    assert len(enrollment.manager_chain("m0", deep)) == enrollment.MAX_CHAIN


def test_a_profile_follows_the_directory_where_it_came_from_it() -> None:
    was = enrollment.DirectoryFacts(manager_id=None, languages=["fr"], level=3, department="it")
    now = enrollment.DirectoryFacts(manager_id=None, languages=["en"], level=4, department="hr")
    from_directory = enrollment.DirectoryProfile(
        languages=["fr"], level=3, department="it", tz_offset_h=0
    )
    own = enrollment.DirectoryProfile(languages=["de"], level=9, department="it", tz_offset_h=0)
    assert enrollment.followed(from_directory, was=was, now=now, tz_offset_h=2) == (
        enrollment.DirectoryProfile(languages=["en"], level=4, department="hr", tz_offset_h=2)
    )
    assert enrollment.followed(own, was=was, now=now, tz_offset_h=None) == (
        enrollment.DirectoryProfile(languages=["de"], level=9, department="hr", tz_offset_h=None)
    )


def _session(sid: str, status: SessionStatus, at: datetime, mentor: str = "a"):  # type: ignore[no-untyped-def]
    return sessions.SessionState(
        id=sid,
        match_id="m",
        program_id="p",
        mentor_employee_id=mentor,
        mentee_employee_id="b",
        scheduled_at=at,
        status=status,
        notes=None,
        cancel_reason=None,
        cancel_note=None,
        completed_at=None,
        duration_minutes=60,
        absent=None,
    )


def test_sessions_rules() -> None:
    with pytest.raises(Conflict):
        sessions.ensure_can_schedule(match_active=False)
    now = datetime.now(UTC)
    with pytest.raises(Conflict):
        sessions.cancel(_session("s", SessionStatus.completed, now), reason=CancelReason.other)
    held = sessions.complete(_session("s", SessionStatus.scheduled, now), notes="ok", at=now)
    assert (held.state.status, held.state.notes, held.state.completed_at) == (
        SessionStatus.completed,
        "ok",
        now,
    )
    assert [e.TYPE for e in held.events] == ["binome.sessions.session.completed.v1"]
    planned = [
        _session("past", SessionStatus.scheduled, now - timedelta(days=1)),
        _session("future", SessionStatus.scheduled, now + timedelta(days=1)),
        _session("done", SessionStatus.completed, now + timedelta(days=2)),
    ]
    ended = sessions.after_match_end(planned, ended_at=now)
    assert list(ended) == ["future"]
    assert ended["future"].state.cancel_reason is CancelReason.match_ended
    off = sessions.cancel(planned[1], reason=CancelReason.unavailable, note="sick")
    assert (off.state.cancel_reason, off.state.cancel_note) == (CancelReason.unavailable, "sick")
    (event,) = off.events
    assert (event.reason, event.note) == (CancelReason.unavailable, "sick")
    # SQLite hands back naive datetimes: the state reads them as UTC.
    naive = _session("n", "scheduled", now.replace(tzinfo=None))  # type: ignore[arg-type]
    assert naive.scheduled_at == now and naive.status is SessionStatus.scheduled


def test_an_open_session_is_unconfirmed_after_its_end_and_a_no_show_is_reported() -> None:
    now = datetime.now(UTC)
    planned = _session("s", SessionStatus.scheduled, now)
    due = sessions.confirmation_due(planned, unconfirmed_after=timedelta(hours=2))
    assert due == now + timedelta(hours=3)  # 60 minutes long, then 2 hours
    late = sessions.unconfirm(planned)
    assert late.state.status is SessionStatus.unconfirmed
    assert [e.TYPE for e in late.events] == ["binome.sessions.session.unconfirmed.v1"]
    held = sessions.complete(planned, notes=None, at=now)
    assert sessions.unconfirm(held.state).events == ()  # settled meanwhile: no change
    assert sessions.complete(late.state, notes=None, at=now).state.status is (
        SessionStatus.completed
    )
    with pytest.raises(Conflict):  # not started yet
        sessions.no_show(
            planned, absent="mentor", is_admin=True, reporter=None, at=now - timedelta(minutes=1)
        )
    with pytest.raises(Forbidden):  # only the party who came
        sessions.no_show(planned, absent="mentor", is_admin=False, reporter="a", at=now)
    gone = sessions.no_show(late.state, absent="mentor", is_admin=False, reporter="b", at=now)
    assert (gone.state.status, gone.state.absent) == (SessionStatus.no_show, "mentor")
    assert gone.events[0].absent == "mentor"


def test_group_sessions_settle_together() -> None:
    now = datetime.now(UTC)
    group = [
        _session("one", SessionStatus.scheduled, now),
        _session("two", SessionStatus.cancelled, now),
    ]
    done = sessions.settle_group(
        group, is_admin=False, caller="a", outcome=sessions.Held(notes="n"), at=now
    )
    assert list(done) == ["one"]
    with pytest.raises(Forbidden):
        sessions.settle_group(
            group, is_admin=False, caller="b", outcome=sessions.CalledOff(), at=now
        )
    with pytest.raises(Conflict):
        sessions.settle_group(
            group[1:], is_admin=True, caller=None, outcome=sessions.CalledOff(), at=now
        )
    assert sessions.group_mentor(is_admin=False, caller="a", requested=None) == "a"
    with pytest.raises(Invalid):
        sessions.group_mentor(is_admin=True, caller=None, requested=None)


def test_feedback_rules() -> None:
    def rate(**kw):  # type: ignore[no-untyped-def]
        args = dict(
            session_status=SessionStatus.completed,
            author="b",
            mentor="a",
            mentee="b",
            already_rated=False,
        )
        feedback.ensure_can_rate(**(args | kw))

    with pytest.raises(Forbidden):
        rate(author="x")
    with pytest.raises(Conflict):
        rate(session_status=SessionStatus.scheduled)
    with pytest.raises(Conflict):
        rate(already_rated=True)
    rate()
    assert not feedback.assess([1], window=2, threshold=2.5).at_risk
    risk = feedback.assess([5, 1, 2], window=2, threshold=2.5)
    assert risk.at_risk and risk.average == 1.5 and risk.window == [1, 2]
    assert not feedback.assess([1, 2, 5], window=2, threshold=2.5).at_risk
    assert not feedback.assess([2, 3], window=2, threshold=2.5).at_risk  # 2.5 is not below


def test_reporting_arithmetic() -> None:
    assert reporting.counted({"c": 1, "a": 2, None: 5}, keys=("b", "a")) == {"b": 0, "a": 2, "c": 1}
    assert list(reporting.counted({"c": 1, "a": 2}, keys=("b",))) == ["b", "a", "c"]
    assert reporting.average(3, 2) == 1.5
    assert reporting.average(0, 0) is None


def test_relationship_health_rules() -> None:
    from shared.contracts.enrollment import EngagementPolicy
    from shared.contracts.feedback import HealthState

    start = datetime(2026, 1, 1, tzinfo=UTC)
    policy = EngagementPolicy(cadence=timedelta(days=10))

    def at(days: float, **kw):  # type: ignore[no-untyped-def]
        args = dict(
            now=start + timedelta(days=days),
            activated_at=start,
            last_activity_at=start,
            policy=policy,
            ratings={"mentor": [], "mentee": []},
        )
        return feedback.HealthInputs(**(args | kw))  # type: ignore[arg-type]

    assert feedback.health(at(5)) == feedback.Health(HealthState.too_early, 100, ())
    nudge = feedback.health(at(11))
    assert (nudge.state, nudge.score, nudge.reasons[0].signal) == (
        HealthState.on_track,
        85,
        "inactivity",
    )
    assert feedback.health(at(21)).state is HealthState.needs_attention
    assert feedback.health(at(31)).state is HealthState.at_risk
    assert feedback.next_inactivity_check(at(5)) == start + timedelta(days=10)
    assert feedback.next_inactivity_check(at(15)) == start + timedelta(days=20)
    assert feedback.next_inactivity_check(at(35)) is None
    assert feedback.nudge_due_now(at(11), last_nudge_at=None)
    assert not feedback.nudge_due_now(at(11), last_nudge_at=start + timedelta(days=10))
    one_side = feedback.health(at(5, ratings={"mentor": [1, 2], "mentee": []}))
    assert one_side.state is HealthState.needs_attention
    both = feedback.health(at(5, ratings={"mentor": [1, 2], "mentee": [2, 1]}, no_shows=1))
    assert (both.state, both.score) == (HealthState.at_risk, 100 - 25 - 25 - 15)
    assert sum(r.share for r in both.reasons) == pytest.approx(1.0)
    # Each side is judged on its own threshold and its own last `min_ratings` ratings.
    strict_mentee = EngagementPolicy(cadence=timedelta(days=10), mentee_low_rating=4.0)
    judged = feedback.health(
        at(5, policy=strict_mentee, ratings={"mentor": [3, 3], "mentee": [3, 3]})
    )
    assert [r.signal for r in judged.reasons] == ["low_ratings_mentee"]
    three = EngagementPolicy(cadence=timedelta(days=10), min_ratings=3)
    assert feedback.health(at(5, policy=three, ratings={"mentor": [1, 1]})).reasons == []
    # Several signals at once make a relationship at risk (a score of AT_RISK_SCORE or less).
    many = feedback.health(
        at(5, ratings={"mentor": [1, 1], "mentee": []}, no_shows=2, unanswered=2, low_pulse=False)
    )
    assert (many.state, many.score) == (HealthState.at_risk, 100 - 25 - 30 - 10)


def test_corrective_case_rules() -> None:
    from shared.contracts.enrollment import AtRiskAction
    from shared.contracts.feedback import CaseAction, CaseCause, CaseOutcome, CaseStatus
    from shared.contracts.feedback import HealthState as H
    from shared.contracts.matching import EndReason

    def rec(signals: set[str], *, held: int = 2, training: bool = True, cause=CaseCause.at_risk):  # type: ignore[no-untyped-def]
        return feedback.recommend(cause=cause, signals=signals, held=held, has_training=training)

    assert rec(set(), cause=CaseCause.incompatible).action is CaseAction.repair
    assert rec({"low_ratings_mentor", "low_ratings_mentee"}).action is CaseAction.repair
    assert rec({"low_ratings_mentee"}).action is CaseAction.training
    assert rec({"low_ratings_mentee"}, training=False).action is CaseAction.mediation
    assert rec({"low_ratings_mentor", "no_show"}).action is CaseAction.mediation
    assert rec({"inactivity", "low_pulse"}).action is CaseAction.mediation
    assert rec({"inactivity"}, held=0).action is CaseAction.repair
    assert rec({"inactivity"}, held=3).action is CaseAction.conclude
    end = feedback.end_reason
    assert end(cause=CaseCause.at_risk, signals={"inactivity"}) is EndReason.disengaged
    assert end(cause=CaseCause.at_risk, signals={"low_pulse"}) is EndReason.low_satisfaction
    assert end(cause=CaseCause.incompatible, signals=set()) is EndReason.incompatible
    assert end(cause=CaseCause.at_risk, signals={"no_show"}) is EndReason.programme_decision

    case = feedback.CaseState(CaseStatus.open, None, False, None, None)
    catalogue = {"listening"}
    mediated = feedback.act(case, action=CaseAction.mediation, catalogue=catalogue)
    assert mediated.status is CaseStatus.monitoring
    assert feedback.health_moved(mediated, H.needs_attention) == mediated
    assert feedback.health_moved(mediated, H.at_risk).status is CaseStatus.open  # reopened
    recovered = feedback.health_moved(mediated, H.on_track)
    assert (recovered.status, recovered.outcome) == (CaseStatus.closed, CaseOutcome.recovered)
    with pytest.raises(Conflict):
        feedback.act(recovered, action=CaseAction.dismiss, catalogue=catalogue)
    with pytest.raises(Invalid):
        feedback.act(case, action=CaseAction.training, catalogue=catalogue, training_item_id="x")
    trained = feedback.act(
        case, action=CaseAction.training, catalogue=catalogue, training_item_id="listening"
    )
    done = feedback.complete_training(trained, at=datetime(2026, 1, 1, tzinfo=UTC))
    with pytest.raises(Conflict):
        feedback.complete_training(done, at=datetime(2026, 1, 2, tzinfo=UTC))
    with pytest.raises(Conflict):
        feedback.complete_training(case, at=datetime(2026, 1, 2, tzinfo=UTC))
    paused = feedback.act(case, action=CaseAction.pause, catalogue=catalogue)
    assert paused.paused and feedback.health_moved(paused, H.at_risk) == paused
    with pytest.raises(Conflict):
        feedback.act(paused, action=CaseAction.pause, catalogue=catalogue)
    with pytest.raises(Conflict):
        feedback.act(case, action=CaseAction.resume, catalogue=catalogue)
    for action, outcome in feedback.CLOSING.items():
        closed = feedback.act(case, action=action, catalogue=catalogue)
        assert (closed.status, closed.outcome) == (CaseStatus.closed, outcome)
    assert feedback.match_ended(case).outcome is CaseOutcome.ended
    assert feedback.policy_action(AtRiskAction.review) is None
    assert feedback.policy_action(AtRiskAction.rematch) is CaseAction.repair
    assert feedback.policy_action(AtRiskAction.conclude) is CaseAction.conclude


def test_survey_rules_and_their_signals() -> None:
    from shared.contracts.enrollment import EngagementPolicy
    from shared.contracts.feedback import HealthState

    assert feedback.survey_mean(1, 2, 1, 2) == 1.5
    feedback.ensure_can_answer(status="open", respondent="a", caller="a", expired=False)
    with pytest.raises(Forbidden):
        feedback.ensure_can_answer(status="open", respondent="a", caller="b", expired=False)
    for status, expired in (("answered", False), ("open", True)):
        with pytest.raises(Conflict):
            feedback.ensure_can_answer(status=status, respondent="a", caller="a", expired=expired)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    base = dict(
        now=start + timedelta(days=20),
        activated_at=start,
        last_activity_at=start + timedelta(days=19),
        policy=EngagementPolicy(),
        ratings={"mentor": [], "mentee": []},
    )
    pulse = feedback.health(feedback.HealthInputs(**base, low_pulse=True))  # type: ignore[arg-type]
    assert (pulse.state, pulse.score) == (HealthState.needs_attention, 80)
    once = feedback.health(feedback.HealthInputs(**base, unanswered=1))  # type: ignore[arg-type]
    assert (once.state, once.score) == (HealthState.on_track, 95)
    twice = feedback.health(feedback.HealthInputs(**base, unanswered=2))  # type: ignore[arg-type]
    assert (twice.state, twice.score) == (HealthState.needs_attention, 90)
