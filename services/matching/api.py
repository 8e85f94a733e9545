"""Matching's HTTP routes: thin shells over the use cases."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query, status

from services.matching import domain, usecases
from services.matching.models import (
    AcceptRequest,
    CirclePublic,
    DeclineRequest,
    EndRequest,
    MatchingRunCreate,
    MatchingRunPublic,
    MatchPublic,
    MentorRequestCreate,
    MentorRequestPublic,
    RunPairPublic,
    SuggestionPublic,
    SuggestionsPublic,
    WaitingPublic,
)
from services.matching.usecases import requests
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal, Principal
from shared.contracts.matching import MatchStatus, RequestStatus
from shared.paging import Page, Window, listing
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("matching")]

router = v1_router("matching")


def _public(match: object, principal: Principal) -> MatchPublic:
    """A match as this caller sees it: what a person wrote beside an end or decline reason
    (`end_note`) is for HR (admins); the parties see the reason's category, and never one
    that reveals the other side's ratings (see the domain's end_reason_for_party)."""
    public = MatchPublic.model_validate(match, from_attributes=True)
    if principal.is_admin:
        return public
    seen = domain.end_reason_for_party(public.end_reason)
    return public.model_copy(update={"end_note": None, "end_reason": seen})


def _run_public(run: object, circle_pairs: list | None) -> MatchingRunPublic:
    public = MatchingRunPublic.model_validate(run, from_attributes=True)
    if circle_pairs is not None:
        pairs = [RunPairPublic.model_validate(p, from_attributes=True) for p in circle_pairs]
        public.circles = _circles(pairs)
    return public


def _circles(pairs: list[RunPairPublic]) -> list[CirclePublic]:
    by_mentor: dict[str, list[RunPairPublic]] = {}
    for p in pairs:
        by_mentor.setdefault(p.mentor_participant_id, []).append(p)
    circles = []
    for mentor, members in sorted(by_mentor.items()):
        facts = [(m.explanation or {}).get("circle", {}) for m in members]
        circles.append(
            CirclePublic(
                mentor_participant_id=mentor,
                mentor_employee_id=members[0].mentor_employee_id,
                mentee_participant_ids=[m.mentee_participant_id for m in members],
                departments=max((f.get("departments", 0) for f in facts), default=0),
                shared_themes=round(
                    sum(f.get("shared_themes", 0.0) for f in facts) / len(members), 6
                ),
            )
        )
    return circles


@router.post(
    "/matching-runs",
    tags=["matching"],
    response_model=MatchingRunPublic,
    status_code=status.HTTP_201_CREATED,
)
async def run_matching(
    body: MatchingRunCreate, principal: CurrentPrincipal, uow: Uow
) -> MatchingRunPublic:
    """Solve the programme's unmatched mentees: most matched, then best total, proven optimal.

    The run is a draft (its `pairs`) for review, published with `POST .../publish`, unless the
    programme auto-publishes. It records its inputs' digest, policy, objective, certificate
    and solve time for audit.
    """
    run, circle_pairs = await usecases.run_matching(
        uow=uow, org=principal.org, program_id=body.program_id
    )
    return _run_public(run, circle_pairs)


@router.post("/matching-runs/{run_id}/publish", tags=["matching"], response_model=MatchingRunPublic)
async def publish_run(run_id: str, principal: CurrentPrincipal, uow: Uow) -> MatchingRunPublic:
    """The draft's pairs become proposed matches (409 if anything changed since the draft)."""
    run, circle_pairs = await usecases.publish_run(uow=uow, org=principal.org, run_id=run_id)
    return _run_public(run, circle_pairs)


@router.get("/matching-runs/{run_id}", tags=["matching"], response_model=MatchingRunPublic)
async def get_run(run_id: str, principal: CurrentPrincipal, uow: Uow) -> MatchingRunPublic:
    run, circle_pairs = await usecases.get_run(uow=uow, org=principal.org, run_id=run_id)
    return _run_public(run, circle_pairs)


