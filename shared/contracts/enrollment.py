"""Events the enrollment service produces (topic binome.enrollment.events)."""

from __future__ import annotations

from datetime import date, timedelta
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator, model_validator

from shared.contracts.reasons import Reasoned
from shared.events import EventData


class ProgramFormat(StrEnum):
    classic = "classic"  # a senior guides a junior
    reverse = "reverse"  # a junior teaches (digital) skills to a senior
    circles = "circles"  # a group meets around shared themes


class SeniorityRule(StrEnum):
    """How a programme's format binds the pair's levels (from the HRIS directory)."""

    # Classic: the mentor is more senior than the mentee (a higher level); reverse: less
    # senior. A pair where either level is unknown is not held to it. Circles: no effect.
    required = "required"
    preferred = "preferred"  # relaxed: only the seniority criterion's weight favours it


class ParticipantRole(StrEnum):
    mentor = "mentor"
    mentee = "mentee"


class ProgramStatus(StrEnum):
    """A programme's lifecycle: draft -> enrolling -> running -> closed (any but closed may
    close). People enrol while it is enrolling or running; closing ends its relationships."""

    draft = "draft"  # being designed: objectives, questions, eligibility; nobody enrols yet
    enrolling = "enrolling"  # open to enrolment (and to matching runs)
    running = "running"  # relationships under way; late enrolment still possible
    closed = "closed"  # over: open matches end (programme_closed), nothing new starts


def clean_tags(values: list[str]) -> list[str]:
    """Skills and languages compare case-insensitively: trimmed, lower, unique, in order."""
    return list(dict.fromkeys(v.strip().lower() for v in values if v.strip()))


def clean_tag(value: str) -> str:
    return value.strip().lower()


Tags = Annotated[list[str], AfterValidator(clean_tags)]
# The longest duration a programme setting takes: a hundred years (longer is a typo, and
# ISO 8601 durations past 9,999 years are not read back by every client).
LONGEST = timedelta(days=36_500)
TAG_MAX = 100  # characters of one skill, theme, language, department or option
TAGS_MAX = 50  # tags in one list a caller sends
# A tag as a caller sends it (bounded as sent, then cleaned in its list).
SentTag = Annotated[str, Field(max_length=TAG_MAX)]
# A list of tags as a caller sends it: each tag and their number bounded as sent, then
# cleaned like Tags. The events carry Tags: what was accepted.
SentTags = Annotated[list[SentTag], Field(max_length=TAGS_MAX), AfterValidator(clean_tags)]
Tag = Annotated[str, AfterValidator(clean_tag), Field(min_length=1, max_length=100)]


class TargetSkill(BaseModel):
    """A skill or competency the needs analysis found the programme should develop."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    name: Tag
    description: str | None = Field(default=None, max_length=2000)


class Objectives(BaseModel):
    """What the programme is for, from the needs analysis: the business goal in words and the
    target skills. The skills are the programme's vocabulary: participants offer and seek
    them, and goals and assessments name them."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    business_goal: str | None = Field(default=None, max_length=4000)
    skills: list[TargetSkill] = Field(default=[], max_length=100)

    @field_validator("skills")
    @classmethod
    def _unique(cls, skills: list[TargetSkill]) -> list[TargetSkill]:
        names = [s.name for s in skills]
        if len(names) != len(set(names)):
            raise ValueError("target skill names must be unique")
        return skills

    @property
    def skill_names(self) -> list[str]:
        return [s.name for s in self.skills]


class ProgramCalendar(BaseModel):
    """A programme's dates (all optional): enrolment is open between `enrolment_opens` and
    `enrolment_closes` (inclusive, UTC days) while the programme is enrolling or running;
    relationships run from `starts_on` to `ends_on`, or for `relationship_duration` each."""

    enrolment_opens: date | None = None
    enrolment_closes: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    relationship_duration: timedelta | None = Field(default=None, gt=timedelta(0), le=LONGEST)

    @model_validator(mode="after")
    def _in_order(self) -> ProgramCalendar:
        pairs = [
            ("enrolment_opens", "enrolment_closes"),
            ("enrolment_opens", "starts_on"),
            ("starts_on", "ends_on"),
            ("enrolment_closes", "ends_on"),
        ]
        for first, then in pairs:
            a, b = getattr(self, first), getattr(self, then)
            if a is not None and b is not None and a > b:
                raise ValueError(f"{first} ({a}) must not be after {then} ({b})")
        return self


