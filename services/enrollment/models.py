"""Enrollment's tables and API schemas (SQLModel families: Base -> table / Create / Public)."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    Discriminator,
    Tag,
    field_validator,
    model_validator,
)
from pydantic import Field as PydanticField
from sqlalchemy import JSON, Index, String, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field

from services.enrollment.domain import (
    Answer,
    Eligibility,
    EmployeeStatus,
    HrisProfileEventType,
    HrisStatusEventType,
    ParticipantStatus,
    Question,
    check_questionnaire,
    known_timezone,
)
from shared.api import STRICT, Instant, Request, new_id, patch_model, utcnow
from shared.contracts.enrollment import (
    HARD_FILTER_WEIGHT,
    MATCHING_CRITERIA,
    AgendaTemplate,
    EngagementPolicy,
    MatchingPolicy,
    Objectives,
    ParticipantRole,
    ProgramCalendar,
    ProgramFormat,
    ProgramRules,
    ProgramStatus,
    RejectionReason,
    RequestPolicy,
    SeniorityRule,
    SentTags,
    TrainingItem,
    WithdrawalReason,
    legacy_rating_rule,
)
from shared.contracts.enrollment import (
    PROGRAM_DEFAULTS as RULES,
)
from shared.contracts.reasons import NOTE_MAX
from shared.db import PydanticJSON
from shared.messaging.tables import messaging_tables
from shared.revocations import revocation_table
from shared.table_model import TableModel
from shared.timers import timer_table


class Base(TableModel, registry=registry()):
    """Enrollment's own metadata: its migrations hold its tables only (see shared.db)."""


OUTBOX, INBOX = messaging_tables(Base.metadata)
TIMERS = timer_table(Base.metadata)
REVOKED = revocation_table(Base.metadata)  # employees whose tokens are refused


Likert = Annotated[int, PydanticField(ge=1, le=5)]
Slot = Annotated[int, PydanticField(ge=0, le=41)]
Weight = Annotated[int, PydanticField(ge=0, le=HARD_FILTER_WEIGHT)]
Slots = Annotated[list[Slot], AfterValidator(lambda slots: sorted(set(slots)))]
# Answers keyed by question id, or (programmes without a questionnaire) a list of 1-5; the
# shape sent picks the branch, so an error names the answer at fault, not the other branch.
Answers = Annotated[
    Annotated[dict[str, Answer], Tag("keyed"), PydanticField(max_length=40)]
    | Annotated[list[Likert], Tag("list"), PydanticField(max_length=20)],
    Discriminator(lambda v: "list" if isinstance(v, list) else "keyed"),
]


# --- employees ------------------------------------------------------------------------------


class EmployeeBase(Base):
    email: str | None = Field(default=None, max_length=320)
    name: str = Field(min_length=1, max_length=200)
    department: str | None = Field(default=None, max_length=200)
    level: int | None = Field(default=None, ge=0, le=20)
    manager_id: str | None = Field(default=None, max_length=100)
    languages: SentTags = Field(default_factory=list, sa_type=JSON)
    timezone: str | None = Field(default=None, max_length=64)
    location: str | None = Field(default=None, max_length=200)
    hired_on: date | None = None  # tenure, for programmes' eligibility rules


class Employee(EmployeeBase, table=True):
    __table_args__ = (
        # A SCIM userName is the organisation's one (compared without case, RFC 7643 §4.1.1).
        Index("ux_employee_user_name", "org", "user_name_key", unique=True),
        Index("ix_employee_login", "org", "login_key"),
        Index("ix_employee_external", "org", "external_id"),
    )
    org: str = Field(primary_key=True, max_length=100)
    id: str = Field(primary_key=True, max_length=100)
    status: EmployeeStatus = Field(default=EmployeeStatus.active, sa_type=String(20))
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    # What SCIM provisioning adds to the directory's record (services/enrollment/scim): the
    # identity provider's userName and externalId, the attributes it sent that the directory
    # does not hold (kept as sent, so that it reads back what it wrote), and when it deleted
    # the user (the employee stays, terminated, out of SCIM's sight).
    user_name: str | None = Field(default=None, max_length=300)
    user_name_key: str | None = Field(default=None, max_length=300)
    # The name SCIM filters on: the userName, else the email, else the id, case-folded.
    login_key: str = Field(default="", max_length=320)
    external_id: str | None = Field(default=None, max_length=300)
    scim: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    deprovisioned_at: datetime | None = None

    @property
    def employee_id(self) -> str:  # as the contracts name it
        return self.id

    @property
    def active(self) -> bool:  # SCIM's `active`: on leave is still active
        return self.status != EmployeeStatus.terminated


