"""The AsyncAPI 3.0 document of the events: generated from the contracts, kept current in
docs/asyncapi.json, and valid for the AsyncAPI parser (npm's @asyncapi/parser, installed by
scripts/test.sh into tests/js)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from services import load_all
from shared.asyncapi import document
from shared.events import _REGISTRY

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "asyncapi.json"


def parse(path: Path) -> tuple[int, dict]:
    done = subprocess.run(
        ["node", "validate-asyncapi.mjs", str(path)],
        cwd=ROOT / "tests" / "js",
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.returncode, json.loads(done.stdout or "{}")


def test_the_repositorys_document_is_the_generated_one() -> None:
    generated = document(load_all())
    assert json.loads(DOC.read_text()) == generated, "regenerate docs/asyncapi.json"
    types = {t for t in _REGISTRY if t.startswith("binome.") and ".testkit." not in t}
    assert {m["name"] for m in generated["components"]["messages"].values()} == types
    # Each service sends on its own channel and receives what its handlers take.
    reporting = generated["operations"]["reporting.receive.matching"]
    assert reporting["action"] == "receive"
    assert generated["operations"]["matching.send"]["channel"] == {"$ref": "#/channels/matching"}


def test_the_asyncapi_parser_accepts_it() -> None:
    code, report = parse(DOC)
    assert code == 0 and report["valid"], report
    assert report["messages"] == len(document(load_all())["components"]["messages"])


def test_the_asyncapi_parser_catches_a_mistake(tmp_path: Path) -> None:
    broken = json.loads(DOC.read_text())
    broken["operations"]["matching.send"]["action"] = "sned"
    (tmp_path / "broken.json").write_text(json.dumps(broken))
    code, report = parse(tmp_path / "broken.json")
    assert code == 1 and not report["valid"] and report["errors"]
