"""The monitoring files in deploy/ checked by Prometheus's own tool (`promtool`, installed by
scripts/test.sh from Debian's `prometheus` package): the alert rules load and their unit tests
pass, the scrape configuration is valid, and every query of the Grafana dashboard is valid
PromQL. (That every series they name is exposed is tests/api/test_metrics.py's part.)"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
PROMETHEUS = ROOT / "deploy" / "prometheus"
DASHBOARD = ROOT / "deploy" / "grafana" / "binome.json"
SERIES = re.compile(r"\bbinome_[a-z_]+\b")


def promtool(*args: str, cwd: Path = PROMETHEUS) -> str:
    done = subprocess.run(["promtool", *args], cwd=cwd, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def dashboard_queries() -> list[str]:
    panels = json.loads(DASHBOARD.read_text())["panels"]
    return [t["expr"] for p in panels for t in p["targets"]]


def alert_queries() -> list[str]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return [rule["expr"] for g in groups for rule in g["rules"]]


def referenced_series() -> set[str]:
    """Every Binôme series the dashboard and the alerts query (as exposed: with suffixes)."""
    return {name for q in dashboard_queries() + alert_queries() for name in SERIES.findall(q)}


def test_alert_rules_load_and_fire_as_their_unit_tests_say() -> None:
    assert "SUCCESS: 11 rules found" in promtool("check", "rules", "alerts.yml")
    assert "SUCCESS" in promtool("test", "rules", "alerts.test.yml")


def test_scrape_configuration_is_valid() -> None:
    assert "is valid prometheus config file syntax" in promtool("check", "config", "prometheus.yml")


def test_every_dashboard_query_is_valid_promql(tmp_path: Path) -> None:
    queries = dashboard_queries()
    assert len(queries) >= 17
    # promtool parses queries in rule files: each query becomes a recording rule.
    rules = {
        "groups": [
            {
                "name": "dashboard",
                "rules": [
                    {"record": f"binome:panel_query_{i}", "expr": q} for i, q in enumerate(queries)
                ],
            }
        ]
    }
    (tmp_path / "dashboard-queries.yml").write_text(yaml.safe_dump(rules))
    out = promtool("check", "rules", "dashboard-queries.yml", cwd=tmp_path)
    assert f"SUCCESS: {len(queries)} rules found" in out


def test_a_broken_query_is_caught(tmp_path: Path) -> None:
    """The check above can fail: promtool refuses a query with a syntax error."""
    bad = {"groups": [{"name": "x", "rules": [{"record": "x:y", "expr": "sum(rate(x[5m])"}]}]}
    (tmp_path / "bad.yml").write_text(yaml.safe_dump(bad))
    done = subprocess.run(
        ["promtool", "check", "rules", "bad.yml"], cwd=tmp_path, capture_output=True, check=False
    )
    assert done.returncode != 0


COMPOSE = ROOT / "docker-compose.yml"
# Distroless images: no shell or tool to run a probe in (Prometheus scrapes their health).
NO_PROBE = {"otel-collector", "jaeger"}


def check_jsonschema(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(Path(sys.executable).parent / "check-jsonschema"), *args],
        capture_output=True,
        text=True,
        check=False,
    )


def test_compose_file_is_valid_against_the_compose_specification(tmp_path: Path) -> None:
    ok = check_jsonschema("--builtin-schema", "vendor.compose-spec", str(COMPOSE))
    assert ok.returncode == 0, ok.stdout + ok.stderr
    # The validator catches a mistyped key (the check can fail).
    bad = tmp_path / "compose.yml"
    bad.write_text(
        COMPOSE.read_text().replace("    image: postgres:15.10", "    imagee: postgres:15.10")
    )
    refused = check_jsonschema("--builtin-schema", "vendor.compose-spec", str(bad))
    assert refused.returncode != 0 and "'imagee' was unexpected" in refused.stdout


def test_compose_probes_everything_and_publishes_on_loopback_only() -> None:
    compose = yaml.safe_load(COMPOSE.read_text())
    anchors = compose["x-service"]
    for name, service in compose["services"].items():
        if name not in NO_PROBE:  # the services' probe comes from the x-service anchor
            probe = service.get("healthcheck")
            assert probe or service.get("build") == anchors["build"], f"{name}: no healthcheck"
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name} publishes {port} beyond loopback"


def test_compose_requires_the_jwt_secret() -> None:
    """No public fallback: compose refuses to start unless the operator gives a secret."""
    text = COMPOSE.read_text()
    assert "BINOME_JWT_SECRET:-" not in text and "change-me" not in text
    env = yaml.safe_load(text)["x-service"]["environment"]
    assert env["BINOME_JWT_SECRET"].startswith("${BINOME_JWT_SECRET:?"), env


def test_the_image_runs_unprivileged_with_a_healthcheck_and_exec_form() -> None:
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    assert re.search(r"^USER 10001$", dockerfile, flags=re.M)
    assert "HEALTHCHECK" in dockerfile and "/readyz" in dockerfile
    cmd = next(line for line in dockerfile.splitlines() if line.startswith("CMD "))
    assert '"exec binome serve' in cmd  # the server replaces the shell as PID 1
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".venv", ".cache", "data", "**/__pycache__"} <= set(ignored)


def test_every_third_party_image_is_pinned_to_a_release() -> None:
    """A floating tag (`postgres:15`, `nginx:1.28-alpine`, `latest`) changes under a deploy;
    every image names a full release (x.y.z; PostgreSQL's x.y). Ours (`binome`) is tagged by
    the build."""
    dockerfile = (ROOT / "deploy" / "Dockerfile").read_text()
    images = re.findall(r"^FROM (\S+)", dockerfile, flags=re.M)
    compose = yaml.safe_load(COMPOSE.read_text())
    images += [s["image"] for s in compose["services"].values() if "image" in s]
    manifests = yaml.safe_load_all(kustomize_build(K8S))
    images += [
        c["image"]
        for doc in manifests
        if doc and doc.get("kind") in ("Deployment", "StatefulSet", "Job")
        for c in doc["spec"]["template"]["spec"]["containers"]
    ]

    def released(image: str) -> bool:  # PostgreSQL numbers its releases major.minor
        parts = 2 if image.startswith("postgres:") else 3
        return re.search(r":v?\d+" + r"\.\d+" * (parts - 1) + r"(-|$)", image) is not None

    floating = [i for i in images if not i.startswith("binome") and not released(i)]
    assert len(images) >= 8 and not floating, (images, floating)


def _pinned(lock: Path) -> dict[str, str]:
    pins = {}
    for line in lock.read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            pins[_normal(name)] = version
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", re.split(r"[<>=\[;~! ]", name.strip(), maxsplit=1)[0]).lower()


def test_the_locks_pin_every_dependency_and_agree() -> None:
    """requirements.lock (the image) and requirements-dev.lock (tests, CI) pin every
    dependency pyproject.toml declares, and the same version where both have it."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    runtime = _pinned(ROOT / "requirements.lock")
    dev = _pinned(ROOT / "requirements-dev.lock")
    assert {_normal(d) for d in project["dependencies"]} <= set(runtime)
    assert {_normal(d) for d in project["optional-dependencies"]["dev"]} <= set(dev)
    assert all(dev[name] == version for name, version in runtime.items())


K8S = ROOT / "deploy" / "k8s"
K8S_VERSION = "1.33.0"
SERVICES = ("enrollment", "matching", "sessions", "feedback", "reporting")


def kustomize_build(path: Path) -> str:
    tool = os.environ.get("TEST_KUSTOMIZE") or shutil.which("kustomize")
    assert tool, "kustomize is installed by scripts/test.sh (scripts/lib/kustomize.sh)"
    done = subprocess.run([tool, "build", str(path)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    return done.stdout


def k8s_validate(manifests: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "kubernetes-validate"
    return subprocess.run(
        [str(tool), "-k", K8S_VERSION, "--strict", "--quiet", str(manifests)],
        capture_output=True,
        text=True,
        check=False,
    )


def test_kubernetes_manifests_are_valid_and_complete(tmp_path: Path) -> None:
    built = tmp_path / "binome.yaml"
    built.write_text(kustomize_build(K8S))
    valid = k8s_validate(built)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    docs = [d for d in yaml.safe_load_all(built.read_text()) if d]
    by_kind: dict[str, dict[str, dict]] = {}
    for d in docs:
        by_kind.setdefault(d["kind"], {})[d["metadata"]["name"]] = d
    deployments = by_kind["Deployment"]
    assert set(deployments) == {f"binome-{s}" for s in SERVICES} | {"binome-gateway"}
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]
        (container,) = pod["spec"]["containers"]
        assert container["resources"]["requests"] and container["resources"]["limits"]
        assert pod["spec"]["securityContext"]["runAsNonRoot"] is True
        # Every pod is selected by its own PDB.
        labels = pod["metadata"]["labels"]
        pdbs = [
            p for p in by_kind["PodDisruptionBudget"].values()
            if p["spec"]["selector"]["matchLabels"].items() <= labels.items()
        ]  # fmt: skip
        assert len(pdbs) == 1, name
        if name == "binome-gateway":
            continue
        service = name.removeprefix("binome-")
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env == {"SERVICE": service, "OTEL_SERVICE_NAME": service}
        # Probes mapped to what each endpoint means (shared/health.py).
        assert container["livenessProbe"]["httpGet"]["path"] == "/livez"
        assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
        hpa = by_kind["HorizontalPodAutoscaler"][name]
        assert hpa["spec"]["scaleTargetRef"]["name"] == name
        metrics = {m["type"]: m for m in hpa["spec"]["metrics"]}
        assert metrics["Pods"]["pods"]["metric"]["name"] == "binome_consumer_lag"
        assert by_kind["Service"][name]["spec"]["selector"].items() <= labels.items()
    # The configuration every service reads exists under the name kustomize gave it.
    (config,) = [n for n in by_kind["ConfigMap"] if n.startswith("binome-config")]
    assert all(
        c["envFrom"][0]["configMapRef"]["name"] == config
        for n, d in deployments.items() if n != "binome-gateway"
        for c in d["spec"]["template"]["spec"]["containers"]
    )  # fmt: skip


GATEWAY = K8S / "gateway"


def test_the_gateway_runs_the_generated_nginx_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """deploy/k8s/gateway holds what `binome proxy-config` writes for the cluster's service
    names (compose gives its services the same names), mounted where nginx reads it."""
    from services.proxy import Layout, write

    for name in [n for n in os.environ if n.startswith("BINOME_")]:
        monkeypatch.delenv(name)  # the deployment's defaults, not the suite's settings

    urls = {s: f"http://binome-{s}:8000" for s in SERVICES}
    for generated in write(tmp_path, urls, Layout(root="/etc/binome-proxy", listen="8000")):
        committed = GATEWAY / generated.name
        assert committed.read_text() == generated.read_text(), (
            f"regenerate {committed} (the command is in its kustomization.yaml)"
        )
    docs = [d for d in yaml.safe_load_all(kustomize_build(K8S)) if d]
    (maps,) = [d for d in docs if d["kind"] == "ConfigMap" and "nginx.conf" in d["data"]]
    assert maps["data"]["nginx.conf"] == (GATEWAY / "nginx.conf").read_text()
    (gateway,) = [d for d in docs if d["metadata"]["name"] == "binome-gateway"
                  and d["kind"] == "Deployment"]  # fmt: skip
    pod = gateway["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"][-4:] == ["-c", "/etc/binome-proxy/nginx.conf", "-g", "daemon off;"]
    volumes = {v["name"]: v for v in pod["volumes"]}
    mounts = {m["mountPath"]: volumes[m["name"]] for m in container["volumeMounts"]}
    assert mounts["/etc/binome-proxy"]["configMap"]["name"] == maps["metadata"]["name"]
    # Compose runs the same files, and its services answer to the cluster's names.
    compose = yaml.safe_load(COMPOSE.read_text())["services"]
    assert compose["gateway"]["command"] == container["command"]
    assert "./deploy/k8s/gateway:/etc/binome-proxy:ro" in compose["gateway"]["volumes"]
    for service in SERVICES:
        assert f"binome-{service}" in compose[service]["networks"]["default"]["aliases"]


def test_the_kubernetes_validator_catches_a_mistake(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    manifests = kustomize_build(K8S).replace("  replicas: 2\n", "  replica: 2\n", 1)
    bad.write_text(manifests)
    refused = k8s_validate(bad)
    assert refused.returncode != 0 and "replica" in refused.stdout + refused.stderr