# The criteria a programme weighs for matching (0 to 10 each; 10 turns one into a hard
# filter). Enrollment validates programme weights against them; matching scores by them.
MATCHING_CRITERIA = (
    "skills",  # skills the mentee seeks that the mentor offers
    "themes",  # shared goals and themes
    "similarity",  # deep-level similarity: values and working style (questionnaire)
    "seniority",  # level gap in the direction the programme's format wants
    "department",  # cross-department (or same-department) preference
    "timezone",  # closeness of working hours
    "availability",  # overlap of weekly availability slots
    "volunteer",  # volunteers first (mentor and mentee)
)
HARD_FILTER_WEIGHT = 10


# max_matched: most mentees matched, then best total; max_score: best total; stable: no
# mentee and mentor would both rather be together (mentee-proposing deferred acceptance).
class MatchingPolicy(StrEnum):
    max_matched = "max_matched"
    max_score = "max_score"
    stable = "stable"


class EmployeeSnapshot(EventData):
    employee_id: str
    name: str
    department: str | None
    level: int | None
    manager_id: str | None
    languages: list[str]
    timezone: str | None


class EmployeeHired(EmployeeSnapshot):
    TYPE = "binome.enrollment.employee.hired.v1"
    KEY = "employee_id"


class EmployeeUpdated(EmployeeSnapshot):
    TYPE = "binome.enrollment.employee.updated.v1"
    KEY = "employee_id"


class EmployeeTerminated(EventData):
    TYPE = "binome.enrollment.employee.terminated.v1"
    KEY = "employee_id"
    employee_id: str


RATINGS_KEPT = 20  # the most ratings of one side a programme may judge on (min_ratings)


class AtRiskAction(StrEnum):
    """What a programme does when a relationship becomes at risk (a corrective case opens)."""

    review = "review"  # an admin reviews the case and chooses the action
    rematch = "rematch"  # re-pair the mentee after the grace period, without review
    conclude = "conclude"  # end the relationship after the grace period, without review


class TrainingItem(BaseModel):
    """An entry of a programme's training catalogue (assigned by a corrective case)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    id: str = Field(min_length=1, max_length=100, pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = Field(min_length=1, max_length=200)
    url: str | None = Field(default=None, max_length=2000)


class EmployeeOnLeave(EventData):
    """A leave of absence began (HRIS `leave`): the employee's relationships pause."""

    TYPE = "binome.enrollment.employee.on_leave.v1"
    KEY = "employee_id"
    employee_id: str


class EmployeeReturned(EventData):
    """Back from leave (HRIS `returned`): their relationships resume."""

    TYPE = "binome.enrollment.employee.returned.v1"
    KEY = "employee_id"
    employee_id: str


class EmployeeErased(EventData):
    """An employee's personal data is to be erased (GDPR article 17): every service replaces
    their id with `pseudonym` in what it holds, blanks the personal fields of the records about
    them and deletes those only about them (shared.privacy), then confirms."""

    TYPE = "binome.enrollment.employee.erased.v1"
    KEY = "employee_id"  # after the employee's own events (their termination)
    employee_id: str
    erasure_id: str
    pseudonym: str
    # Each service erases again this long after, then confirms: what events emitted before
    # the erasure but heard after it (another partition, another service's reaction to the
    # termination) wrote meanwhile is erased too.
    repeat_after: timedelta = Field(ge=timedelta(0), le=timedelta(days=7))


# The services that hold personal data, each confirming an erasure (all of Binôme's).
ERASURE_CONFIRMERS = ("enrollment", "matching", "sessions", "feedback", "reporting")


def erasure_confirmed(service: str) -> str:
    """The type of `service`'s ErasureConfirmed."""
    return f"binome.{service}.erasure.confirmed.v1"


class ErasureConfirmed(EventData):
    """A service erased an employee (EmployeeErased): the records it changed or deleted. Each
    service publishes its own type (`binome.<service>.erasure.confirmed.v1`)."""

    KEY = "erasure_id"
    erasure_id: str
    service: str
    records: int = Field(ge=0)


class EnrollmentErasureConfirmed(ErasureConfirmed):
    TYPE = erasure_confirmed("enrollment")


