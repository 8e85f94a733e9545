"""The dashboard in a real browser: Debian's headless Chromium, driven by Selenium through
its ChromeDriver, opens a dashboard link served by a real HTTP server (uvicorn) in front of
the embedded app with the scripted programme of tests/helpers/review.py. The charts must
render with the scripted data (read back from the DOM plotly builds), the page must log no
console error, and a screenshot is kept as an artefact (TEST_ARTEFACTS, else the test's
temporary folder)."""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from shared.clock import ManualClock
from tests.helpers import Api, eventually, free_port
from tests.helpers.review import T0, check_kpis, dashboard_link, scripted_programme

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(T0)


@pytest.fixture
def browser() -> None:
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail("Chromium and ChromeDriver are missing: scripts/test.sh installs them")


@pytest.fixture
def artefacts(tmp_path: Path) -> Iterator[Path]:
    folder = Path(os.environ.get("TEST_ARTEFACTS", tmp_path / "artefacts"))
    folder.mkdir(parents=True, exist_ok=True)
    yield folder


def _browse(url: str, shot: Path) -> dict[str, Any]:
    """Open `url` in headless Chromium; what the page shows, and its console errors."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ready
    from selenium.webdriver.support.ui import WebDriverWait

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--window-size=1366,900",
    ):  # fmt: skip
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        driver.set_page_load_timeout(60)
        driver.get(url)
        wait = WebDriverWait(driver, 60)
        for chart in ("chart-weekly", "chart-sessions", "chart-participants", "chart-ratings"):
            wait.until(ready.presence_of_element_located((By.CSS_SELECTOR, f"#{chart} .main-svg")))
        seen = driver.execute_script(
            """
            const trace = (id, i) => document.getElementById(id).data[i];
            return {
              weekly: trace("chart-weekly", 0),
              sessions: trace("chart-sessions", 0),
              mentors: trace("chart-participants", 0),
              mentees: trace("chart-participants", 1),
              ratings: trace("chart-ratings", 0),
              bars: document.querySelectorAll("#chart-sessions .bars .point").length,
              lines: document.querySelectorAll("#chart-weekly .scatterlayer .trace").length,
              tiles: Object.fromEntries([...document.querySelectorAll("[data-kpi]")]
                .map(e => [e.dataset.kpi, e.textContent.trim()])),
              waiting: [...document.querySelectorAll("#waiting tbody tr")]
                .map(r => [...r.cells].map(c => c.textContent)),
              unlabelled: [...document.querySelectorAll("[role=img]")]
                .filter(e => !e.getAttribute("aria-labelledby")).length,
            };
            """
        )
        driver.save_screenshot(str(shot))
        errors = [e for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        return {**seen, "errors": errors}
    finally:
        driver.quit()


async def test_the_dashboard_renders_in_chromium(
    api: Api, app: Any, clock: ManualClock, artefacts: Path, browser: None
) -> None:
    pid = await scripted_programme(api, clock)
    await check_kpis(api, pid)  # reporting has heard the whole script
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, lifespan="off", log_level="warning")
    )
    serving = asyncio.create_task(server.serve())
    try:

        async def started() -> bool:
            return bool(server.started)

        await eventually(started, what="the HTTP server")
        url = f"http://127.0.0.1:{port}{await dashboard_link(api, pid)}"
        shot = artefacts / "dashboard.png"
        seen = await asyncio.to_thread(_browse, url, shot)
    finally:
        server.should_exit = True
        await serving
    assert seen["errors"] == [], seen["errors"]
    assert len(await asyncio.to_thread(shot.read_bytes)) > 10_000  # a picture of the page
    # The weekly chart: 12 weeks up to now's (t0's week), 5 sessions held in the last one.
    assert seen["weekly"]["name"] == "Sessions held"
    assert seen["weekly"]["y"][-1] == 5 and seen["weekly"]["x"][-1] == "2030-03-04"
    assert seen["lines"] == 4
    # Sessions by outcome: 5 held; the one planned withheld (2 people); none missed.
    assert seen["sessions"]["x"] == ["held", "planned", "missed", "no show"]
    assert seen["sessions"]["y"] == [5, None, 0, 0] and seen["bars"] == 4
    assert seen["mentors"]["y"][:2] == [8, None] and seen["mentees"]["y"][:2] == [7, None]
    assert seen["ratings"]["y"][-1] == 4.2  # the mentees' mean this week
    assert seen["tiles"]["match_rate"] == "100 %" and seen["tiles"]["mentoring_hours"] == "5.0"
    assert seen["tiles"]["would_recommend"] == "–"  # no survey answered yet
    assert seen["waiting"] == [["pia", "mentee", "awaiting approval", "2030-03-04"]]
    assert seen["unlabelled"] == 0
