"""The contracts read what older producers wrote: free-text reasons become `other` + note."""

from __future__ import annotations

import pytest

from shared.contracts import enrollment, matching, sessions

MATCH = {
    "match_id": "m",
    "program_id": "p",
    "mentor_participant_id": "a",
    "mentee_participant_id": "b",
    "mentor_employee_id": "ea",
    "mentee_employee_id": "eb",
}
SESSION = {
    "session_id": "s",
    "match_id": "m",
    "program_id": "p",
    "mentor_employee_id": "ea",
    "mentee_employee_id": "eb",
    "scheduled_at": "2026-01-05T10:00:00Z",
}
WITHDRAWAL = {"participant_id": "x", "program_id": "p", "employee_id": "e", "role": "mentee"}


@pytest.mark.parametrize(
    ("contract", "facts", "legacy", "reason", "note"),
    [
        (enrollment.ParticipantWithdrawn, WITHDRAWAL, "too busy", "other", "too busy"),
        (enrollment.ParticipantWithdrawn, WITHDRAWAL, "participant_left", "left_company", None),
        (matching.MatchDeclined, MATCH, "no fit", "other", "no fit"),
        (matching.MatchEnded, MATCH, "low_satisfaction", "low_satisfaction", None),
        (matching.MatchEnded, MATCH, "moved on", "other", "moved on"),
        (sessions.SessionCancelled, SESSION, "sick", "other", "sick"),
    ],
)
def test_old_free_text_reasons_read_as_categories(contract, facts, legacy, reason, note) -> None:  # type: ignore[no-untyped-def]
    import json

    event = contract.model_validate_json(json.dumps({**facts, "reason": legacy}))
    assert (event.reason, event.note) == (reason, note)
    assert contract.model_validate(event.model_dump(mode="json")) == event  # round trip