class EmployeeIn(EmployeeBase):
    model_config = STRICT
    id: str = Field(min_length=1, max_length=100)

    _timezone = field_validator("timezone")(known_timezone)


class EmployeePublic(EmployeeBase):
    id: str
    status: EmployeeStatus
    updated_at: datetime


class HrisEventRecord(Base, table=True):
    """HRIS event ids already applied: a re-sent batch has no second effect."""

    __tablename__ = "hris_event"
    org: str = Field(primary_key=True, max_length=100)
    event_id: str = Field(primary_key=True, max_length=200)
    type: str = Field(max_length=20)
    received_at: datetime = Field(default_factory=utcnow)
    # Whom it was about (deleted with them on erasure); null for receipts kept from before.
    employee_id: str | None = Field(default=None, max_length=100)


class Erasure(Base, table=True):
    """An employee's erasure, as requested: once enrollment has erased them (it hears its own
    `employee.erased` like every service), `employee_id` holds the pseudonym too."""

    __tablename__ = "erasure"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    employee_id: str = Field(index=True, max_length=100)
    pseudonym: str = Field(max_length=50)
    requested_at: datetime


class ErasurePublic(BaseModel):
    id: str
    pseudonym: str
    requested_at: datetime


class _HrisEvent(Request):
    event_id: str = Field(min_length=1, max_length=200)
    occurred_at: Instant | None = None


class HrisProfileEvent(_HrisEvent):
    """`hired` or `updated`: the employee's record, whole."""

    type: HrisProfileEventType
    employee: EmployeeIn

    @property
    def subject_id(self) -> str:
        return self.employee.id


class HrisStatusEvent(_HrisEvent):
    """`terminated`, `leave` or `returned`: the employee, by id."""

    type: HrisStatusEventType
    employee_id: str = Field(min_length=1, max_length=100)

    @property
    def subject_id(self) -> str:
        return self.employee_id


# One HRIS event, told apart by its `type` (the schema says which fields each needs).
HrisEventIn = Annotated[HrisProfileEvent | HrisStatusEvent, PydanticField(discriminator="type")]


class HrisBatch(Request):
    events: list[HrisEventIn] = Field(min_length=1, max_length=10_000)


class HrisEventResult(BaseModel):
    event_id: str
    status: Literal["applied", "duplicate"]


class HrisBatchResult(BaseModel):
    results: list[HrisEventResult]


class ImportedLine(BaseModel):
    line: int
    employee_id: str
    status: Literal["applied", "duplicate"]


class CsvLineRefused(BaseModel):
    line: int  # 0: the header
    field: str | None
    detail: str


class EmployeeImportResult(BaseModel):
    imported: list[ImportedLine]
    refused: list[CsvLineRefused]


# --- programmes -----------------------------------------------------------------------------


class ProgramBase(Base):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = Field(default=None, max_length=4000)
    # The programme's rules (defaults and meaning: shared.contracts.enrollment.ProgramRules).
    format: ProgramFormat = Field(default=RULES.format, sa_type=String(20))
    auto_publish: bool = RULES.auto_publish
    # How matching weighs its criteria, 0 to 10 each (10 makes one a hard filter): skills,
    # themes, similarity, seniority, department, timezone, availability, volunteer.
    weights: dict[str, Weight] = Field(
        default_factory=dict,
        sa_type=JSON,
        schema_extra={"json_schema_extra": {"propertyNames": {"enum": list(MATCHING_CRITERIA)}}},
    )
    max_timezone_gap_h: int = Field(default=RULES.max_timezone_gap_h, ge=0, le=24)
    min_score: float = Field(default=RULES.min_score, ge=0, le=1)
    cross_department: bool = RULES.cross_department
    matching_policy: MatchingPolicy = Field(default=RULES.matching_policy, sa_type=String(20))
    seniority_rule: SeniorityRule = Field(default=RULES.seniority_rule, sa_type=String(20))
    engagement: EngagementPolicy = Field(
        default_factory=EngagementPolicy, sa_type=PydanticJSON(EngagementPolicy)
    )
    # Session agendas by rank (session 1 covers these topics...), editable by each pair.
    agenda_templates: list[AgendaTemplate] = Field(
        default_factory=list, max_length=100, sa_type=PydanticJSON(list[AgendaTemplate])
    )
    # Self-service requests (off unless enabled): expiry, cap per mentee, cascade.
    requests: RequestPolicy = Field(
        default_factory=RequestPolicy, sa_type=PydanticJSON(RequestPolicy)
    )
    # The training catalogue corrective cases assign from.
    training: list[TrainingItem] = Field(
        default_factory=list, max_length=100, sa_type=PydanticJSON(list[TrainingItem])
    )
    # The needs analysis: the business goal and the target skills (the skills' vocabulary).
    objectives: Objectives = Field(default_factory=Objectives, sa_type=PydanticJSON(Objectives))
    # Dates (meaning and order: shared.contracts.enrollment.ProgramCalendar).
    enrolment_opens: date | None = None
    enrolment_closes: date | None = None
    starts_on: date | None = None
    ends_on: date | None = None
    relationship_duration: timedelta | None = None  # > 0: ProgramCalendar checks it
    # Who may enrol in each role (judged on the HRIS directory), and whether an admin approves
    # each enrolment first.
    eligibility: Eligibility = Field(default_factory=Eligibility, sa_type=PydanticJSON(Eligibility))
    requires_approval: bool = False
    # The enrolment questionnaire (fixed once enrolment opens: answers refer to it).
    questions: list[Question] = Field(
        default_factory=list, max_length=40, sa_type=PydanticJSON(list[Question])
    )


