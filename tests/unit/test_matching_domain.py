from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from services.matching import domain
from services.matching.cohort import MentorPool
from shared.contracts import matching as ev
from shared.contracts.matching import MatchStatus
from shared.errors import Conflict, Forbidden, Invalid


def person(
    pid: str,
    *,
    emp: str | None = None,
    offered=(),
    sought=(),
    langs=("fr",),
    level=None,
    dept=None,
    capacity=1,
    volunteer=True,
) -> domain.Person:
    return domain.Person(
        pid,
        emp or f"e-{pid}",
        frozenset(offered),
        frozenset(sought),
        frozenset(langs),
        level,
        dept,
        capacity,
        volunteer,
    )


def _pair_score(mentee, mentor, rules=None):  # type: ignore[no-untyped-def]
    """The proposal's score for a lone mentee and mentor (None when the pair is forbidden)."""
    got = domain.propose_cohort(
        domain.CohortInputs(
            mentees=[mentee],
            mentors=[mentor],
            loads={},
            excluded=set(),
            rules=rules or domain.ProgramRules(),
        )
    )
    return got.pairs[0].score if got.pairs else None


def test_scores_reward_sought_skills_seniority_and_cross_department() -> None:
    mentee = person("me", sought=["python", "sql"], level=2, dept="marketing")
    strong = person("a", offered=["python", "sql"], level=8, dept="engineering")
    weak = person("b", offered=["sales"], level=1, dept="marketing", volunteer=False)
    relaxed = domain.ProgramRules(seniority_rule="preferred")
    assert _pair_score(mentee, strong, relaxed) > _pair_score(mentee, weak, relaxed)


def test_reverse_mentoring_wants_a_junior_mentor() -> None:
    manager = person("m", sought=["tiktok"], level=9)
    junior = person("j", offered=["tiktok"], level=2)
    senior = person("s", offered=["tiktok"], level=12)
    reverse = domain.ProgramRules(format="reverse", seniority_rule="preferred")
    assert _pair_score(manager, junior, reverse) > _pair_score(manager, senior, reverse)


@pytest.mark.parametrize("fmt", ["classic", "reverse"])
def test_the_format_seniority_rule_is_hard_unless_relaxed(fmt: str) -> None:
    """Classic: the mentor is more senior; reverse: less senior; unknown levels pass; an
    equal level fails both; `preferred` turns the rule into the seniority weight only."""
    mentee = person("me", sought=["python"], level=5)
    up, down = (7, 3) if fmt == "classic" else (3, 7)
    rules = domain.ProgramRules(format=fmt)
    assert _pair_score(mentee, person("ok", offered=["python"], level=up), rules) is not None
    assert _pair_score(mentee, person("no", offered=["python"], level=down), rules) is None
    assert _pair_score(mentee, person("eq", offered=["python"], level=5), rules) is None
    assert _pair_score(mentee, person("unknown", offered=["python"]), rules) is not None
    unknown_mentee = person("me2", sought=["python"])
    assert _pair_score(unknown_mentee, person("x", offered=["python"], level=down), rules)
    relaxed = domain.ProgramRules(format=fmt, seniority_rule="preferred")
    assert _pair_score(mentee, person("no", offered=["python"], level=down), relaxed) is not None


def test_hard_rules_same_person_language_and_reporting_line() -> None:
    assert _pair_score(person("a", emp="same"), person("b", emp="same")) is None
    assert _pair_score(person("x", langs=["fr"]), person("y", langs=["de"])) is None
    boss = person("boss", emp="boss-emp", offered=["python"])
    report = domain.Person(
        **{**person("r", sought=["python"]).__dict__, "manager_chain": ("boss-emp",)}
    )
    assert _pair_score(report, boss) is None
    far = domain.Person(**{**person("f", sought=["python"]).__dict__, "tz_offset_h": 9})
    assert _pair_score(far, boss, domain.ProgramRules(max_timezone_gap_h=4)) is None
    assert _pair_score(far, boss) is not None


def test_programme_weights_change_who_is_proposed() -> None:
    mentee = domain.Person(
        **{
            **person("me", sought=["python"]).__dict__,
            "themes": frozenset({"leadership"}),
            "answers": (5, 5, 1),
        }
    )
    coder = domain.Person(**{**person("t1", offered=["python"]).__dict__, "answers": (1, 1, 5)})
    kindred = domain.Person(
        **{
            **person("t2", offered=["excel"]).__dict__,
            "themes": frozenset({"leadership"}),
            "answers": (5, 5, 1),
        }
    )
    by_skills = domain.ProgramRules(weights={"skills": 10, "themes": 1, "similarity": 1})
    by_values = domain.ProgramRules(weights={"skills": 1, "themes": 8, "similarity": 8})

    def pick(rules: domain.ProgramRules) -> str:
        proposal = domain.propose_cohort(
            domain.CohortInputs(
                mentees=[mentee], mentors=[coder, kindred], loads={}, excluded=set(), rules=rules
            )
        )
        return proposal.pairs[0].mentor.participant_id

    assert pick(by_skills) == "t1" and pick(by_values) == "t2"