@router.get(
    "/matching-runs/{run_id}/pairs", tags=["matching"], response_model=listing(RunPairPublic)
)
async def run_pairs(run_id: str, principal: CurrentPrincipal, uow: Uow, page: Page) -> object:
    """The run's pairs, a page at a time, in the order of the mentees' participant ids; each
    with its score and why (per criterion, the mentee's favourite mentor and the next best)."""
    return await usecases.run_pairs(uow=uow, org=principal.org, run_id=run_id, page=page)


@router.get("/suggestions", tags=["matching"], response_model=SuggestionsPublic)
async def suggestions(
    participant_id: Annotated[str, Query(max_length=36)],
    principal: CurrentPrincipal,
    uow: Uow,
    limit: Annotated[int, Query(ge=1, le=50)] = 5,
) -> SuggestionsPublic:
    """Self-service: a mentee's best mentors that still have room, with why (per criterion).
    `participant_id` names a mentee: a mentor's participant id is refused (422)."""
    got = await usecases.suggest(
        uow=uow, principal=principal, participant_id=participant_id, limit=limit
    )
    return SuggestionsPublic(
        participant_id=got.mentee.id,
        none_because=got.none_because,
        waiting=got.waiting,
        suggestions=[
            SuggestionPublic(
                mentor_participant_id=s.mentor.participant_id,
                mentor_employee_id=s.mentor.employee_id,
                score=s.score,
                contributions=s.contributions,
                remaining_capacity=s.room,
            )
            for s in got.found
        ],
    )


@router.get("/matches", tags=["matches"], response_model=listing(MatchPublic))
async def list_matches(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    status: MatchStatus | None = None,
    participant_id: Annotated[str | None, Query(max_length=36)] = None,
    run_id: Annotated[str | None, Query(max_length=36)] = None,
) -> object:
    """Matches the caller may see (admins: the organisation's), oldest first; filters: a
    programme, a status, a participant (either side), the run that proposed them."""
    found = await usecases.list_matches(
        uow=uow,
        principal=principal,
        page=page,
        program_id=program_id,
        status=status,
        participant_id=participant_id,
        run_id=run_id,
    )
    return found.map(lambda m: _public(m, principal))


