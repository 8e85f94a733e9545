"""Reading a /metrics answer as Prometheus does: the official parser, and promtool's lint."""

from __future__ import annotations

import subprocess

from prometheus_client.parser import text_string_to_metric_families


def samples(text: str) -> dict[tuple[str, frozenset], float]:
    """Every sample of an exposition, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(text: str, name: str, **labels: str) -> float | None:
    """One sample's value (None: not exposed)."""
    return samples(text).get((name, frozenset(labels.items())))


def promtool_lint(text: str) -> subprocess.CompletedProcess[str]:
    """`promtool check metrics`: the exposition format and Prometheus's naming conventions."""
    return subprocess.run(
        ["promtool", "check", "metrics"], input=text, capture_output=True, text=True, check=False
    )