class EngagementPolicy(BaseModel):
    """How a programme follows its relationships over time. Durations are ISO 8601 in the API
    and the events ("P2D", "PT30S")."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # A session still planned this long after its end becomes `unconfirmed` (neither held
    # nor cancelled): a signal that the pair may have stopped meeting.
    unconfirmed_after: timedelta = Field(default=timedelta(days=2), ge=timedelta(0), le=LONGEST)
    # The expected meeting rhythm. A relationship with no session held or planned for
    # `nudge_after` cadences is nudged, for `attention_after` needs attention, for
    # `at_risk_after` is at risk (disengaged).
    cadence: timedelta = Field(default=timedelta(days=14), gt=timedelta(0), le=LONGEST)
    nudge_after: float = Field(default=1.0, gt=0)
    attention_after: float = Field(default=2.0, gt=0)
    at_risk_after: float = Field(default=3.0, gt=0)
    # Pulse surveys to both sides: the first this long after activation, then every
    # `pulse_every`; a closing survey when the match ends. Unanswered, they expire.
    first_pulse: timedelta = Field(default=timedelta(days=30), gt=timedelta(0), le=LONGEST)
    pulse_every: timedelta = Field(default=timedelta(days=60), gt=timedelta(0), le=LONGEST)
    survey_expires: timedelta = Field(default=timedelta(days=14), gt=timedelta(0), le=LONGEST)
    # Ratings, each side judged on its own: the mentor's (of the sessions they gave) are low
    # when their last `min_ratings` average below `mentor_low_rating`, the mentee's likewise.
    mentor_low_rating: float = Field(default=2.5, ge=1, le=5)
    mentee_low_rating: float = Field(default=2.5, ge=1, le=5)
    min_ratings: int = Field(default=2, ge=1, le=RATINGS_KEPT)
    # An at-risk relationship opens a corrective case. `review`: an admin decides; `rematch`
    # and `conclude`: that action is taken after `grace` unless the health recovered.
    on_at_risk: AtRiskAction = AtRiskAction.review
    grace: timedelta = Field(default=timedelta(days=3), ge=timedelta(0), le=LONGEST)

    @model_validator(mode="after")
    def _ascending(self) -> EngagementPolicy:
        if not self.nudge_after <= self.attention_after <= self.at_risk_after:
            raise ValueError("nudge_after <= attention_after <= at_risk_after (in cadences)")
        return self


class AgendaTemplate(BaseModel):
    """What a relationship's n-th session covers (its agenda when planned; the pair edits it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    session: int = Field(ge=1, le=100)
    topics: list[Annotated[str, Field(min_length=1, max_length=200)]] = Field(
        min_length=1, max_length=20
    )


class RequestPolicy(BaseModel):
    """Self-service requests, beside admin runs: a mentee asks one of their suggested mentors
    directly, with a message; the mentor accepts or declines."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    enabled: bool = False
    # An unanswered request expires after this long (ISO 8601).
    expires_after: timedelta = Field(default=timedelta(days=14), gt=timedelta(0), le=LONGEST)
    # Open requests a mentee may have at once (each holds a place with its mentor).
    max_open: int = Field(default=3, ge=1, le=10)
    # On decline or expiry, the request passes to the mentee's next choice, if they gave one.
    cascade: bool = True


class ProgramRules(BaseModel):
    """The rules of a programme that other services apply (matching how it pairs, feedback
    when a relationship is at risk): the one home of their defaults."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    format: ProgramFormat = ProgramFormat.classic
    # A matching run is a draft for an admin to review and publish, unless this is set.
    auto_publish: bool = False
    # Matching criteria weights 0..10 by criterion name (10: a hard filter); empty: defaults.
    weights: dict[str, int] = {}
    max_timezone_gap_h: int = 12
    min_score: float = 0.0
    cross_department: bool = True
    matching_policy: MatchingPolicy = MatchingPolicy.max_matched
    seniority_rule: SeniorityRule = SeniorityRule.required
    engagement: EngagementPolicy = EngagementPolicy()
    # What a corrective case may assign (training for a mentor, a mentee).
    training: list[TrainingItem] = []
    requests: RequestPolicy = RequestPolicy()
    # Session agendas by rank: session 1 covers these topics, session 2 those...
    agenda_templates: list[AgendaTemplate] = []

    @model_validator(mode="before")
    @classmethod
    def _legacy(cls, data: object) -> object:
        return legacy_rating_rule(data)

    @field_validator("training")
    @classmethod
    def _unique_training(cls, items: list[TrainingItem]) -> list[TrainingItem]:
        ids = [i.id for i in items]
        if len(ids) != len(set(ids)):
            raise ValueError("training item ids must be unique")
        return items

    @field_validator("agenda_templates")
    @classmethod
    def _one_per_session(cls, items: list[AgendaTemplate]) -> list[AgendaTemplate]:
        ranks = [t.session for t in items]
        if len(ranks) != len(set(ranks)):
            raise ValueError("one agenda template per session number")
        return sorted(items, key=lambda t: t.session)


def legacy_rating_rule(data: object) -> object:
    """Programmes created before ratings were judged per side carried one pooled rule
    (`rematch_threshold`, `rating_window`): it becomes both sides' threshold and the
    minimum number of ratings (for old events, and old clients of the API)."""
    if not isinstance(data, dict) or not {"rematch_threshold", "rating_window"} & set(data):
        return data
    data = dict(data)
    threshold, window = data.pop("rematch_threshold", None), data.pop("rating_window", None)
    engagement = data.get("engagement") or {}
    if isinstance(engagement, BaseModel):
        engagement = engagement.model_dump()
    engagement = dict(engagement)
    if threshold is not None:
        engagement.setdefault("mentor_low_rating", threshold)
        engagement.setdefault("mentee_low_rating", threshold)
    if window is not None:
        engagement.setdefault("min_ratings", window)
    data["engagement"] = engagement
    return data


