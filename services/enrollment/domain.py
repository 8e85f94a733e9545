"""Enrollment's rules, free of I/O: what an HRIS event does, who may enrol and how."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from enum import StrEnum
from functools import cache
from typing import Annotated, Literal, TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    StrictStr,
    model_validator,
)

from shared.contracts import enrollment as ev
from shared.contracts.enrollment import (
    LONGEST,
    TAG_MAX,
    Objectives,
    ParticipantRole,
    ProgramFormat,
    ProgramStatus,
    SentTag,
    SentTags,
    clean_tags,
)
from shared.domain import Transition
from shared.errors import Conflict, Invalid


class EmployeeStatus(StrEnum):
    active = "active"
    on_leave = "on_leave"  # a leave of absence: their relationships pause, not end
    terminated = "terminated"


class ParticipantStatus(StrEnum):
    pending = "pending"  # waiting for an admin's approval (programmes that require it)
    active = "active"
    rejected = "rejected"
    withdrawn = "withdrawn"


IN_PROGRAMME = (ParticipantStatus.pending, ParticipantStatus.active)  # withdrawal possible


# --- a programme's lifecycle -----------------------------------------------------------------
#
# draft --> enrolling --> running --> closed;  draft and enrolling may also close directly.

NEXT_STATUS: Mapping[ProgramStatus, frozenset[ProgramStatus]] = {
    ProgramStatus.draft: frozenset({ProgramStatus.enrolling, ProgramStatus.closed}),
    ProgramStatus.enrolling: frozenset({ProgramStatus.running, ProgramStatus.closed}),
    ProgramStatus.running: frozenset({ProgramStatus.closed}),
    ProgramStatus.closed: frozenset(),
}
ENROLLING = (ProgramStatus.enrolling, ProgramStatus.running)


@dataclass(frozen=True)
class ProgramState:
    """A programme's place in its lifecycle (the row's fields)."""

    id: str
    status: ProgramStatus

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", ProgramStatus(self.status))


def move_program(
    p: ProgramState, to: ProgramStatus, *, note: str | None = None
) -> Transition[ProgramState]:
    """One step of the lifecycle; anything else is a 409 naming the steps possible."""
    if to not in NEXT_STATUS[p.status]:
        allowed = sorted(NEXT_STATUS[p.status])
        raise Conflict(
            f"a {p.status} programme cannot become {to}"
            + (f"; it can become: {', '.join(allowed)}" if allowed else "; it is closed for good"),
            field="status",
        )
    event = ev.ProgramStatusChanged(program_id=p.id, status=to, previous=p.status, note=note)
    return Transition(replace(p, status=to), [event])


def check_editable(status: ProgramStatus) -> None:
    if status is ProgramStatus.closed:
        raise Conflict("the programme is closed; its settings no longer change")


def check_questions_editable(status: ProgramStatus) -> None:
    """Answers refer to the questions: the questionnaire is fixed once enrolment opens."""
    if status is not ProgramStatus.draft:
        raise Conflict("the questionnaire is fixed once enrolment opens", field="questions")


def check_enrolment_open(
    status: ProgramStatus, *, opens: date | None, closes: date | None, today: date
) -> None:
    """People enrol while the programme is enrolling or running, within its enrolment dates."""
    if status not in ENROLLING:
        raise Conflict(f"the programme is {status}: enrolment is open while enrolling or running")
    if opens is not None and today < opens:
        raise Conflict(f"enrolment opens on {opens}")
    if closes is not None and today > closes:
        raise Conflict(f"enrolment closed on {closes}")


# --- the enrolment questionnaire ------------------------------------------------------------


class QuestionKind(StrEnum):
    scale = "scale"  # 1 (disagree) to 5 (agree)
    single = "single"  # one of the options
    multiple = "multiple"  # any of the options


class _Asked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=50, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    text: str = Field(min_length=1, max_length=500)
    required: bool = False


class ScaleQuestion(_Asked):
    """A question answered 1 to 5; with `feeds: similarity`, its answers (in the
    questionnaire's order) make the deep-level similarity criterion."""

    kind: Literal[QuestionKind.scale]
    options: list[SentTag] = Field(default=[], max_length=0, description="None: a scale has none.")
    feeds: Literal["similarity"] | None = None


class ChoiceQuestion(_Asked):
    """A question answered by one option (`single`) or several (`multiple`); with `feeds:
    themes`, the options chosen become the participant's themes."""

    kind: Literal[QuestionKind.single, QuestionKind.multiple]
    # Bounds applied to the cleaned tags (a Field default would judge them before cleaning).
    options: Annotated[
        list[SentTag], AfterValidator(clean_tags), Field(min_length=2, max_length=30)
    ]
    feeds: Literal["themes"] | None = None


# One enrolment question; its `kind` says which rules apply (the schema states them).
Question = Annotated[ScaleQuestion | ChoiceQuestion, Field(discriminator="kind")]


MAX_SIMILARITY_QUESTIONS = 20
# No coercion (`true` is not a 1); a choice names options (at most the 30 a question has).
Answer = (
    StrictInt
    | Annotated[StrictStr, Field(max_length=TAG_MAX)]
    | Annotated[list[Annotated[StrictStr, Field(max_length=TAG_MAX)]], Field(max_length=30)]
)


def check_questionnaire(questions: list[Question]) -> list[Question]:
    ids = [q.id for q in questions]
    if len(ids) != len(set(ids)):
        raise ValueError("question ids must be unique")
    if sum(q.feeds == "similarity" for q in questions) > MAX_SIMILARITY_QUESTIONS:
        raise ValueError(f"at most {MAX_SIMILARITY_QUESTIONS} questions feed similarity")
    return questions


@dataclass(frozen=True)
class Scored:
    """What matching takes from a participant's answers."""

    similarity: list[int]  # the similarity questions' answers in order (3, neutral, if none)
    themes: list[str]  # options chosen in questions that feed themes


def score_answers(questions: list[Question], answers: Mapping[str, Answer] | list[int]) -> Scored:
    """Answers keyed by question id, checked against the programme's questionnaire (422 naming
    `answers.<id>`), and what matching takes from them. A programme without a questionnaire
    takes a plain list of 1-5 answers instead (values and working style, as before
    questionnaires), which feeds similarity as it is."""
    if isinstance(answers, list):
        if questions:
            raise Invalid(
                "this programme's questionnaire takes answers keyed by question id: "
                f"{[q.id for q in questions]}",
                field="answers",
            )
        return Scored(similarity=list(answers), themes=[])
    by_id = {q.id: q for q in questions}
    for qid in answers:
        if qid not in by_id:
            known = list(by_id) or "none: this programme has no questionnaire"
            raise Invalid(f"no question {qid!r} here (questions: {known})", field=f"answers.{qid}")
    themes: list[str] = []
    similarity: list[int] = []
    for q in questions:
        field = f"answers.{q.id}"
        a = answers.get(q.id)
        if a is None:
            if q.required:
                raise Invalid(f"question {q.id!r} needs an answer", field=field)
            if q.feeds == "similarity":
                similarity.append(3)  # neutral
            continue
        if q.kind is QuestionKind.scale:
            if isinstance(a, bool) or not isinstance(a, int) or not 1 <= a <= 5:
                raise Invalid(f"question {q.id!r} takes a whole number from 1 to 5", field=field)
            if q.feeds == "similarity":
                similarity.append(a)
            continue
        multiple = q.kind is QuestionKind.multiple
        shape_ok = isinstance(a, list) if multiple else isinstance(a, str)
        picked = [str(c).strip().lower() for c in (a if isinstance(a, list) else [a])]
        if not shape_ok or not set(picked) <= set(q.options):
            what = f"a list of {q.options}" if multiple else f"one of {q.options}"
            raise Invalid(f"question {q.id!r} takes {what}", field=field)
        if q.feeds == "themes":
            themes += picked
    return Scored(similarity=similarity, themes=list(dict.fromkeys(themes)))


# --- who a programme is for -----------------------------------------------------------------


class RoleEligibility(BaseModel):
    """Who may take one role in a programme, judged on the HRIS directory's facts (never on
    what the employee types). Empty: everyone."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    departments: list[Annotated[str, Field(max_length=200)]] = Field(default=[], max_length=200)
    min_level: int | None = Field(default=None, ge=0, le=20)
    max_level: int | None = Field(default=None, ge=0, le=20)
    min_tenure: timedelta | None = Field(
        default=None, ge=timedelta(0), le=LONGEST
    )  # since hire, ISO 8601
    languages: SentTags = []  # speaks at least one of them

    @model_validator(mode="after")
    def _range(self) -> RoleEligibility:
        if None not in (self.min_level, self.max_level) and self.min_level > self.max_level:  # type: ignore[operator]
            raise ValueError("min_level must not be above max_level")
        return self


class Eligibility(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    mentor: RoleEligibility = RoleEligibility()
    mentee: RoleEligibility = RoleEligibility()


@dataclass(frozen=True)
class EmployeeFacts:
    """What eligibility is judged on: the directory's record (the row's fields)."""

    department: str | None
    level: int | None
    hired_on: date | None
    languages: list[str]


def ineligibility(rule: RoleEligibility, who: EmployeeFacts, *, today: date) -> list[str]:
    """Why the directory's facts keep an employee out of a role (empty: eligible)."""
    why: list[str] = []
    wanted = {d.casefold() for d in rule.departments}
    if wanted and (who.department or "").casefold() not in wanted:
        why.append(f"department {who.department or 'unknown'} is not one of {rule.departments}")
    if rule.min_level is not None or rule.max_level is not None:
        lo = rule.min_level if rule.min_level is not None else 0
        hi = rule.max_level if rule.max_level is not None else 20
        if who.level is None:
            why.append("level unknown in the directory")
        elif not lo <= who.level <= hi:
            why.append(f"level {who.level} is outside {lo}-{hi}")
    if rule.min_tenure is not None:
        if who.hired_on is None:
            why.append("hire date unknown in the directory")
        elif today - who.hired_on < rule.min_tenure:
            days = rule.min_tenure.days
            why.append(f"hired on {who.hired_on}, less than {days} days ago")
    if rule.languages and not set(rule.languages) & set(who.languages):
        why.append(f"speaks none of {rule.languages}")
    return why


