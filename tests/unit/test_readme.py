"""The README's event catalogue is the code's: producers, consumers and keys."""

from __future__ import annotations

import re
from pathlib import Path

from services import load_all
from shared.events import _REGISTRY, producer_of

README = Path(__file__).resolve().parents[2] / "README.md"


def test_event_catalogue_matches_the_code() -> None:
    rows = re.findall(
        r"^\| `(binome\.[^`]+)` \| (\w+) \| ([^|]+) \| `(\w+)` \|$",
        README.read_text(),
        re.MULTILINE,
    )
    documented = {t: (p, c.strip(), k) for t, p, c, k in rows}
    definitions = load_all()
    actual = {}
    for type_, contract in _REGISTRY.items():
        if not type_.startswith("binome.") or producer_of(type_) == "testkit":
            continue
        consumers = ", ".join(d.name for d in definitions if type_ in d.handlers) or "—"
        actual[type_] = (producer_of(type_), consumers, contract.KEY)
    assert documented == actual


def test_settings_table_matches_the_settings() -> None:
    from shared.settings import Settings

    documented = set(re.findall(r"^\| `BINOME_(\w+)`", README.read_text(), re.MULTILINE))
    documented |= {
        name
        for pair in re.findall(r"^\| `BINOME_(\w+)` / `BINOME_(\w+)`", README.read_text(), re.M)
        for name in pair
    }
    assert documented == {name.upper() for name in Settings.model_fields}


def test_ops_endpoints_are_documented() -> None:
    from shared import health

    ops = {getattr(r, "path", "") for r in health.router.routes}
    text = README.read_text()
    assert ops and all(f"{path}`" in text for path in ops), ops


def test_kpi_definitions_table_matches_the_code() -> None:
    from services.reporting.domain import DEFINITIONS, KpiGroup

    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (\w+) \| (.+) \|$", README.read_text(), re.M)
    groups = {g.value for g in KpiGroup}
    documented = {name: (group, unit, text) for name, group, unit, text in rows if group in groups}
    assert documented == {n: (d.group.value, d.unit, d.text) for n, d in DEFINITIONS.items()}


def test_trend_and_export_tables_match_the_code() -> None:
    from services.reporting.domain import TRENDS
    from services.reporting.exports import COLUMNS

    text = README.read_text()
    section = text[text.index("### Trends") : text.index("### Exports")]
    rows = re.findall(r"^\| `(\w+)` \| (\w+) \| (.+) \|$", section, re.M)
    assert {n: (u, t) for n, u, t in rows} == {n: (d.unit, d.text) for n, d in TRENDS.items()}
    section = text[text.index("### Exports") : text.index("## The matching engine")]
    rows = re.findall(r"^\| `(\w+)` \| (`.+`) \|$", section, re.M)
    assert {t: tuple(re.findall(r"`(\w+)`", cols)) for t, cols in rows} == {
        t.value: cols for t, cols in COLUMNS.items()
    }