def _propose(mentees, mentors, loads=None, excluded=None):  # type: ignore[no-untyped-def]
    return domain.propose_cohort(
        domain.CohortInputs(
            mentees=mentees,
            mentors=mentors,
            loads=loads or {},
            excluded=excluded or set(),
            rules=domain.ProgramRules(),
        )
    )


def test_cohort_respects_capacity_exclusions_and_volunteers_first() -> None:
    mentor = person("t", offered=["python"], capacity=1)
    eager = person("v", sought=["python"], volunteer=True)
    nominated = person("n", sought=["python"], volunteer=False)
    proposal = _propose([nominated, eager], [mentor])
    assert [(p.mentee.participant_id, p.mentor.participant_id) for p in proposal.pairs] == [
        ("v", "t")
    ]
    assert proposal.certificate_holds and proposal.primal == proposal.dual
    assert _propose([eager], [mentor], loads={"t": 1}).pairs == []
    assert _propose([eager], [mentor], excluded={("v", "t")}).pairs == []


def test_cohort_is_optimal_where_greedy_is_not() -> None:
    """Greedy gives the best pair first; the optimum gives up a little there to gain more."""
    python = person("t1", offered=["python", "sql"], level=9)
    sql_only = person("t2", offered=["sql"], level=9)
    both = person("e1", sought=["python", "sql"], level=1)
    python_fan = person("e2", sought=["python"], level=1)
    proposal = _propose([both, python_fan], [python, sql_only])
    got = {p.mentee.participant_id: p.mentor.participant_id for p in proposal.pairs}
    assert got == {"e1": "t2", "e2": "t1"}  # greedy would give e1 t1 and leave e2 with t2
    assert proposal.certificate_holds
    why = next(p.explanation for p in proposal.pairs if p.mentee.participant_id == "e1")
    assert why["top_choice"]["mentor_participant_id"] == "t1"
    assert why["why_not_top_choice"].startswith("that mentor is full")
    assert why["next_best"]["mentor_participant_id"] == "t1"
    chosen = next(p for p in proposal.pairs if p.mentee.participant_id == "e1")
    assert sum(why["contributions"].values()) == pytest.approx(chosen.score, abs=1e-5)
    again = _propose([python_fan, both], [sql_only, python])
    assert again.inputs_digest == proposal.inputs_digest and again.pairs == proposal.pairs


@settings(max_examples=60, deadline=None)
@given(
    n_mentees=st.integers(0, 8),
    caps=st.lists(st.integers(1, 3), min_size=0, max_size=5),
    skills=st.lists(st.sampled_from(["a", "b", "c", "d"]), min_size=0, max_size=40),
)
def test_cohort_is_always_feasible_and_deterministic(n_mentees, caps, skills) -> None:  # type: ignore[no-untyped-def]
    pick = iter(skills * 3 or ["a"] * 100)
    mentees = [person(f"m{i}", sought=[next(pick, "a")]) for i in range(n_mentees)]
    mentors = [person(f"t{j}", offered=[next(pick, "b")], capacity=c) for j, c in enumerate(caps)]
    proposal = _propose(mentees, mentors)
    pairs = proposal.pairs
    assert proposal.certificate_holds
    assert len({p.mentee.participant_id for p in pairs}) == len(pairs)
    for mentor in mentors:
        assert sum(p.mentor is mentor for p in pairs) <= mentor.capacity
    assert len(pairs) == min(n_mentees, sum(caps))  # everyone shares French: all fit
    again = _propose(list(reversed(mentees)), mentors)
    assert [(p.mentee.participant_id, p.mentor.participant_id) for p in again.pairs] == [
        (p.mentee.participant_id, p.mentor.participant_id) for p in pairs
    ]