DEFAULT_MENTOR_CAPACITY = 1
T = TypeVar("T")


@dataclass(frozen=True)
class Profile:
    languages: list[str]
    level: int | None
    department: str | None
    capacity: int


@dataclass(frozen=True)
class DirectoryFacts:
    """What the directory says of an employee, as profiles use it (the row's fields)."""

    manager_id: str | None
    languages: list[str]
    level: int | None
    department: str | None

    def __post_init__(self) -> None:  # a copy: never the row's own list, shared by reference
        object.__setattr__(self, "languages", list(self.languages))


def resolve_profile(
    *,
    role: ParticipantRole,
    employee_status: EmployeeStatus,
    directory: DirectoryFacts,
    languages: list[str] | None,
    level: int | None,
    department: str | None,
    capacity: int | None,
    override: bool = False,
) -> Profile:
    """A participant's matching profile. The directory's facts win: an employee may only add
    what it lacks (a level or department it does not know, languages beyond its own); an
    admin may override it (`override`: their note is kept with the profile)."""
    if employee_status is not EmployeeStatus.active:
        raise Invalid("employee is not active", field="employee_id")
    if role is ParticipantRole.mentee and capacity not in (None, 1):
        raise Invalid("only mentors have a capacity", field="capacity")
    if not override:
        for name, given, known in (
            ("level", level, directory.level),
            ("department", department, directory.department),
        ):
            if given is not None and known is not None and given != known:
                raise Invalid(
                    f"the HRIS directory says {name} {known}: only an admin may override it,"
                    " with an override_note",
                    field=name,
                )
        dropped = sorted(set(directory.languages) - set(languages or directory.languages))
        if dropped:
            raise Invalid(
                f"the HRIS directory says this employee speaks {dropped}: languages may add to"
                " the directory's, not drop them (an admin may, with an override_note)",
                field="languages",
            )
    langs = languages if languages is not None else directory.languages
    if not langs:
        raise Invalid("at least one language is needed to match", field="languages")
    return Profile(
        languages=langs,
        level=level if level is not None else directory.level,
        department=department if department is not None else directory.department,
        capacity=(capacity or DEFAULT_MENTOR_CAPACITY) if role is ParticipantRole.mentor else 1,
    )


