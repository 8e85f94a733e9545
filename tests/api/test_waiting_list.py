"""A mentee left without a mentor waits, visibly, and is proposed one as soon as one has room
(here: a new mentor enrols), instead of silently staying unmatched."""

from __future__ import annotations

from typing import Any

from services.cli import in_flight
from shared.contracts import matching
from tests.helpers import Api, eventually
from tests.helpers.scenario import enrolled_cohort, proposed_match
from tests.testkit import record_of


async def test_a_mentee_without_a_mentor_waits_until_one_has_room(api: Api) -> None:
    cohort = await enrolled_cohort(api)  # two mentors, one mentee
    mentee = api.as_employee(cohort.mentee)
    first = await proposed_match(api, cohort)
    await api.ok("POST", f"/v1/matches/{first['id']}/decline", headers=mentee, json={})
    (second,) = await api.matches(program_id=cohort.program_id, status="proposed")
    assert second["replaces_match_id"] == first["id"]
    # Declined again: no mentor left that this mentee has not already declined.
    await api.ok("POST", f"/v1/matches/{second['id']}/decline", headers=mentee, json={})
    assert await api.matches(program_id=cohort.program_id, status="proposed") == []
    (waiting,) = await api.items("/v1/waiting-list", params={"program_id": cohort.program_id})
    assert (waiting["participant_id"], waiting["ended_match_id"]) == (
        cohort.mentee_participant["id"],
        second["id"],
    )
    hidden = await api.c.get("/v1/waiting-list", headers=mentee)
    assert hidden.status_code == 403  # admins only
    # Her suggestions say so: both mentors have room, but she declined each.
    why = await api.ok(
        "GET", "/v1/suggestions", params={"participant_id": cohort.mentee_participant["id"]}
    )
    assert (why["suggestions"], why["none_because"], why["waiting"]) == ([], "none_allowed", True)

    carl = f"carl-{cohort.program_id[:6]}"
    await api.hire({"id": carl, "name": "Carl", "level": 9, "languages": ["fr"]}, prefix="c")
    await api.enrol(cohort.program_id, carl, "mentor", skills_offered=["python"])

    async def proposed() -> dict[str, Any] | None:
        found = await api.matches(program_id=cohort.program_id, status="proposed")
        return found[0] if found else None

    third = await eventually(proposed, what="a proposal once a mentor has room")
    assert third["mentor_employee_id"] == carl
    assert third["replaces_match_id"] == second["id"]
    assert await api.items("/v1/waiting-list", params={"program_id": cohort.program_id}) == []


async def test_a_wait_heard_after_the_proposal_that_ended_it_leaves_the_mentee_off(
    api: Api, app: Any
) -> None:
    """Reporting's waiting list: `MenteeWaiting` is keyed by the mentee and `MatchProposed` by
    its match, so they travel in different partitions and a lagging consumer may apply the
    proposal that ended the wait first. The older wait must not put the mentee back."""
    pid = (await api.program({"name": "Order"}))["id"]
    mentee = {"participant_id": "p-fay", "program_id": pid, "employee_id": "fay"}
    waited = record_of(matching.MenteeWaiting(**mentee, ended_match_id="m-1"))  # first
    proposed = record_of(
        matching.MatchProposed(
            match_id="m-2", program_id=pid, mentee_participant_id="p-fay",
            mentee_employee_id="fay", mentor_participant_id="p-max", mentor_employee_id="max",
            score=0.5, run_id=None, replaces_match_id="m-1",
        )
    )  # fmt: skip
    path = f"/v1/reports/programs/{pid}/kpis"

    async def settled() -> bool:
        return in_flight((await api.c.get("/status")).json()) is None

    await app.state.bus.publish([proposed])  # the proposal is applied first...
    await eventually(settled, what="reporting applying the proposal")
    await app.state.bus.publish([waited])  # ...then the wait it ended
    await eventually(settled, what="reporting applying the wait")
    waiting = await _kpi(api, path, "waiting_list")
    assert waiting is not None and waiting["population"] == 0, waiting
    # A wait that comes after the proposal (its match declined since) does count.
    later = record_of(matching.MenteeWaiting(**mentee, ended_match_id="m-2"))
    declined = record_of(
        matching.MatchDeclined(
            match_id="m-2", program_id=pid, mentee_participant_id="p-fay",
            mentee_employee_id="fay", mentor_participant_id="p-max", mentor_employee_id="max",
            reason="not_a_fit",
        )
    )  # fmt: skip
    await app.state.bus.publish([declined, later])
    assert (await eventually(lambda: _population(api, path), what="the wait counted")) == 1


