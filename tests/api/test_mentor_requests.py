"""Self-service requests through HTTP: a mentee asks a mentor, who accepts or declines; an
unanswered request expires on a durable timer and passes to the mentee's next choice; a
mentee's open requests are capped, a mentor's places are held while a request is open."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from shared.clock import ManualClock
from tests.helpers import Api, eventually

POLICY = {"enabled": True, "expires_after": "P14D", "max_open": 2, "cascade": True}


async def _cohort(api: Api, **programme: Any) -> dict[str, Any]:
    """Mentors ann (2 places), bob, cat (1 place each), dan (speaks only German); mentees
    eve, fay, gus. Returns participant ids by name, and the programme's id."""
    tag = uuid.uuid4().hex[:6]
    people = {
        "ann": 8, "bob": 9, "cat": 7, "dan": 9, "eve": 2, "fay": 2, "gus": 3,
    }  # fmt: skip
    await api.hire(
        *[
            {
                "id": f"{n}-{tag}",
                "name": n,
                "level": lvl,
                "languages": ["de" if n == "dan" else "fr"],
            }
            for n, lvl in people.items()
        ],
        prefix=tag,
    )
    body = {"name": f"Requests {tag}", "requests": POLICY, **programme}
    pid = (await api.program(body))["id"]
    ids: dict[str, Any] = {"program": pid, "tag": tag}
    for name, places in (("ann", 2), ("bob", 1), ("cat", 1), ("dan", 1)):
        mentor = await api.enrol(
            pid, f"{name}-{tag}", "mentor", skills_offered=["python"], capacity=places
        )
        ids[name] = mentor["id"]
    for name in ("eve", "fay", "gus"):
        ids[name] = (await api.enrol(pid, f"{name}-{tag}", "mentee", skills_sought=["python"]))[
            "id"
        ]

    async def known() -> bool:
        r = await api.c.get(
            "/v1/suggestions", params={"participant_id": ids["gus"]}, headers=api.admin
        )
        return r.status_code == 200 and len(r.json()["suggestions"]) == 3  # dan: no shared language

    await eventually(known, what="matching hearing of the cohort")
    return ids


def _emp(ids: dict[str, Any], name: str) -> str:
    return f"{name}-{ids['tag']}"


async def _ask(api: Api, ids: dict[str, Any], mentee: str, mentor: str, **extra: Any) -> Any:
    body = {"mentee_participant_id": ids[mentee], "mentor_participant_id": ids[mentor], **extra}
    return await api.c.post(
        "/v1/mentor-requests", json=body, headers=api.as_employee(_emp(ids, mentee))
    )


async def test_an_unanswered_request_expires_and_cascades_to_the_next_choice(
    api: Api, clock: ManualClock
) -> None:
    ids = await _cohort(api)
    r = await _ask(api, ids, "eve", "bob", next_choices=[ids["cat"]], message="Hi Bob!")
    assert r.status_code == 201, r.text
    first = r.json()
    assert (first["status"], first["choices"], first["message"]) == (
        "open",
        [ids["cat"]],
        "Hi Bob!",
    )
    sent_at = datetime.fromisoformat(first["created_at"])
    assert datetime.fromisoformat(first["expires_at"]) - sent_at == timedelta(days=14)
    bob = api.as_employee(_emp(ids, "bob"))
    mine = await api.items("/v1/mentor-requests", headers=bob)
    assert [x["id"] for x in mine] == [first["id"]]
    stranger = await api.c.get(
        f"/v1/mentor-requests/{first['id']}", headers=api.as_employee(_emp(ids, "fay"))
    )
    assert stranger.status_code == 404

    clock.advance(timedelta(days=14, seconds=1))

    async def cascaded() -> Any:
        rows = await api.items("/v1/mentor-requests", params={"program_id": ids["program"]})
        return rows if len(rows) == 2 else None

    old, new = await eventually(cascaded, what="expiry and cascade to the next choice")
    assert old["status"] == "expired" and old["decided_at"]
    assert (new["mentor_participant_id"], new["status"]) == (ids["cat"], "open")
    assert (new["cascaded_from"], new["chain_id"]) == (first["id"], first["id"])
    assert new["choices"] == [] and new["message"] == "Hi Bob!"

    # Cat declines: no choice left, the chain ends there.
    cat = api.as_employee(_emp(ids, "cat"))
    declined = await api.ok(
        "POST",
        f"/v1/mentor-requests/{new['id']}/decline",
        headers=cat,
        json={"reason": "no_time", "note": "swamped until June"},
    )
    assert (declined["status"], declined["decline_reason"]) == ("declined", "no_time")
    assert declined["decline_note"] == "swamped until June"  # the mentor's own words
    eve = api.as_employee(_emp(ids, "eve"))
    seen = await api.ok("GET", f"/v1/mentor-requests/{new['id']}", headers=eve)
    assert (seen["decline_reason"], seen["decline_note"]) == ("no_time", None)
    again = await api.c.post(f"/v1/mentor-requests/{new['id']}/accept", headers=cat)
    assert again.status_code == 409
    rows = await api.items("/v1/mentor-requests", params={"program_id": ids["program"]})
    assert [x["status"] for x in rows] == ["expired", "declined"]