def follow_directory(current: T, was: T, now: T) -> T:
    """A profile value taken from the directory at enrolment follows the directory; one the
    participant gave themselves (it differs from what the directory said) stays theirs."""
    return now if current == was else current


@dataclass(frozen=True)
class DirectoryProfile:
    """The part of a participant's profile that comes from the directory (the row's fields)."""

    languages: list[str]
    level: int | None
    department: str | None
    tz_offset_h: int | None


def followed(
    current: DirectoryProfile, *, was: DirectoryFacts, now: DirectoryFacts, tz_offset_h: int | None
) -> DirectoryProfile:
    """A participant's own profile after an HRIS change to their employee record: the timezone
    always follows; level, department and languages follow where they came from the directory."""
    return DirectoryProfile(
        languages=follow_directory(current.languages, was.languages, now.languages),
        level=follow_directory(current.level, was.level, now.level),
        department=follow_directory(current.department, was.department, now.department),
        tz_offset_h=tz_offset_h,
    )


MAX_CHAIN = 20


def manager_chain(manager_id: str | None, manager_of: Mapping[str, str | None]) -> list[str]:
    """Employee ids above someone in the reporting line, nearest first, from their manager's id
    up: it stops at the top, at an employee the directory does not know (`manager_of` lacks
    them), at a loop, or 20 levels up. Matching never pairs someone with their chain."""
    chain: list[str] = []
    current = manager_id
    while current and current not in chain and len(chain) < MAX_CHAIN:
        chain.append(current)
        if current not in manager_of:
            break
        current = manager_of[current]
    return chain