def test_replacements_skip_history_and_full_mentors_and_are_joint() -> None:
    mentee = person("me", sought=["python"])
    previous = person("old", offered=["python"])
    full = person("full", offered=["python"], capacity=1)
    other = person("other", offered=["excel"])
    pairs = domain.replacements(
        domain.CohortInputs(
            mentees=[mentee],
            mentors=[previous, full, other],
            loads={"full": 1},
            excluded={("me", "old")},
            rules=domain.ProgramRules(),
        )
    )
    assert [p.mentor.participant_id for p in pairs] == ["other"]
    assert (
        domain.replacements(
            domain.CohortInputs(
                mentees=[mentee],
                mentors=[previous],
                loads={},
                excluded={("me", "old")},
                rules=domain.ProgramRules(),
            )
        )
        == []
    )
    # Two orphans, one slot each at two mentors: the joint optimum, not first come first served.
    a = person("a", sought=["python", "sql"])
    b = person("b", sought=["python"])
    py_sql = person("t1", offered=["python", "sql"])
    sql = person("t2", offered=["sql"])
    got = domain.replacements(
        domain.CohortInputs(
            mentees=[a, b],
            mentors=[py_sql, sql],
            loads={},
            excluded=set(),
            rules=domain.ProgramRules(),
        )
    )
    assert {(p.mentee.participant_id, p.mentor.participant_id) for p in got} == {
        ("a", "t2"),
        ("b", "t1"),
    }


def test_suggestions_have_room_and_add_up() -> None:
    mentee = person("me", sought=["python"])
    mentors = [
        person("t1", offered=["python"], capacity=1),
        person("t2", offered=["python"]),
        person("t3", offered=["excel"]),
        person("t4", offered=["python"], langs=["de"]),
    ]
    got = domain.suggestions(
        mentee=mentee,
        pool=MentorPool(mentors),
        loads={"t1": 1},
        excluded_mentors=set(),
        rules=domain.ProgramRules(),
        limit=5,
    )
    assert [s.mentor.participant_id for s in got] == ["t2", "t3"]  # t1 full, t4 no language
    for s in got:
        assert sum(s.contributions.values()) == pytest.approx(s.score, abs=1e-5)
        assert s.room >= 1


def _match(
    status=MatchStatus.proposed, *, mentor_ok=False, mentee_ok=False, mentee="me", mentor="mo"
):  # type: ignore[no-untyped-def]
    return domain.MatchState(
        id=f"m-{mentee}-{mentor}",
        program_id="p",
        mentor_participant_id=mentor,
        mentee_participant_id=mentee,
        mentor_employee_id=f"e-{mentor}",
        mentee_employee_id=f"e-{mentee}",
        status=status,
        mentor_accepted=mentor_ok,
        mentee_accepted=mentee_ok,
        end_reason=None,
        end_note=None,
        ended_at=None,
    )


def test_match_state_machine() -> None:
    now = datetime.now(UTC)
    half = domain.accept(_match(), side="mentee")
    assert (half.state.mentee_accepted, half.state.status, half.events) == (
        True,
        MatchStatus.proposed,
        (),
    )
    both = domain.accept(half.state, side="mentor")
    assert both.state.status is MatchStatus.active
    assert [type(e) for e in both.events] == [ev.MatchActivated]
    assert both.events[0].match_id == "m-me-mo"
    for status in (MatchStatus.active, MatchStatus.ended, MatchStatus.declined):
        with pytest.raises(Conflict):
            domain.accept(_match(status), side="mentor")
    with pytest.raises(Conflict):
        domain.decline(_match(MatchStatus.active), reason=ev.DeclineReason.no_time, at=now)
    declined = domain.decline(_match(), reason=ev.DeclineReason.not_a_fit, note="shy", at=now)
    got = declined.state
    assert (got.status, got.end_reason, got.end_note, got.ended_at) == (
        MatchStatus.declined,
        ev.DeclineReason.not_a_fit,
        "shy",
        now,
    )
    assert isinstance(declined.events[0], ev.MatchDeclined)
    with pytest.raises(Conflict):
        domain.end(_match(MatchStatus.ended), reason=ev.EndReason.other, at=now)
    ended = domain.end(_match(MatchStatus.active), reason=ev.EndReason.completed, at=now)
    assert ended.state.status is MatchStatus.ended and ended.events[0].reason == "completed"
    # A row read back from the database holds a plain string: the state is the enum.
    assert _match("active").status is MatchStatus.active  # type: ignore[arg-type]


def test_a_draft_is_published_once_and_only_as_it_was_made() -> None:
    now = datetime.now(UTC)
    draft = domain.RunState(status="draft", inputs_digest="abc", published_at=None)  # type: ignore[arg-type]
    assert draft.status is domain.RunStatus.draft
    with pytest.raises(Conflict):
        domain.publish(draft, inputs_now="changed", at=now)
    done = domain.publish(draft, inputs_now="abc", at=now)
    assert (done.status, done.published_at) == (domain.RunStatus.published, now)
    with pytest.raises(Conflict):
        domain.publish(done, inputs_now="abc", at=now)


