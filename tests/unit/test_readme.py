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