class Program(ProgramBase, table=True):
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    status: ProgramStatus = Field(default=ProgramStatus.draft, sa_type=String(20), index=True)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def program_id(self) -> str:  # as the contracts name it
        return self.id


class ProgramCreate(ProgramBase):
    model_config = STRICT

    _legacy = model_validator(mode="before")(legacy_rating_rule)

    @field_validator("training")
    @classmethod
    def _unique_training(cls, items: list[TrainingItem]) -> list[TrainingItem]:
        return ProgramRules._unique_training(items)

    @field_validator("agenda_templates")
    @classmethod
    def _one_per_session(cls, items: list[AgendaTemplate]) -> list[AgendaTemplate]:
        return ProgramRules._one_per_session(items)

    _questionnaire = field_validator("questions")(check_questionnaire)

    @model_validator(mode="after")
    def _dates_in_order(self) -> ProgramCreate:
        ProgramCalendar.model_validate(self.model_dump(include=set(ProgramCalendar.model_fields)))
        return self

    @field_validator("weights")
    @classmethod
    def _known_criteria(cls, weights: dict[str, int]) -> dict[str, int]:
        unknown = sorted(set(weights) - set(MATCHING_CRITERIA))
        if unknown:
            raise ValueError(f"unknown criteria {unknown}; known: {list(MATCHING_CRITERIA)}")
        if weights and not any(weights.get(c, 1) for c in MATCHING_CRITERIA):
            raise ValueError("at least one criterion needs a weight")
        return weights


# PATCH /v1/programs/{id}: any of the programme's settings but its format (its matches were
# made for it), the engagement policy field by field; validated merged, as ProgramCreate.
EngagementPatch = patch_model(EngagementPolicy, name="EngagementPatch")
RequestsPatch = patch_model(RequestPolicy, name="RequestsPatch")
ProgramUpdate = patch_model(
    ProgramCreate,
    name="ProgramUpdate",
    exclude=frozenset({"format"}),
    partial={"engagement": EngagementPatch, "requests": RequestsPatch},
)


class ProgramPublic(ProgramBase):
    id: str
    status: ProgramStatus
    created_at: datetime


class ProgramStatusChange(Request):
    """A step of the programme's lifecycle (draft -> enrolling -> running -> closed)."""

    status: ProgramStatus
    note: str | None = Field(default=None, max_length=NOTE_MAX)


# --- participants ---------------------------------------------------------------------------


class ParticipantBase(Base):
    program_id: str = Field(max_length=36, index=True)
    employee_id: str = Field(max_length=100)
    role: ParticipantRole = Field(sa_type=String(10))
    skills_offered: SentTags = Field(default_factory=list, sa_type=JSON)
    skills_sought: SentTags = Field(default_factory=list, sa_type=JSON)
    themes: SentTags = Field(default_factory=list, sa_type=JSON)  # goals and themes
    # Answers to the programme's questionnaire keyed by question id; a programme without one
    # takes a list of 1 (disagree) to 5 (agree) on values and working style.
    answers: Answers = Field(default_factory=dict, sa_type=JSON)
    # Weekly availability in four-hour slots: 0 is Monday 00-04 UTC, 41 Sunday 20-24.
    availability: Slots = Field(default_factory=list, max_length=42, sa_type=JSON)
    # Volunteers are matched first; HR may also nominate people.
    volunteer: bool = True