@cache
def _timezones() -> frozenset[str]:
    return frozenset(available_timezones())


def is_timezone(name: object) -> bool:
    """Whether this is an IANA time zone name the tz database knows."""
    return isinstance(name, str) and name in _timezones()


def known_timezone(timezone: str | None) -> str | None:
    """An IANA time zone name the tz database knows (not a folder such as `America`)."""
    if timezone is not None and timezone not in _timezones():
        raise ValueError(f"{timezone!r} is not an IANA time zone (e.g. 'Europe/Paris')")
    return timezone


def tz_offset_hours(timezone: str | None, *, at: datetime) -> int | None:
    """The employee's UTC offset in whole hours at `at` (None when unknown or invalid)."""
    if not timezone:
        return None
    try:
        offset = ZoneInfo(timezone).utcoffset(at)
    except (ZoneInfoNotFoundError, ValueError):
        return None
    return None if offset is None else round(offset.total_seconds() / 3600)


@dataclass(frozen=True)
class ParticipantState:
    """A participant's place in a programme as its rules see it (the row's fields)."""

    id: str
    program_id: str
    employee_id: str
    role: ParticipantRole
    status: ParticipantStatus
    withdrawn_reason: ev.WithdrawalReason | None
    withdrawn_note: str | None
    rejected_reason: ev.RejectionReason | None
    decision_note: str | None

    def __post_init__(self) -> None:  # a row read back from the database holds plain strings
        object.__setattr__(self, "role", ParticipantRole(self.role))
        object.__setattr__(self, "status", ParticipantStatus(self.status))


def withdraw(
    p: ParticipantState, *, reason: ev.WithdrawalReason, note: str | None = None
) -> Transition[ParticipantState]:
    """active or pending --withdraw--> withdrawn (by themselves, an admin, or their leaving
    the company)."""
    if p.status not in IN_PROGRAMME:
        raise Conflict(f"participant already {p.status}")
    new = replace(
        p, status=ParticipantStatus.withdrawn, withdrawn_reason=reason, withdrawn_note=note
    )
    event = ev.ParticipantWithdrawn(
        participant_id=p.id,
        program_id=p.program_id,
        employee_id=p.employee_id,
        role=p.role,
        reason=reason,
        note=note,
    )
    return Transition(new, [event])


def approve(p: ParticipantState, *, note: str | None) -> Transition[ParticipantState]:
    """pending --approve--> active (the use case then tells matching: ParticipantEnrolled)."""
    if p.status is not ParticipantStatus.pending:
        raise Conflict(f"only a pending enrolment can be approved; this one is {p.status}")
    event = ev.ParticipantApproved(
        participant_id=p.id, program_id=p.program_id, employee_id=p.employee_id, role=p.role,
        note=note,
    )  # fmt: skip
    return Transition(replace(p, status=ParticipantStatus.active, decision_note=note), [event])


def reject(
    p: ParticipantState, *, reason: ev.RejectionReason, note: str | None
) -> Transition[ParticipantState]:
    """pending --reject--> rejected, with a reason category and a note."""
    if p.status is not ParticipantStatus.pending:
        raise Conflict(f"only a pending enrolment can be rejected; this one is {p.status}")
    new = replace(p, status=ParticipantStatus.rejected, rejected_reason=reason, decision_note=note)
    event = ev.ParticipantRejected(
        participant_id=p.id, program_id=p.program_id, employee_id=p.employee_id, role=p.role,
        reason=reason, note=note,
    )  # fmt: skip
    return Transition(new, [event])