async def test_caps_places_hard_rules_and_acceptance(api: Api) -> None:
    ids = await _cohort(api)
    # Cat has one place: Eve's request holds it, Fay's finds none.
    assert (await _ask(api, ids, "eve", "cat")).status_code == 201
    full = await _ask(api, ids, "fay", "cat")
    assert full.status_code == 409 and "no place left" in full.text
    # The programme's hard rules: Dan shares no language with Fay.
    ruled_out = await _ask(api, ids, "fay", "dan")
    assert ruled_out.status_code == 422 and "mentor_participant_id" in ruled_out.text
    # At most two open requests per mentee; never the same mentor twice.
    assert (await _ask(api, ids, "eve", "ann")).status_code == 201
    capped = await _ask(api, ids, "eve", "bob")
    assert capped.status_code == 409 and "at most 2 open requests" in capped.text
    bad = [
        ({"mentee_participant_id": ids["fay"], "mentor_participant_id": ids["bob"], "x": 1}, "x"),
        ({"mentee_participant_id": ids["fay"], "mentor_participant_id": ids["eve"]},
         "mentor_participant_id"),
        ({"mentee_participant_id": ids["fay"], "mentor_participant_id": ids["bob"],
          "next_choices": [ids["bob"]]}, "next_choices"),
        ({"mentee_participant_id": ids["fay"], "mentor_participant_id": ids["bob"],
          "next_choices": ["nobody"]}, "next_choices"),
    ]  # fmt: skip
    for body, field in bad:
        r = await api.c.post(
            "/v1/mentor-requests", json=body, headers=api.as_employee(_emp(ids, "fay"))
        )
        assert r.status_code == 422 and field in r.text, (body, r.text)
    on_behalf = await api.c.post(
        "/v1/mentor-requests",
        json={"mentee_participant_id": ids["fay"], "mentor_participant_id": ids["bob"]},
        headers=api.as_employee(_emp(ids, "gus")),
    )
    assert on_behalf.status_code == 404  # Gus cannot ask for Fay
    assert await api.items("/v1/mentor-requests", headers=api.as_employee(_emp(ids, "fay"))) == []

    # Suggestions count the held places: Cat is full while Eve's request is open.
    sugg = await api.ok("GET", "/v1/suggestions", params={"participant_id": ids["fay"]})
    assert ids["cat"] not in {s["mentor_participant_id"] for s in sugg["suggestions"]}
    # A run leaves Eve (choosing for herself) out, and places Fay and Gus around held places.
    run = await api.ok("POST", "/v1/matching-runs", json={"program_id": ids["program"]}, expect=201)
    assert run["mentees_considered"] == 2
    assert ids["cat"] not in {p["mentor_participant_id"] for p in await api.pairs(run["id"])}

    rows = await api.items("/v1/mentor-requests", params={"program_id": ids["program"]})
    to_cat, to_ann = sorted(rows, key=lambda x: x["mentor_participant_id"] != ids["cat"])
    eve = api.as_employee(_emp(ids, "eve"))
    r = await api.c.post(f"/v1/mentor-requests/{to_cat['id']}/accept", headers=eve)
    assert r.status_code == 403  # the mentor answers, not the mentee
    r = await api.c.post(
        f"/v1/mentor-requests/{to_cat['id']}/withdraw", headers=api.as_employee(_emp(ids, "cat"))
    )
    assert r.status_code == 403
    accepted = await api.ok(
        "POST",
        f"/v1/mentor-requests/{to_cat['id']}/accept",
        headers=api.as_employee(_emp(ids, "cat")),
    )
    assert accepted["status"] == "accepted" and accepted["match_id"]
    match = await api.ok("GET", f"/v1/matches/{accepted['match_id']}", headers=eve)
    assert (match["status"], match["mentor_participant_id"]) == ("active", ids["cat"])
    # Her other request is withdrawn (Ann is told by the event); she asks nobody else now.
    other = await api.ok("GET", f"/v1/mentor-requests/{to_ann['id']}")
    assert (other["status"], other["withdrawn_because"]) == ("withdrawn", "matched")
    r = await _ask(api, ids, "eve", "bob")
    assert r.status_code == 409 and "already has a mentor" in r.text
    stale = await api.c.post(f"/v1/matching-runs/{run['id']}/publish", headers=api.admin)
    assert stale.status_code == 409  # the run's inputs changed meanwhile

    # The mentee takes a request back (no cascade).
    made = (await _ask(api, ids, "gus", "bob", next_choices=[ids["ann"]])).json()
    gone = await api.ok(
        "POST",
        f"/v1/mentor-requests/{made['id']}/withdraw",
        headers=api.as_employee(_emp(ids, "gus")),
    )
    assert (gone["status"], gone["withdrawn_because"]) == ("withdrawn", "mentee")
    rows = await api.items(
        "/v1/mentor-requests", params={"program_id": ids["program"], "status": "open"}
    )
    assert rows == []