def test_the_parties_are_not_told_the_ratings_ended_their_match() -> None:
    assert domain.end_reason_for_party("low_satisfaction") == "ended_by_programme"
    assert domain.end_reason_for_party("completed") == "completed"
    assert domain.end_reason_for_party(None) is None


def test_who_acts_for_which_side() -> None:
    m = _match()
    admin = domain.Actor(is_admin=True, employee_id=None)
    assert domain.side_of(m, admin, "mentor") == "mentor"
    with pytest.raises(Invalid):
        domain.side_of(m, admin, None)
    mentee = domain.Actor(is_admin=False, employee_id="e-me")
    assert domain.side_of(m, mentee, None) == "mentee"
    with pytest.raises(Forbidden):
        domain.side_of(m, mentee, "mentor")
    with pytest.raises(Forbidden):
        domain.ensure_party_or_admin(m, domain.Actor(is_admin=False, employee_id="stranger"))


def test_history_loads_and_a_runs_inputs() -> None:
    matches = [
        _match(MatchStatus.active, mentee="a", mentor="x"),
        _match(MatchStatus.proposed, mentee="b", mentor="x"),
        _match(MatchStatus.ended, mentee="c", mentor="y"),
        _match(MatchStatus.declined, mentee="c", mentor="x"),
    ]
    assert domain.mentor_history(matches, "c") == {"x", "y"}
    assert domain.mentor_history(matches, "b") == set()  # proposed: not yet history
    assert domain.mentor_loads(matches) == {"x": 2}
    inputs = domain.cohort_inputs(
        matches=matches,
        mentees=[person(p) for p in "abcd"],
        mentors=[person("x", capacity=3), person("y")],
        rules=domain.ProgramRules(),
    )
    assert [p.participant_id for p in inputs.mentees] == ["c", "d"]
    assert inputs.excluded == {("c", "y"), ("c", "x")} and inputs.loads == {"x": 2}
    digest = domain.inputs_digest
    assert (
        digest(inputs, "max_matched") == digest(inputs, "max_matched") != digest(inputs, "stable")
    )


def test_unknown_departments_never_count_as_the_same() -> None:
    """Regression: unknown departments once collided between the two sides by position."""
    mentee = person("m", sought=["python"], level=1)
    mentors = [person(f"t{k}", offered=["python"], level=8) for k in range(3)]
    got = domain.suggestions(
        mentee=mentee,
        pool=MentorPool(mentors),
        loads={},
        excluded_mentors=set(),
        rules=domain.ProgramRules(),
        limit=3,
    )
    assert len({s.score for s in got}) == 1  # identical mentors, identical scores
    assert all(s.contributions["department"] > 0 for s in got)


def test_policies_optimal_versus_stable() -> None:
    """Both mentees prefer t1; the optimum gives t1 to e2 (who needs it most), the stable
    matching to e1 (whom t1 prefers), and only the optimum leaves a blocking pair."""
    growth = frozenset({"growth"})  # e1 and t1 share a theme: t1 strictly prefers e1
    t1 = domain.Person(
        **{**person("t1", offered=["python", "sql"], level=9).__dict__, "themes": growth}
    )
    t2 = person("t2", offered=["sql"], level=9)
    e1 = domain.Person(
        **{**person("e1", sought=["python", "sql"], level=1).__dict__, "themes": growth}
    )
    e2 = person("e2", sought=["python"], level=1)

    def run(policy: str) -> domain.CohortProposal:
        rules = domain.ProgramRules(matching_policy=policy, weights={"themes": 2})
        return domain.propose_cohort(
            domain.CohortInputs(
                mentees=[e1, e2], mentors=[t1, t2], loads={}, excluded=set(), rules=rules
            )
        )

    optimal, stable = run("max_matched"), run("stable")
    assert {(p.mentee.participant_id, p.mentor.participant_id) for p in optimal.pairs} == {
        ("e1", "t2"),
        ("e2", "t1"),
    }
    assert {(p.mentee.participant_id, p.mentor.participant_id) for p in stable.pairs} == {
        ("e1", "t1"),
        ("e2", "t2"),
    }
    assert optimal.certificate_holds and optimal.blocking_pairs == 1
    assert not stable.certificate_holds and stable.blocking_pairs == 0
    assert stable.total_score < optimal.total_score
    why = next(p.explanation for p in stable.pairs if p.mentee.participant_id == "e2")
    assert "stable matching" in why["why_not_top_choice"]
    assert run("max_score").certificate_holds