async def _kpi(api: Api, path: str, name: str) -> dict[str, Any] | None:
    """One KPI of the programme's report (None until reporting knows the programme)."""
    r = await api.c.get(path, headers=api.admin)
    if r.status_code == 404:
        return None
    assert r.status_code == 200, r.text
    return next(k for k in r.json()["kpis"] if k["name"] == name)


async def _population(api: Api, path: str) -> int | None:
    waiting = await _kpi(api, path, "waiting_list")
    return (waiting or {}).get("population") or None


async def test_with_every_mentor_full_the_departed_mentors_mentees_join_the_list(
    api: Api,
) -> None:
    """No mentor has room: a departing mentor's mentee waits beside those already waiting
    (who keep their place), and says so in the suggestions; a mentor who enrols with room
    is proposed to all of them together."""
    people = [
        {"id": f"{who}-full", "name": who.title(), "level": level, "languages": ["fr"]}
        for who, level in (("boss", 9), ("ana", 9), ("carl", 9), ("mia", 1), ("noe", 1))
    ]
    await api.hire(*people, prefix="full")
    pid = (await api.program({"name": "Full", "auto_publish": True}))["id"]
    for mentor in ("boss-full", "ana-full"):
        await api.enrol(pid, mentor, "mentor", skills_offered=["python"], capacity=1)
    mia = await api.enrol(pid, "mia-full", "mentee", skills_sought=["python"])
    noe = await api.enrol(pid, "noe-full", "mentee", skills_sought=["python"])

    async def suggested(mentee: dict[str, Any]) -> dict[str, Any] | None:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": mentee["id"]}, headers=api.admin
        )
        return r.json() if r.status_code == 200 else None

    async def knows_all() -> bool:
        seen = [await suggested(m) for m in (mia, noe)]
        return all(s is not None and len(s["suggestions"]) == 2 for s in seen)

    await eventually(knows_all, what="matching hearing of the whole cohort")
    run = await api.ok("POST", "/v1/matching-runs", expect=201, json={"program_id": pid})
    assert run["matched"] == 2 and run["status"] == "published"
    first = {m["mentor_employee_id"]: m for m in await api.matches(program_id=pid)}

    async def leave(employee: str) -> None:
        event = {"event_id": f"{employee}-leaves", "type": "terminated", "employee_id": employee}
        await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [event]})

    async def waiting(n: int) -> dict[str, str] | None:
        rows = await api.items("/v1/waiting-list", params={"program_id": pid})
        got = {w["participant_id"]: w["ended_match_id"] for w in rows}
        return got if len(got) == n else None

    await leave("boss-full")
    one = await eventually(lambda: waiting(1), what="boss's mentee waiting")
    (left_by_boss,) = one
    assert one[left_by_boss] == first["boss-full"]["id"]
    why = await suggested({"id": left_by_boss})
    assert why is not None
    assert (why["suggestions"], why["none_because"], why["waiting"]) == (
        [],
        "every_mentor_full",
        True,
    )
    await leave("ana-full")
    both = await eventually(lambda: waiting(2), what="ana's mentee waiting too")
    assert both == {
        left_by_boss: first["boss-full"]["id"],  # kept its place and its reason
        first["ana-full"]["mentee_participant_id"]: first["ana-full"]["id"],
    }
    assert await api.matches(program_id=pid, status="proposed") == []

    await api.enrol(pid, "carl-full", "mentor", skills_offered=["python"], capacity=2)

    async def served() -> dict[str, str] | None:
        found = await api.matches(program_id=pid, status="proposed")
        return {m["mentee_participant_id"]: m["replaces_match_id"] for m in found} or None

    got = await eventually(served, what="carl proposed to both")
    assert got == both
    assert {
        m["mentor_employee_id"] for m in await api.matches(program_id=pid, status="proposed")
    } == {"carl-full"}
    assert await api.items("/v1/waiting-list", params={"program_id": pid}) == []