async def test_requests_follow_the_programme(api: Api) -> None:
    ids = await _cohort(api, requests={**POLICY, "enabled": False})
    off = await _ask(api, ids, "eve", "ann")
    assert off.status_code == 409 and "self-service" in off.text
    await api.ok("PATCH", f"/v1/programs/{ids['program']}", json={"requests": {"enabled": True}})

    async def on() -> bool:
        return (await _ask(api, ids, "eve", "ann")).status_code == 201

    await eventually(on, what="matching hearing of the enabled requests")
    await api.ok("POST", f"/v1/programs/{ids['program']}/status", json={"status": "closed"})

    async def withdrawn() -> Any:
        (row,) = await api.items("/v1/mentor-requests", params={"program_id": ids["program"]})
        return row if row["status"] == "withdrawn" else None

    row = await eventually(withdrawn, what="the request ending with its programme")
    assert row["withdrawn_because"] == "programme_closed"


async def test_suggestions_say_each_mentors_room_as_soon_as_it_changes(api: Api) -> None:
    """Suggestions keep the places each mentor has taken between calls, by the programme's
    loads version, which any commit writing one of its matches or requests moves: a request
    opened holds a place at once, declined frees it; a run's matches (written in bulk) take
    theirs as soon as it is published."""
    ids = await _cohort(api)
    names = {ids[n]: n for n in ("ann", "bob", "cat", "dan")}
    capacity = {"ann": 2, "bob": 1, "cat": 1}  # dan shares no language with the mentees

    async def rooms() -> dict[str, int]:
        params = {"participant_id": ids["gus"], "limit": 10}
        got = await api.ok("GET", "/v1/suggestions", params=params)
        found = got["suggestions"]
        return {names[s["mentor_participant_id"]]: s["remaining_capacity"] for s in found}

    assert await rooms() == capacity
    r = await _ask(api, ids, "eve", "ann")
    assert r.status_code == 201, r.text
    for _ in range(2):  # counted, then kept
        assert await rooms() == {**capacity, "ann": 1}
    ann = api.as_employee(_emp(ids, "ann"))
    body = {"reason": "no_time"}
    await api.ok("POST", f"/v1/mentor-requests/{r.json()['id']}/decline", headers=ann, json=body)
    assert await rooms() == capacity

    run = await api.ok("POST", "/v1/matching-runs", expect=201, json={"program_id": ids["program"]})
    assert await rooms() == capacity  # a draft takes no place
    await api.ok("POST", f"/v1/matching-runs/{run['id']}/publish")
    taken = [names[m["mentor_participant_id"]] for m in await api.matches(run_id=run["id"])]
    assert len(taken) == 3  # eve, fay and gus: one place left
    left = {n: c - taken.count(n) for n, c in capacity.items() if c > taken.count(n)}
    assert list(left.values()) == [1]
    assert await rooms() == left

    # Hal, enrolled since, asks the mentor with the place left: held, then freed.
    hal = f"hal-{ids['tag']}"
    await api.hire({"id": hal, "name": "hal", "level": 2, "languages": ["fr"]}, prefix=hal)
    ids["hal"] = (await api.enrol(ids["program"], hal, "mentee", skills_sought=["python"]))["id"]
    mentor = next(iter(left))

    async def asked() -> Any:  # once matching has heard of hal
        r = await _ask(api, ids, "hal", mentor)
        return r if r.status_code == 201 else None

    request = (await eventually(asked, what="matching hearing of hal")).json()
    for _ in range(2):
        assert await rooms() == {}
    by = api.as_employee(_emp(ids, mentor))
    body = {"reason": "no_time"}
    await api.ok("POST", f"/v1/mentor-requests/{request['id']}/decline", headers=by, json=body)
    assert await rooms() == left