class Participant(ParticipantBase, table=True):
    __table_args__ = (UniqueConstraint("program_id", "employee_id", "role"),)
    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    languages: list[str] = Field(default_factory=list, sa_type=JSON)
    level: int | None = None
    department: str | None = Field(default=None, max_length=200)
    capacity: int = 1
    tz_offset_h: int | None = None
    manager_chain: list[str] = Field(default_factory=list, sa_type=JSON)
    status: ParticipantStatus = Field(default=ParticipantStatus.active, sa_type=String(20))
    withdrawn_reason: WithdrawalReason | None = Field(default=None, sa_type=String(200))
    withdrawn_note: str | None = Field(default=None, max_length=NOTE_MAX)
    rejected_reason: RejectionReason | None = Field(default=None, sa_type=String(30))
    decision_note: str | None = Field(default=None, max_length=NOTE_MAX)  # approval, rejection
    # An admin's reason for a profile that departs from the directory (or for enrolling
    # someone outside the eligibility rules).
    override_note: str | None = Field(default=None, max_length=NOTE_MAX)
    # What matching takes from the answers (services.enrollment.domain.score_answers).
    similarity: list[int] = Field(default_factory=list, sa_type=JSON)
    answer_themes: list[str] = Field(default_factory=list, sa_type=JSON)
    created_at: datetime = Field(default_factory=utcnow)

    @property
    def participant_id(self) -> str:  # as the contracts name it
        return self.id


class ParticipantCreate(ParticipantBase):
    model_config = STRICT
    # Default to the employee directory's values when not given.
    languages: SentTags | None = None
    level: int | None = Field(default=None, ge=0, le=20)
    department: str | None = Field(default=None, max_length=200)
    capacity: int | None = Field(default=None, ge=1, le=50, description="mentors only")
    override_note: str | None = Field(
        default=None,
        min_length=1,
        max_length=NOTE_MAX,
        description="admins: why this profile departs from the directory or the eligibility",
    )


# PATCH /v1/participants/{id}: the participant's own profile and answers (not the programme,
# the employee or the role), validated merged as an enrolment.
ParticipantUpdate = patch_model(
    ParticipantCreate,
    name="ParticipantUpdate",
    exclude=frozenset({"program_id", "employee_id", "role"}),
)


class ParticipantPublic(ParticipantBase):
    id: str
    tz_offset_h: int | None
    manager_chain: list[str]
    languages: list[str]
    level: int | None
    department: str | None
    capacity: int
    status: ParticipantStatus
    withdrawn_reason: WithdrawalReason | None
    withdrawn_note: str | None
    rejected_reason: RejectionReason | None
    decision_note: str | None
    override_note: str | None
    created_at: datetime


class EnrolmentBatch(Request):
    """A cohort enrolled in one call (admins): each line an enrolment as `POST /v1/participants`
    takes it, judged on its own."""

    participants: list[ParticipantCreate] = Field(min_length=1, max_length=1_000)
    # all_or_nothing: one line refused refuses the batch (422 naming each line at fault),
    # nothing is enrolled; per_line: the lines that pass are enrolled, the others reported.
    mode: Literal["all_or_nothing", "per_line"] = "all_or_nothing"


class LineRefused(BaseModel):
    index: int  # the line's place in `participants`, from 0
    status: int  # what `POST /v1/participants` would have answered for it alone
    detail: str
    field: str | None  # the line's field at fault, if one is


class EnrolmentBatchResult(BaseModel):
    enrolled: list[ParticipantPublic]
    refused: list[LineRefused]


class CsvEnrolmentRefused(CsvLineRefused):
    status: int  # what `POST /v1/participants` would have answered for the line alone


class ParticipantImportResult(BaseModel):
    enrolled: list[ParticipantPublic]
    refused: list[CsvEnrolmentRefused]


class ApproveRequest(Request):
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class RejectRequest(Request):
    reason: RejectionReason
    note: str | None = Field(default=None, max_length=NOTE_MAX)


class WithdrawRequest(Request):
    reason: WithdrawalReason = WithdrawalReason.other
    note: str | None = Field(default=None, max_length=NOTE_MAX)
