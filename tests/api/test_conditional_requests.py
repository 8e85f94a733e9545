"""Conditional requests (shared.conditional): every JSON answer carries an ETag; a GET with
If-None-Match naming it is answered 304 without a body; a write with If-Match is made only
on the version the caller read, else 412 naming the current tag, and nothing changes."""

from __future__ import annotations

from typing import Any

from tests.helpers import Api
from tests.helpers.scenario import (
    active_match,
    concurrent_edits_on_one_version,
    enrolled_cohort,
    schedule_session,
)


async def _get(api: Api, path: str, **headers: str) -> Any:
    return await api.c.get(path, headers={**api.admin, **headers})


async def test_a_programme_read_is_revalidated_with_its_etag(api: Api) -> None:
    made = await api.program({"name": "Etags"}, status=None)
    first = await _get(api, f"/v1/programs/{made['id']}")
    tag = first.headers["etag"]
    assert first.status_code == 200 and tag.startswith('"') and tag.endswith('"')
    assert (await _get(api, f"/v1/programs/{made['id']}")).headers["etag"] == tag  # stable

    same = await _get(api, f"/v1/programs/{made['id']}", **{"If-None-Match": tag})
    assert same.status_code == 304 and same.content == b"" and same.headers["etag"] == tag
    weak = await _get(api, f"/v1/programs/{made['id']}", **{"If-None-Match": f'"x", W/{tag}'})
    assert weak.status_code == 304  # a GET compares weakly
    listed = await _get(api, "/v1/programs")
    assert (
        await _get(api, "/v1/programs", **{"If-None-Match": listed.headers["etag"]})
    ).status_code == 304

    patch = {"description": "Changed"}
    changed = await api.c.patch(f"/v1/programs/{made['id']}", json=patch, headers=api.admin)
    assert changed.status_code == 200 and changed.headers["etag"] != tag
    again = await _get(api, f"/v1/programs/{made['id']}", **{"If-None-Match": tag})
    assert again.status_code == 200 and again.json()["description"] == "Changed"
    assert again.headers["etag"] == changed.headers["etag"]  # the write's answer is the read's


async def test_a_programme_edit_on_a_stale_version_is_refused_and_changes_nothing(
    api: Api,
) -> None:
    made = await api.program({"name": "Two admins"}, status=None)
    path = f"/v1/programs/{made['id']}"
    read = (await _get(api, path)).headers["etag"]

    # Two admins read the same version; the first's change lands.
    first = await api.c.patch(
        path, json={"description": "First"}, headers={**api.admin, "If-Match": read}
    )
    assert first.status_code == 200, first.text
    # The second's, on the version it read, is refused: it would undo the first's unseen.
    second = await api.c.patch(
        path, json={"description": "Second"}, headers={**api.admin, "If-Match": read}
    )
    assert second.status_code == 412, second.text
    problem = second.json()
    assert problem["status"] == 412 and first.headers["etag"] in problem["detail"]
    assert second.headers["content-type"].startswith("application/problem+json")
    assert (await api.ok("GET", path))["description"] == "First"

    # Read again, sent again: made. A list of tags matches any; `*` any version.
    fresh = first.headers["etag"]
    retried = await api.c.patch(
        path, json={"description": "Second"}, headers={**api.admin, "If-Match": f'"old", {fresh}'}
    )
    assert retried.status_code == 200 and retried.json()["description"] == "Second"
    anyway = await api.c.patch(
        path, json={"description": "Third"}, headers={**api.admin, "If-Match": "*"}
    )
    assert anyway.status_code == 200
    # A weak tag never matches a write (strong comparison).
    weak = await api.c.patch(
        path,
        json={"description": "Fourth"},
        headers={**api.admin, "If-Match": f"W/{anyway.headers['etag']}"},
    )
    assert weak.status_code == 412
    assert (await api.ok("GET", path))["description"] == "Third"


async def test_concurrent_edits_on_one_version_let_exactly_one_through(api: Api) -> None:
    await concurrent_edits_on_one_version(api)