async def test_a_place_held_by_a_request_is_not_given_to_a_departing_mentors_mentee(
    api: Api,
) -> None:
    """After a run, one mentor has a place left, and a mentee's open request holds it: when
    another mentor leaves, their mentee waits (no mentor has room), and is not proposed the
    held place."""
    ids = await _cohort(api)
    names = {ids[n]: n for n in ("ann", "bob", "cat", "dan")}
    capacity = {"ann": 2, "bob": 1, "cat": 1}
    run = await api.ok("POST", "/v1/matching-runs", expect=201, json={"program_id": ids["program"]})
    await api.ok("POST", f"/v1/matching-runs/{run['id']}/publish")
    matches = await api.matches(run_id=run["id"])
    taken = [names[m["mentor_participant_id"]] for m in matches]
    (mentor,) = [n for n, c in capacity.items() if c > taken.count(n)]  # the place left
    hal = f"hal-{ids['tag']}"
    await api.hire({"id": hal, "name": "hal", "level": 2, "languages": ["fr"]}, prefix=hal)
    ids["hal"] = (await api.enrol(ids["program"], hal, "mentee", skills_sought=["python"]))["id"]

    async def asked() -> Any:  # once matching has heard of hal
        r = await _ask(api, ids, "hal", mentor)
        return r if r.status_code == 201 else None

    await eventually(asked, what="matching hearing of hal")
    leaving = next(m for m in matches if names[m["mentor_participant_id"]] != mentor)
    event = {
        "event_id": f"leaves-{ids['tag']}",
        "type": "terminated",
        "employee_id": leaving["mentor_employee_id"],
    }
    await api.ok("POST", "/v1/hris/events", headers=api.hris, json={"events": [event]})

    async def waiting() -> Any:
        rows = await api.items("/v1/waiting-list", params={"program_id": ids["program"]})
        return [w["participant_id"] for w in rows] or None

    left_behind = {  # (ann, with two places, may have had two mentees)
        m["mentee_participant_id"]: m["id"]
        for m in matches
        if m["mentor_participant_id"] == leaving["mentor_participant_id"]
    }

    async def all_waiting() -> Any:
        rows = await waiting()
        return rows if rows and len(rows) == len(left_behind) else None

    on_list = await eventually(all_waiting, what="the departed mentor's mentees waiting")
    assert sorted(on_list) == sorted(left_behind)
    for mentee, ended in left_behind.items():  # no replacement proposed
        assert [m["id"] for m in await api.matches(participant_id=mentee)] == [ended]
