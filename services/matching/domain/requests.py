"""Self-service requests, pure: a mentee asks a mentor directly; the mentor accepts or declines;
unanswered, it expires; declined or expired, it may pass to the mentee's next choice.

    open --accept--> accepted (a match, active at once: both sides asked for it)
    open --decline--> declined   --(cascade)--> a new open request to the next choice
    open --expire--> expired     --(cascade)--> idem
    open --withdraw--> withdrawn (the mentee took it back, got a mentor, left; or the
                                  programme closed)

An open request holds a place with its mentor: a mentor's places are their capacity less their
open matches and open requests (the use case counts them under the mentor's row lock).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from shared.contracts import matching as ev
from shared.contracts.enrollment import RequestPolicy
from shared.contracts.matching import RequestStatus
from shared.domain import Transition
from shared.errors import Conflict, Forbidden, Invalid


@dataclass(frozen=True)
class RequestState:
    """A request as its rules see it (the row's fields of the same names)."""

    id: str
    program_id: str
    chain_id: str
    mentee_participant_id: str
    mentee_employee_id: str
    mentor_participant_id: str
    mentor_employee_id: str
    status: RequestStatus
    choices: list[str]  # the mentee's next choices (mentor participant ids), in order
    expires_at: datetime

    def __post_init__(self) -> None:  # a row read back from the database holds a plain str
        object.__setattr__(self, "status", RequestStatus(self.status))


def _facts(r: RequestState) -> dict[str, Any]:
    return {
        "request_id": r.id,
        "program_id": r.program_id,
        "chain_id": r.chain_id,
        "mentee_participant_id": r.mentee_participant_id,
        "mentee_employee_id": r.mentee_employee_id,
        "mentor_participant_id": r.mentor_participant_id,
        "mentor_employee_id": r.mentor_employee_id,
    }


@dataclass(frozen=True, kw_only=True)
class Asking:
    """What decides whether a mentee may ask a mentor now (the use case gathers it)."""

    policy: RequestPolicy
    open_requests: int  # the mentee's open requests in the programme
    has_mentor: bool  # the mentee has an open match (proposed or active)
    asked_before: bool  # the mentee already asked this mentor, or was matched with them
    allowed: bool  # the programme's hard rules allow the pair
    places: int  # the mentor's capacity less their open matches and open requests


def refusal(a: Asking) -> tuple[type[Exception], str] | None:
    """Why this request cannot be made (the error's kind and message), or None."""
    if not a.policy.enabled:
        return Conflict, "this programme does not take self-service requests"
    if a.has_mentor:
        return Conflict, "the mentee already has a mentor in this programme"
    if a.open_requests >= a.policy.max_open:
        return Conflict, f"at most {a.policy.max_open} open requests at once: wait for an answer"
    if a.asked_before:
        return Conflict, "the mentee already asked this mentor"
    if not a.allowed:
        return Invalid, "this mentor is not one the programme's rules allow for this mentee"
    if a.places <= 0:
        return Conflict, "this mentor has no place left"
    return None


def check_asking(a: Asking) -> None:
    found = refusal(a)
    if found is not None:
        kind, message = found
        raise kind(message, field="mentor_participant_id")  # type: ignore[call-arg]


def sent(r: RequestState, *, message: str | None, cascaded_from: str | None) -> ev.MentorRequested:
    return ev.MentorRequested(
        **_facts(r), message=message, expires_at=r.expires_at, cascaded_from=cascaded_from
    )


def _open(r: RequestState, doing: str) -> None:
    if r.status is not RequestStatus.open:
        raise Conflict(f"cannot {doing} a request that is {r.status.value}")


def ensure_mentor_or_admin(r: RequestState, *, is_admin: bool, employee_id: str | None) -> None:
    if not is_admin and employee_id != r.mentor_employee_id:
        raise Forbidden("only the mentor asked (or an admin) answers a request")


def ensure_mentee_or_admin(r: RequestState, *, is_admin: bool, employee_id: str | None) -> None:
    if not is_admin and employee_id != r.mentee_employee_id:
        raise Forbidden("only the mentee who asked (or an admin) withdraws a request")


def accept(r: RequestState, *, match_id: str) -> Transition[RequestState]:
    _open(r, "accept")
    new = replace(r, status=RequestStatus.accepted)
    return Transition(new, [ev.MentorRequestAccepted(**_facts(new), match_id=match_id)])


def decline(
    r: RequestState, *, reason: ev.DeclineReason, note: str | None
) -> Transition[RequestState]:
    _open(r, "decline")
    new = replace(r, status=RequestStatus.declined)
    return Transition(new, [ev.MentorRequestDeclined(**_facts(new), reason=reason, note=note)])


def expire(r: RequestState, *, now: datetime) -> Transition[RequestState]:
    """An open request past its time expires (anything else: unchanged, e.g. a timer firing
    after the mentor answered)."""
    if r.status is not RequestStatus.open or now < r.expires_at:
        return Transition(r)
    new = replace(r, status=RequestStatus.expired)
    return Transition(new, [ev.MentorRequestExpired(**_facts(new))])


def withdraw(r: RequestState, *, because: ev.WithdrawnBecause) -> Transition[RequestState]:
    _open(r, "withdraw")
    new = replace(r, status=RequestStatus.withdrawn)
    return Transition(new, [ev.MentorRequestWithdrawn(**_facts(new), because=because)])


def cascades(r: RequestState, policy: RequestPolicy) -> bool:
    """Whether a declined or expired request passes to the mentee's next choice."""
    return policy.cascade and r.status in (RequestStatus.declined, RequestStatus.expired)
