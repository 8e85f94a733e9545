"""The distributed mode's edge: Debian's nginx, configured by `binome proxy-config` from the
services' routing table, in front of a real Binôme server (the embedded one serves every
resource, so each route reaches an answer). Routing, the combined docs, and each answer
nginx makes itself (unknown resource, traversal, body limit, rate limit, service down) as a
problem with the security headers."""

from __future__ import annotations

import getpass
import http.client
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from services import SERVICE_NAMES
from shared.settings import Settings
from tests.helpers import auth, free_port, nginx, spawn_proxy

ROOT = Path(__file__).resolve().parents[2]


def _wait(url: str, probe: str) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url + probe, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise AssertionError(f"{url}{probe} never answered 200")


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An embedded Binôme server, as every service's address."""
    port = free_port()
    kept = ("BINOME_JWT_SECRET",)  # the suite's tokens are signed with it
    env = {k: v for k, v in os.environ.items() if not k.startswith("BINOME_") or k in kept}
    env["BINOME_DATA_DIR"] = str(tmp_path_factory.mktemp("data"))
    log = tmp_path_factory.mktemp("logs") / "server.log"
    proc = subprocess.Popen(
        [sys.executable, "-m", "services.cli", "serve", "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    yield from _serving(proc, f"http://127.0.0.1:{port}", "/readyz")


def _proxy(folder: Path, urls: dict[str, str], settings: Settings | None = None) -> Iterator[str]:
    port = free_port()
    proc = spawn_proxy(urls, folder, port, settings)
    yield from _serving(proc, f"http://127.0.0.1:{port}", "/healthz")


def _serving(proc: subprocess.Popen, url: str, probe: str) -> Iterator[str]:
    """`url` once `probe` answers; the process stopped afterwards."""
    try:
        _wait(url, probe)
        yield url
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def proxy(upstream: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    yield from _proxy(tmp_path_factory.mktemp("proxy"), {s: upstream for s in SERVICE_NAMES})


def _is_problem(r: httpx.Response, status: int, says: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["status"] == status and says in body["detail"], body
    assert r.headers["x-content-type-options"] == "nosniff"
    assert r.headers["x-frame-options"] == "DENY"


def test_the_command_writes_what_nginx_accepts(tmp_path: Path) -> None:
    routes = [
        a for i, s in enumerate(SERVICE_NAMES) for a in ("--route", f"{s}=http://127.0.0.1:80{i}")
    ]
    out = tmp_path / "conf"
    done = subprocess.run(
        [sys.executable, "-m", "services.cli", "proxy-config", "--out", str(out), *routes,
         "--user", getpass.getuser()],
        cwd=ROOT, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in out.iterdir()) == ["docs.html", "nginx.conf", "openapi.json"]
    conf = (out / "nginx.conf").read_text()
    assert "server 127.0.0.1:801;" in conf and "location ~ ^/v1/matches(?:/|$)" in conf
    checked = subprocess.run(
        [nginx(), "-t", "-p", f"{out}/", "-c", "nginx.conf"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert checked.returncode == 0 and "test is successful" in checked.stderr, checked.stderr


def test_each_resource_reaches_its_service(proxy: str) -> None:
    admin = auth(Settings(), org="proxied")
    created = httpx.post(
        f"{proxy}/v1/programs", json={"name": "Through nginx"}, headers=admin, timeout=30
    )
    assert created.status_code == 201, created.text
    program = created.json()
    got = httpx.get(f"{proxy}/v1/programs/{program['id']}", headers=admin, timeout=30)
    assert got.json()["name"] == "Through nginx"
    assert got.headers["cache-control"] == "no-store"  # the service's own headers, once
    assert got.headers.get_list("x-content-type-options") == ["nosniff"]
    # A query may hold what a path may not.
    listed = httpx.get(f"{proxy}/v1/programs?cursor=a%2Fb%2E..//c", headers=admin)
    assert "encoded separator" not in listed.text
    # The service's own problems pass through untouched.
    _is_problem(httpx.get(f"{proxy}/v1/programs/nope", headers=admin), 404, "program not found")
    # SCIM's own root reaches enrollment (its answers are SCIM's, not problems).
    config = httpx.get(f"{proxy}/scim/v2/ServiceProviderConfig", timeout=30)
    assert config.status_code == 200 and config.json()["patch"]["supported"] is True
    assert config.headers["content-type"] == "application/scim+json"
    assert httpx.get(f"{proxy}/scim/v2/Users", timeout=30).status_code == 401


def test_the_docs_are_combined(proxy: str) -> None:
    combined = httpx.get(f"{proxy}/openapi.json").json()
    assert combined["info"]["title"] == "Binôme"
    paths = set(combined["paths"])
    for service in SERVICE_NAMES:
        own = httpx.get(f"{proxy}/openapi/{service}.json")
        assert own.status_code == 200, service
        assert set(own.json()["paths"]) & paths, service
    assert {"/v1/programs", "/v1/matches", "/v1/sessions"} <= paths
    page = httpx.get(f"{proxy}/docs")
    assert page.status_code == 200 and "/openapi.json" in page.text
    assert page.headers["content-type"].startswith("text/html")
    asset = httpx.get(f"{proxy}/docs-assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and len(asset.content) > 100_000


@pytest.mark.parametrize(
    "path",
    [
        "/v1/employees/..%2F..%2Fmatches",
        "/v1/employees/%2e%2e/matches",
        "/v1/employees/..%5Cmatches",
        "/v1/employees/../matches",
        "/v1/employees//x",
        "/v1/employees/%00",
    ],
)
def test_nginx_refuses_encoded_traversal(proxy: str, path: str) -> None:
    # http.client sends the path as written (httpx would resolve the dot segments itself).
    conn = http.client.HTTPConnection(httpx.URL(proxy).host, httpx.URL(proxy).port, timeout=10)
    try:
        conn.request("GET", path)
        raw = conn.getresponse()
        r = httpx.Response(raw.status, headers=raw.getheaders(), content=raw.read())
    finally:
        conn.close()
    _is_problem(r, 400, "encoded separator or a dot segment")


def test_nginx_answers_its_own_refusals_as_problems(proxy: str) -> None:
    _is_problem(httpx.get(f"{proxy}/v1/nothing-here"), 404, "no such resource")
    _is_problem(httpx.get(f"{proxy}/elsewhere"), 404, "no such resource")
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    r = httpx.post(
        f"{proxy}/v1/programs", content=big, headers={"content-type": "application/json"}
    )
    _is_problem(r, 413, "larger than the limit")


def test_a_service_down_is_a_502_problem(tmp_path: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    for url in _proxy(tmp_path, {s: dead for s in SERVICE_NAMES}):
        _is_problem(httpx.get(f"{url}/v1/programs"), 502, "cannot be reached")


def test_the_rate_limit_per_address(upstream: str, tmp_path: Path) -> None:
    settings = Settings(rate_limit_per_address="5/minute")
    for url in _proxy(tmp_path, {s: upstream for s in SERVICE_NAMES}, settings):
        with httpx.Client(base_url=url) as c:
            statuses = [c.get("/v1/programs").status_code for _ in range(8)]
            assert statuses[:5] == [401] * 5 and statuses[-1] == 429, statuses
            r = c.get("/v1/programs")
            _is_problem(r, 429, "rate limit exceeded")
            assert r.headers["retry-after"] == "60"
            assert c.get("/healthz").status_code == 200


def test_a_generated_python_client_runs_against_the_live_api(proxy: str, tmp_path: Path) -> None:
    """openapi-python-client generates a client from the document the gateway serves; a
    script uses it as an integrator would: typed bodies in, typed models and problems out."""
    spec = tmp_path / "openapi.json"
    spec.write_bytes(httpx.get(f"{proxy}/openapi.json").content)
    tool = Path(sys.executable).parent / "openapi-python-client"
    made = subprocess.run(
        [str(tool), "generate", "--path", str(spec), "--meta", "none",
         "--output-path", str(tmp_path / "binome_client")],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert made.returncode == 0, made.stdout + made.stderr
    script = tmp_path / "integrator.py"
    script.write_text(INTEGRATOR)
    settings = Settings()
    tokens = {
        role: auth(settings, org="pyclient", role=role)["Authorization"].removeprefix("Bearer ")
        for role in ("admin", "hris")
    }
    ran = subprocess.run(
        [sys.executable, str(script), proxy, tokens["admin"], tokens["hris"]],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ran.stdout.splitlines() == [
        "hired: py-1 applied",
        "employee: Ann Python (Engineering)",
        "programme: Python client (draft)",
        "listed: 2 ['Python client', 'Python client, again']",
        "missing programme: 404 program not found",
        "accept unknown match: 404",
        "rejected: 422 body.name",
    ]


# What an integrator writes with the generated client (run in its own process).
INTEGRATOR = """
import sys

from binome_client import AuthenticatedClient
from binome_client.api.employees import get_employee
from binome_client.api.hris import push_hris_events
from binome_client.api.matches import accept
from binome_client.api.programs import create_program, get_program, list_programs
from binome_client.models import (
    AcceptRequest, EmployeeIn, EmployeePublic, HrisBatch, HrisProfileEvent, HrisProfileEventType,
    Problem, ProgramCreate, ProgramPage, ProgramPublic,
)

url, admin_token, hris_token = sys.argv[1:]
admin = AuthenticatedClient(base_url=url, token=admin_token)
hris = AuthenticatedClient(base_url=url, token=hris_token)

ann = EmployeeIn(id="ann", name="Ann Python", department="Engineering", level=7)
hired = HrisProfileEvent(event_id="py-1", type_=HrisProfileEventType.HIRED, employee=ann)
batch = HrisBatch(events=[hired])
pushed = push_hris_events.sync(client=hris, body=batch)
print(f"hired: {pushed.results[0].event_id} {pushed.results[0].status.value}")

employee = get_employee.sync("ann", client=admin)
assert isinstance(employee, EmployeePublic), employee
print(f"employee: {employee.name} ({employee.department})")

program = create_program.sync(client=admin, body=ProgramCreate(name="Python client"))
assert isinstance(program, ProgramPublic), program
print(f"programme: {program.name} ({program.status})")
create_program.sync(client=admin, body=ProgramCreate(name="Python client, again"))
names, cursor = [], None  # a list walked page by page, one programme a page
while True:
    page = list_programs.sync(client=admin, limit=1, **({"cursor": cursor} if cursor else {}))
    assert isinstance(page, ProgramPage), page
    names += [p.name for p in page.items]
    cursor = page.next_cursor
    if not cursor:
        break
print(f"listed: {page.total} {names}")

missing = get_program.sync("nope", client=admin)
assert isinstance(missing, Problem), missing
print(f"missing programme: {missing.status} {missing.detail}")

# An action whose body is all defaults: the client sends {} (an optional body would be UNSET).
refused = accept.sync_detailed("no-such-match", client=admin, body=AcceptRequest())
print("accept unknown match:", refused.status_code.value)

bad = create_program.sync_detailed(client=admin, body=ProgramCreate(name=""))
assert isinstance(bad.parsed, Problem), bad
print("rejected:", bad.status_code.value, ".".join(str(x) for x in bad.parsed.errors[0].loc))
"""