PROGRAM_DEFAULTS = ProgramRules()


class ProgramFacts(EventData, ProgramRules, ProgramCalendar):
    """A programme as other services know it: its rules, dates, objectives and status."""

    program_id: str
    name: str
    objectives: Objectives = Objectives()
    # Events from before the lifecycle had none: their programmes were running.
    status: ProgramStatus = ProgramStatus.running


class ProgramCreated(ProgramFacts):
    TYPE = "binome.enrollment.program.created.v1"
    KEY = "program_id"


class ProgramUpdated(ProgramFacts):
    """An admin changed a programme: its rules as they now are, and which fields changed
    (matching, sessions and feedback apply the new rules; feedback re-judges every running
    relationship of the programme when its engagement policy changed)."""

    TYPE = "binome.enrollment.program.updated.v1"
    KEY = "program_id"
    changed: list[str]


class ProgramStatusChanged(EventData):
    """A programme moved in its lifecycle. On `closed`, matching ends its open matches
    (`programme_closed`) and empties its waiting list; no run or request starts after."""

    TYPE = "binome.enrollment.program.status_changed.v1"
    KEY = "program_id"
    program_id: str
    status: ProgramStatus
    previous: ProgramStatus
    note: str | None = None


class ParticipantProfile(EventData):
    """Everything matching needs to know of a participant (the fields of both events below)."""

    participant_id: str
    program_id: str
    employee_id: str
    role: ParticipantRole
    skills_offered: list[str]
    skills_sought: list[str]
    languages: list[str]
    level: int | None
    department: str | None
    capacity: int
    volunteer: bool
    themes: list[str] = []
    answers: list[int] = []  # the questionnaire's similarity answers in its order, 1..5
    availability: list[int] = []  # weekly four-hour slots 0..41
    tz_offset_h: int | None = None
    manager_chain: list[str] = []  # employee ids above them, nearest first


class ParticipantEnrolled(ParticipantProfile):
    TYPE = "binome.enrollment.participant.enrolled.v1"
    KEY = "participant_id"


class ParticipantUpdated(ParticipantProfile):
    """A profile changed: the participant (or an admin) edited it or its answers, or the HRIS
    changed what it is derived from: the reporting line (theirs, or a manager's above them),
    the timezone, or a directory value the participant did not set themselves (level,
    department, languages)."""

    TYPE = "binome.enrollment.participant.updated.v1"
    KEY = "participant_id"


class ParticipantPending(EventData):
    """An enrolment in a programme that requires approval waits for an admin's decision
    (matching does not see the participant until ParticipantEnrolled)."""

    TYPE = "binome.enrollment.participant.pending.v1"
    KEY = "participant_id"
    participant_id: str
    program_id: str
    employee_id: str
    role: ParticipantRole


class ParticipantApproved(EventData):
    """An admin approved a pending enrolment (ParticipantEnrolled follows, for matching)."""

    TYPE = "binome.enrollment.participant.approved.v1"
    KEY = "participant_id"
    participant_id: str
    program_id: str
    employee_id: str
    role: ParticipantRole
    note: str | None = None


class RejectionReason(StrEnum):
    """Why an admin rejected an enrolment."""

    not_eligible = "not_eligible"  # outside who the programme is for
    programme_full = "programme_full"
    profile_incomplete = "profile_incomplete"
    not_a_fit = "not_a_fit"  # the programme is not what they need
    other = "other"


class ParticipantRejected(EventData, Reasoned):
    TYPE = "binome.enrollment.participant.rejected.v1"
    KEY = "participant_id"
    REASONS = RejectionReason
    participant_id: str
    program_id: str
    employee_id: str
    role: ParticipantRole
    reason: RejectionReason


class WithdrawalReason(StrEnum):
    """Why a participant left a programme."""

    left_company = "left_company"  # the HRIS terminated them
    no_time = "no_time"
    not_a_fit = "not_a_fit"  # the programme is not what they need
    personal = "personal"
    other = "other"


class ParticipantWithdrawn(EventData, Reasoned):
    TYPE = "binome.enrollment.participant.withdrawn.v1"
    KEY = "participant_id"
    REASONS = WithdrawalReason
    REASON_ALIASES = {"participant_left": WithdrawalReason.left_company}
    participant_id: str
    program_id: str
    employee_id: str
    role: ParticipantRole
    reason: WithdrawalReason