def check_vocabulary(
    objectives: Objectives, *, fmt: ProgramFormat, role: ParticipantRole, offered: list[str],
    sought: list[str],
) -> None:  # fmt: skip
    """A programme with target skills speaks their names: skills outside them are refused;
    in a reverse programme a mentor offers at least one of them."""
    targets = objectives.skill_names
    if not targets:
        return
    for field, skills in (("skills_offered", offered), ("skills_sought", sought)):
        unknown = [s for s in skills if s not in targets]
        if unknown:
            raise Invalid(f"{unknown} are not among the programme's skills {targets}", field=field)
    if fmt is ProgramFormat.reverse and role is ParticipantRole.mentor:
        if not set(offered) & set(targets):
            raise Invalid(
                f"a reverse programme's mentor offers at least one of its skills {targets}",
                field="skills_offered",
            )


# --- an employee's record, as the HRIS drives it ---------------------------------------------
#
# (none) --hired--> active --updated--> active --terminated--> terminated --hired--> active
#                    active --leave--> on_leave --returned--> active  (updated keeps on_leave)


@dataclass(frozen=True)
class EmployeeState:
    id: str
    status: EmployeeStatus
    updated_at: datetime

    def __post_init__(self) -> None:  # a row read back from the database holds a plain str
        object.__setattr__(self, "status", EmployeeStatus(self.status))


# An HRIS event either carries the employee's record (hired, updated) or names the employee
# whose status changes (terminated, leave, returned).
HrisProfileEventType = Literal["hired", "updated"]
HrisStatusEventType = Literal["terminated", "leave", "returned"]
HrisEventType = Literal[HrisProfileEventType, HrisStatusEventType]


def terminate(e: EmployeeState, *, at: datetime) -> Transition[EmployeeState]:
    """The employee left the company (a second termination changes nothing). The use case
    then withdraws them from every programme (`left_company`)."""
    if e.status is EmployeeStatus.terminated:
        return Transition(e)
    new = replace(e, status=EmployeeStatus.terminated, updated_at=at)
    return Transition(new, [ev.EmployeeTerminated(employee_id=e.id)])


def take_record(
    e: EmployeeState | None,
    *,
    employee_id: str,
    event_type: HrisEventType,
    at: datetime,
    provisioned: bool = False,
) -> EmployeeState:
    """Hired or updated: the directory's record is taken as sent and the employee is active.
    A terminated employee comes back only through a new `hired` event. An HRIS `updated` for
    them is refused (it arrived out of order); provisioning (`provisioned`: SCIM) may edit a
    deactivated user's record, who stays terminated."""
    terminated = e is not None and e.status is EmployeeStatus.terminated
    if terminated and event_type == "updated":
        if not provisioned:
            raise Conflict("employee is terminated; send a hired event to rehire")
        return EmployeeState(id=employee_id, status=EmployeeStatus.terminated, updated_at=at)
    keep = e is not None and e.status is EmployeeStatus.on_leave and event_type == "updated"
    status = EmployeeStatus.on_leave if keep else EmployeeStatus.active
    return EmployeeState(id=employee_id, status=status, updated_at=at)


def leave(e: EmployeeState, *, at: datetime) -> Transition[EmployeeState]:
    """A leave of absence starts (a second one changes nothing): their relationships pause."""
    if e.status is EmployeeStatus.terminated:
        raise Conflict("employee is terminated; a leave needs an active employee")
    if e.status is EmployeeStatus.on_leave:
        return Transition(e)
    new = replace(e, status=EmployeeStatus.on_leave, updated_at=at)
    return Transition(new, [ev.EmployeeOnLeave(employee_id=e.id)])


def returned(e: EmployeeState, *, at: datetime) -> Transition[EmployeeState]:
    """Back from leave (changes nothing for an employee not on leave): relationships resume."""
    if e.status is EmployeeStatus.terminated:
        raise Conflict("employee is terminated; send a hired event to rehire")
    if e.status is not EmployeeStatus.on_leave:
        return Transition(e)
    new = replace(e, status=EmployeeStatus.active, updated_at=at)
    return Transition(new, [ev.EmployeeReturned(employee_id=e.id)])


def fold(text: str) -> str:
    """A login name as compared: without case (SCIM's userName, RFC 7643 §4.1.1)."""
    return text.casefold()


def login_key(user_name: str | None, email: str | None, employee_id: str) -> str:
    """The name an employee logs in as, as compared: their SCIM userName, else their email,
    else their id (an employee an HRIS push created reads so in SCIM)."""
    return fold(user_name or email or employee_id)


def snapshot_event(event_type: HrisEventType) -> type[ev.EmployeeSnapshot]:
    """The event that publishes the record after a hired or updated event."""
    if event_type not in ("hired", "updated"):
        raise ValueError(f"a {event_type} event publishes its own event (see terminate, leave)")
    return ev.EmployeeHired if event_type == "hired" else ev.EmployeeUpdated
