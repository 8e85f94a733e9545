"""Reasons are categories a report counts by; what a person writes is a note beside them."""

from __future__ import annotations

from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort


async def test_a_withdrawal_reason_is_a_category_and_the_words_a_note(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    mentee = api.as_employee(cohort.mentee)
    participant = cohort.mentee_participant["id"]

    free_text = await api.c.post(
        f"/v1/participants/{participant}/withdraw", headers=mentee, json={"reason": "too busy"}
    )
    assert free_text.status_code == 422
    assert "no_time" in free_text.text  # the answer names the categories to choose from

    left = await api.ok(
        "POST",
        f"/v1/participants/{participant}/withdraw",
        headers=mentee,
        json={"reason": "no_time", "note": "too busy this quarter"},
    )
    assert (left["status"], left["withdrawn_reason"], left["withdrawn_note"]) == (
        "withdrawn",
        "no_time",
        "too busy this quarter",
    )

    async def match_ended() -> dict | None:
        found = await api.ok("GET", f"/v1/matches/{match['id']}")
        return found if found["status"] == "ended" else None

    ended = await eventually(match_ended, what="the match ending after the withdrawal")
    # Whatever the participant's reason, the match ended because they left.
    assert (ended["end_reason"], ended["end_note"]) == ("participant_left", None)

    async def reported() -> dict | None:
        r = await api.c.get(f"/v1/reports/programs/{cohort.program_id}", headers=api.admin)
        # 404 until reporting heard of the programme; then wait for the ended match.
        return r.json() if r.status_code == 200 and r.json()["matches_ended_by_reason"] else None

    report = await eventually(reported, what="the report counting the ended match")
    assert report["matches_ended_by_reason"] == {"participant_left": 1}


async def test_a_session_cancel_reason_is_a_category(api: Api) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    mentee = api.as_employee(cohort.mentee)

    async def planned() -> dict | None:
        r = await api.c.post(
            "/v1/sessions",
            headers=mentee,
            json={"match_id": match["id"], "scheduled_at": "2031-01-06T10:00:00Z"},
        )
        return r.json() if r.status_code == 201 else None

    session = await eventually(planned, what="sessions hearing of the active match")
    url = f"/v1/sessions/{session['id']}/cancel"
    system_only = await api.c.post(url, headers=mentee, json={"reason": "match_ended"})
    assert system_only.status_code == 422 and "match_ended" in system_only.text
    cancelled = await api.ok(
        "POST", url, headers=mentee, json={"reason": "unavailable", "note": "sick"}
    )
    assert (cancelled["cancel_reason"], cancelled["cancel_note"]) == ("unavailable", "sick")
