"""The monitoring files in deploy/ checked by Prometheus's own tool (`promtool`, installed by
scripts/test.sh from Debian's `prometheus` package): the alert rules load and their unit tests
pass, the scrape configuration is valid, and every query of the Grafana dashboard is valid
PromQL. (That every series they name is exposed is tests/api/test_metrics.py's part.)"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

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