async def test_a_participant_edits_their_profile_on_the_version_they_read(api: Api) -> None:
    program = await api.program({"name": "Profiles"})
    await api.hire({"id": "cr-ana", "name": "Ana", "level": 3, "languages": ["fr"]}, prefix="cr")
    enrolled = await api.enrol(program["id"], "cr-ana", "mentee", skills_sought=["python"])
    path = f"/v1/participants/{enrolled['id']}"
    ana = api.as_employee("cr-ana")
    read = await api.c.get(path, headers=ana)
    tag = read.headers["etag"]
    # An admin's change meanwhile.
    await api.ok("PATCH", path, json={"skills_sought": ["python", "sql"]})
    stale = await api.c.patch(
        path, json={"skills_sought": ["go"]}, headers={**ana, "If-Match": tag}
    )
    assert stale.status_code == 412, stale.text
    assert (await api.ok("GET", path))["skills_sought"] == ["python", "sql"]
    fresh = (await api.c.get(path, headers=ana)).headers["etag"]
    made = await api.c.patch(
        path, json={"skills_sought": ["go"]}, headers={**ana, "If-Match": fresh}
    )
    assert made.status_code == 200 and made.json()["skills_sought"] == ["go"]


async def test_malformed_conditions_are_refused_by_name(api: Api) -> None:
    made = await api.program({"name": "Malformed"}, status=None)
    path = f"/v1/programs/{made['id']}"
    for header, value in (("If-Match", "abc"), ("If-Match", '*, "x"'), ("If-Match", '"a" "b"')):
        r = await api.c.patch(path, json={"description": "x"}, headers={**api.admin, header: value})
        assert r.status_code == 422, (value, r.text)
        assert r.json()["errors"][0]["loc"] == ["header", header]
    r = await _get(api, path, **{"If-None-Match": "nope"})
    assert r.status_code == 422 and r.json()["errors"][0]["loc"] == ["header", "If-None-Match"]
    assert (await api.ok("GET", path))["description"] == made["description"]
    # An unknown programme is 404 whatever If-Match says.
    gone = await api.c.patch(
        "/v1/programs/nope", json={"description": "x"}, headers={**api.admin, "If-Match": "*"}
    )
    assert gone.status_code == 404


async def test_the_pair_edits_an_agenda_and_an_agreement_without_undoing_each_other(
    api: Api,
) -> None:
    cohort = await enrolled_cohort(api)
    match = await active_match(api, cohort)
    mentee = api.as_employee(match["mentee_employee_id"])
    mentor = api.as_employee(match["mentor_employee_id"])
    session = await schedule_session(api, match, days=3)

    # The agenda: both read it; the mentor's edit lands, the mentee's on the old one does not.
    agenda = f"/v1/sessions/{session['id']}/agenda"
    read = (await api.c.get(f"/v1/sessions/{session['id']}", headers=mentee)).headers["etag"]
    first = await api.c.put(agenda, json={"items": ["goals"]}, headers={**mentor, "If-Match": read})
    assert first.status_code == 200, first.text
    late = await api.c.put(agenda, json={"items": ["other"]}, headers={**mentee, "If-Match": read})
    assert late.status_code == 412, late.text
    assert first.headers["etag"] in late.json()["detail"]
    seen = await api.c.get(f"/v1/sessions/{session['id']}", headers=mentee)
    assert seen.json()["agenda"] == ["goals"] and seen.headers["etag"] == first.headers["etag"]
    again = await api.c.put(
        agenda,
        json={"items": ["goals", "other"]},
        headers={**mentee, "If-Match": first.headers["etag"]},
    )
    assert again.status_code == 200 and again.json()["agenda"] == ["goals", "other"]

    # The agreement: none yet, so an If-Match (even `*`) cannot hold.
    path = f"/v1/agreements/{match['id']}"
    terms = {"goals": [{"id": "g1", "title": "Lead a meeting"}], "rhythm": "P14D"}
    none_yet = await api.c.put(path, json=terms, headers={**mentee, "If-Match": "*"})
    assert none_yet.status_code == 412 and "no agreement yet" in none_yet.text
    drafted = await api.c.put(path, json=terms, headers=mentee)
    assert drafted.status_code == 200, drafted.text
    tag = (await api.c.get(path, headers=mentor)).headers["etag"]
    assert tag == drafted.headers["etag"]
    changed = {**terms, "rhythm": "P7D"}
    assert (
        await api.c.put(path, json=changed, headers={**mentee, "If-Match": tag})
    ).status_code == 200
    stale = await api.c.put(
        path, json={**terms, "rhythm": "P30D"}, headers={**mentor, "If-Match": tag}
    )
    assert stale.status_code == 412, stale.text
    assert (await api.c.get(path, headers=mentor)).json()["rhythm"] == "P7D"
