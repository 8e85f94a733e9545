"""Recognition on the embedded mode: a programme's badges earned as the pair acts (a reaction
to the session held, to the relationship completed, and at once for what was done before a
rule existed), each award an event a webhook receives; kudos between the parties; the
recognition page and its privacy; the PDF certificate, rendered by poppler (pdftoppm) and read
back (pdftotext)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from shared.settings import Settings
from tests.api.conftest import _settings
from tests.helpers import Api, eventually
from tests.helpers.scenario import active_match, enrolled_cohort, schedule_session
from tests.helpers.webhooks import receiver

AWARDED = "binome.reporting.badge.awarded.v1"


@pytest.fixture
def settings(tmp_path: Path, migrated: Path) -> Settings:
    shutil.copytree(migrated, tmp_path / "data")
    return _settings(tmp_path / "data").model_copy(update={"webhook_allow_private": True})


async def _rule(api: Api, pid: str, name: str, role: str, metric: str, threshold: float) -> Any:
    body = {"program_id": pid, "name": name, "role": role, "metric": metric, "threshold": threshold}

    async def made() -> Any:  # 404 until reporting has heard of the programme
        r = await api.c.post("/v1/recognition/badge-rules", json=body, headers=api.admin)
        assert r.status_code in (201, 404), r.text
        return r.json() if r.status_code == 201 else None

    return await eventually(made, what="reporting hearing of the programme")


async def _page(api: Api, employee: str, headers: dict[str, str] | None = None) -> Any:
    return await api.ok("GET", f"/v1/recognition/employees/{employee}", headers=headers)


async def _badges(api: Api, employee: str, n: int) -> Any:
    page = await _page(api, employee)
    return page if len(page["badges"]) >= n else None


async def test_badges_kudos_page_and_certificate(api: Api, tmp_path: Path) -> None:
    cohort = await enrolled_cohort(api)
    pid = cohort.program_id
    match = await active_match(api, cohort)
    mentor, mentee = match["mentor_employee_id"], match["mentee_employee_id"]
    as_mentor, as_mentee = api.as_employee(mentor), api.as_employee(mentee)

    with receiver() as hook:
        made = await api.ok(
            "POST", "/v1/webhooks", json={"url": hook.url, "event_types": [AWARDED]}, expect=201
        )
        hook.secrets.append(made["secret"])

        regular = await _rule(api, pid, "Regular", "mentor", "sessions_held", 2)
        assert regular["awarded"] == 0
        await _rule(api, pid, "Marathon", "mentor", "hours", 100)
        await _rule(api, pid, "Committed", "mentee", "relationships_completed", 1)
        await _rule(api, pid, "Well rated", "mentor", "survey_score", 4.5)

        # One session held: not yet; the second earns "Regular" (the reaction to it).
        for days in (-2, -1):
            planned = await schedule_session(api, match, days=days)
            await api.ok(
                "POST", f"/v1/sessions/{planned['id']}/complete", json={}, headers=as_mentor
            )
            if days == -2:
                await asyncio.sleep(0.3)
                assert (await _page(api, mentor))["badges"] == []
        page = await eventually(lambda: _badges(api, mentor, 1), what="the mentor's badge")
        (badge,) = page["badges"]
        assert (badge["badge"], badge["metric"], badge["value"]) == ("Regular", "sessions_held", 2)
        assert badge["evidence"]["sessions_held"] == 2 and badge["program_id"] == pid

        # The award is an event: the webhook gets it, signed.
        await eventually(lambda: _got(hook, 1), what="badge.awarded delivered")
        event = hook.received[0].event
        assert event["type"] == AWARDED and hook.received[0].verified_with
        assert (event["data"]["employee_id"], event["data"]["badge"]) == (mentor, "Regular")

        # The relationship completed (both sides): the mentee's badge.
        for who in (as_mentee, as_mentor):
            await api.ok("POST", f"/v1/matches/{match['id']}/complete", headers=who)
        mine = await eventually(lambda: _badges(api, mentee, 1), what="the mentee's badge")
        assert [b["badge"] for b in mine["badges"]] == ["Committed"]

        # A rule made afterwards is earned at once by those who already qualify.
        connector = await _rule(api, pid, "Connector", "mentor", "partners", 1)
        assert connector["awarded"] == 0  # counted below, once committed
        rules = await api.items("/v1/recognition/badge-rules", params={"program_id": pid})
        assert {r["name"]: r["awarded"] for r in rules} == {
            "Regular": 1, "Marathon": 0, "Committed": 1, "Well rated": 0, "Connector": 1,
        }  # fmt: skip
        await eventually(lambda: _got(hook, 3), what="three awards delivered")
        await asyncio.sleep(0.3)
        assert len(hook.received) == 3  # each badge once

    # Kudos: the mentee thanks the mentor.
    r = await api.c.post(
        "/v1/recognition/kudos",
        json={"match_id": match["id"], "message": "Merci pour tout, Ann !"},
        headers=as_mentee,
    )
    assert r.status_code == 201, r.text
    assert r.json()["to_employee_id"] == mentor

    page = await _page(api, mentor, as_mentor)  # their own page
    figures = page["as_mentor"]
    assert (figures["sessions_held"], figures["hours"], figures["partners"]) == (2, 2.0, 1)
    assert (figures["relationships"], figures["relationships_completed"]) == (1, 1)
    assert figures["survey_score"] is None  # fewer than 5 answered: never shown
    assert {b["badge"] for b in page["badges"]} == {"Regular", "Connector"}
    assert [k["message"] for k in page["kudos_received"]] == ["Merci pour tout, Ann !"]
    assert page["contributions"][0]["program_id"] == pid
    assert (await _page(api, mentee, as_mentee))["kudos_given"] == 1

    # Privacy and bad input.
    for path in (
        f"/v1/recognition/employees/{mentor}",
        f"/v1/recognition/employees/{mentor}/certificate",
    ):
        r = await api.c.get(path, headers=as_mentee)
        assert r.status_code == 404, r.text  # someone else's: as if unknown
    r = await api.c.get("/v1/recognition/employees/nobody", headers=api.admin)
    assert r.status_code == 404, r.text
    stranger = api.as_employee(
        cohort.mentors[1] if cohort.mentors[0] == mentor else cohort.mentors[0]
    )
    r = await api.c.post(
        "/v1/recognition/kudos", json={"match_id": match["id"], "message": "hi"}, headers=stranger
    )
    assert r.status_code == 404 and "match_id" in r.text, r.text  # not theirs: as if unknown
    r = await api.c.post(
        "/v1/recognition/kudos", json={"match_id": match["id"], "message": "hi"}, headers=api.admin
    )
    assert r.status_code == 403, r.text
    bad = {"program_id": pid, "name": "Stars", "role": "mentor", "metric": "survey_score"}
    r = await api.c.post(
        "/v1/recognition/badge-rules", json=bad | {"threshold": 7}, headers=api.admin
    )
    assert r.status_code == 422 and "between 1 and 5" in r.text, r.text
    r = await api.c.post(
        "/v1/recognition/badge-rules",
        json=bad | {"name": "Regular", "threshold": 3},
        headers=api.admin,
    )
    assert r.status_code == 409, r.text
    r = await api.c.post(
        "/v1/recognition/badge-rules",
        json=bad | {"program_id": "nope", "threshold": 3},
        headers=api.admin,
    )
    assert r.status_code == 404 and "program_id" in r.text, r.text
    r = await api.c.post(
        "/v1/recognition/badge-rules",
        json=bad | {"threshold": 3, "color": "red"},
        headers=api.admin,
    )
    assert r.status_code == 422 and "color" in r.text, r.text

    # The certificate: a real PDF, rendered and read back, the name in several scripts.
    await api.ok(
        "POST",
        "/v1/hris/events",
        headers=api.hris,
        json={"events": [{"event_id": f"rename-{mentor}", "type": "updated", "employee": {
            "id": mentor, "name": "Ann Ørsted-Łukasiewicz Ξένια Иванова", "languages": ["fr"]}}]},
    )  # fmt: skip

    async def renamed() -> bool:
        return (await _page(api, mentor))["name"] == "Ann Ørsted-Łukasiewicz Ξένια Иванова"

    await eventually(renamed, what="reporting hearing the new name")
    r = await api.c.get(f"/v1/recognition/employees/{mentor}/certificate", headers=as_mentor)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"] == "application/pdf" and r.content.startswith(b"%PDF-")
    pdf = tmp_path / "certificate.pdf"
    pdf.write_bytes(r.content)
    text = _pdftotext(pdf)
    for expected in (
        "Certificate of mentoring contribution",
        "Ann Ørsted-Łukasiewicz Ξένια Иванова",
        "As mentor: 2 session(s) held, 2 hours of mentoring, 1 mentee(s)",
        "Regular",
        "Connector",
        "acme",
    ):
        assert expected in text, (expected, text)
    assert "Marathon" not in text
    png = _pdftoppm(pdf, tmp_path / "page")
    assert png.read_bytes().startswith(b"\x89PNG") and png.stat().st_size > 10_000


async def _got(hook: Any, n: int) -> bool:
    return len(hook.received) >= n


def _tool(name: str) -> str:
    found = shutil.which(name)
    assert found, f"{name} (Debian's poppler-utils) is installed by scripts/test.sh"
    return found


def _pdftotext(pdf: Path) -> str:
    out = subprocess.run(
        [_tool("pdftotext"), "-layout", str(pdf), "-"], capture_output=True, text=True, check=True
    )
    return " ".join(out.stdout.split())


def _pdftoppm(pdf: Path, prefix: Path) -> Path:
    subprocess.run(
        [_tool("pdftoppm"), "-png", "-r", "50", "-f", "1", "-l", "1", str(pdf), str(prefix)],
        check=True,
        capture_output=True,
    )
    (page,) = prefix.parent.glob(f"{prefix.name}*.png")
    return page