@router.get("/matches/{match_id}", tags=["matches"], response_model=MatchPublic)
async def get_match(match_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    return _public(
        await usecases.get_match(uow=uow, principal=principal, match_id=match_id), principal
    )


@router.post("/matches/{match_id}/accept", tags=["matches"], response_model=MatchPublic)
async def accept(
    match_id: str, body: AcceptRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    """Accept for your side; the match becomes active once mentor and mentee both accepted.
    The body may be `{}` (every field has its default)."""
    match = await usecases.accept(uow=uow, principal=principal, match_id=match_id, side=body.side)
    return _public(match, principal)


@router.post("/matches/{match_id}/decline", tags=["matches"], response_model=MatchPublic)
async def decline(
    match_id: str, body: DeclineRequest, principal: CurrentPrincipal, uow: Uow
) -> object:
    match = await usecases.decline(
        uow=uow, principal=principal, match_id=match_id, reason=body.reason, note=body.note
    )
    return _public(match, principal)


@router.post("/matches/{match_id}/complete", tags=["matches"], response_model=MatchPublic)
async def complete_match(match_id: str, principal: CurrentPrincipal, uow: Uow) -> object:
    """A party says the relationship reached its natural end; once both have, it ends as
    `completed` (as it does at its planned end, from the programme's dates)."""
    match = await usecases.complete(uow=uow, principal=principal, match_id=match_id)
    return _public(match, principal)


@router.post("/matches/{match_id}/end", tags=["matches"], response_model=MatchPublic)
async def end(match_id: str, body: EndRequest, principal: CurrentPrincipal, uow: Uow) -> object:
    match = await usecases.end(
        uow=uow, principal=principal, match_id=match_id, reason=body.reason, note=body.note
    )
    return _public(match, principal)


@router.get("/waiting-list", tags=["matches"], response_model=listing(WaitingPublic))
async def waiting_list(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
) -> object:
    """Mentees whose match ended (or was declined) and who wait for a mentor with room, the
    longest waiting first; each is proposed a mentor as soon as one has room."""
    return await usecases.waiting_list(uow=uow, org=principal.org, program_id=program_id, page=page)


# --- self-service requests ------------------------------------------------------------------


def _request_public(row: object, principal: Principal) -> MentorRequestPublic:
    """A request as this caller sees it: the mentor's decline note is theirs and admins'."""
    out = MentorRequestPublic.model_validate(row, from_attributes=True)
    if not principal.is_admin and principal.employee_id != out.mentor_employee_id:
        out.decline_note = None
    return out


@router.post(
    "/mentor-requests",
    tags=["requests"],
    response_model=MentorRequestPublic,
    status_code=status.HTTP_201_CREATED,
)
async def send_request(
    body: MentorRequestCreate, principal: CurrentPrincipal, uow: Uow
) -> MentorRequestPublic:
    """A mentee asks a mentor (one their programme's rules allow, with a place left), with a
    message and, optionally, who to ask next should this one decline or not answer in time.
    The request holds a place with the mentor until it is answered, expires or is withdrawn."""
    row = await requests.send(
        uow=uow,
        principal=principal,
        mentee_participant_id=body.mentee_participant_id,
        mentor_participant_id=body.mentor_participant_id,
        next_choices=body.next_choices,
        message=body.message,
    )
    return _request_public(row, principal)


@router.get("/mentor-requests", tags=["requests"], response_model=listing(MentorRequestPublic))
async def list_requests(
    principal: CurrentPrincipal,
    uow: Uow,
    page: Page,
    program_id: Annotated[str | None, Query(max_length=36)] = None,
    status: RequestStatus | None = None,
) -> Window[MentorRequestPublic]:
    """Requests the caller made or received (admins: all of the organisation's)."""
    rows = await requests.listing(
        uow=uow, principal=principal, page=page, program_id=program_id, status=status
    )
    return rows.map(lambda r: _request_public(r, principal))


@router.get("/mentor-requests/{request_id}", tags=["requests"], response_model=MentorRequestPublic)
async def get_request(
    request_id: str, principal: CurrentPrincipal, uow: Uow
) -> MentorRequestPublic:
    row = await requests.get(uow=uow, principal=principal, request_id=request_id)
    return _request_public(row, principal)


@router.post(
    "/mentor-requests/{request_id}/accept", tags=["requests"], response_model=MentorRequestPublic
)
async def accept_request(
    request_id: str, principal: CurrentPrincipal, uow: Uow
) -> MentorRequestPublic:
    """The mentor accepts: the match is active at once; the mentee's other requests end."""
    row = await requests.accept(uow=uow, principal=principal, request_id=request_id)
    return _request_public(row, principal)


@router.post(
    "/mentor-requests/{request_id}/decline", tags=["requests"], response_model=MentorRequestPublic
)
async def decline_request(
    request_id: str, body: DeclineRequest, principal: CurrentPrincipal, uow: Uow
) -> MentorRequestPublic:
    """The mentor declines (a reason category and a note): the request passes to the mentee's
    next choice, if the programme cascades and one is possible."""
    row = await requests.decline(
        uow=uow, principal=principal, request_id=request_id, reason=body.reason, note=body.note
    )
    return _request_public(row, principal)


@router.post(
    "/mentor-requests/{request_id}/withdraw",
    tags=["requests"],
    response_model=MentorRequestPublic,
)
async def withdraw_request(
    request_id: str, principal: CurrentPrincipal, uow: Uow
) -> MentorRequestPublic:
    """The mentee takes their request back (no cascade)."""
    row = await requests.withdraw(uow=uow, principal=principal, request_id=request_id)
    return _request_public(row, principal)
