"""Every input has a bound the OpenAPI document states (and the server enforces: the fuzzer's
negative-data check sends what exceeds it, tests/api/test_fuzz.py): each string a caller
sends has a maximum length (or is a date, a time, a duration or one of fixed values), each
list a maximum number of items, each map a maximum number of keys or named keys. Nothing
unbounded is stored, scored or echoed."""

from __future__ import annotations

from typing import Any

from services.proxy import combined_openapi

FIXED_SIZE_FORMATS = {"date-time", "date", "duration", "time", "uuid"}


def _unbounded(document: dict[str, Any]) -> list[str]:
    schemas = document["components"]["schemas"]
    found: list[str] = []

    def walk(node: dict[str, Any], where: str, seen: frozenset[str]) -> None:
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            if name not in seen:
                walk(schemas[name], name, seen | {name})
            return
        for key in ("anyOf", "oneOf", "allOf"):
            for option in node.get(key, []):  # `propertyNames` beside them bounds them too
                names = {"propertyNames": node["propertyNames"]} if "propertyNames" in node else {}
                walk({**option, **names}, where, seen)
        kind = node.get("type")
        if kind == "string":
            bounded = {"maxLength", "enum", "const"} & node.keys()
            if not bounded and node.get("format") not in FIXED_SIZE_FORMATS:
                found.append(f"{where}: a string without maxLength")
        elif kind == "array":
            if "maxItems" not in node:
                found.append(f"{where}: a list without maxItems")
            walk(node.get("items", {}), f"{where}[]", seen)
        if "properties" in node or kind == "object":
            for name, value in node.get("properties", {}).items():
                walk(value, f"{where}.{name}", seen)
            extra = node.get("additionalProperties")
            if isinstance(extra, dict):
                named = "enum" in node.get("propertyNames", {})
                if "maxProperties" not in node and not named:
                    found.append(f"{where}: a map without maxProperties")
                walk(extra, f"{where}.*", seen)

    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            content = operation.get("requestBody", {}).get("content", {})
            for media in content.values():
                walk(media.get("schema", {}), f"{where} body", frozenset())
            for p in operation.get("parameters", []):
                walk(p["schema"], f"{where} {p['in']}.{p['name']}", frozenset())
    return sorted(set(found))


def test_every_input_is_bounded() -> None:
    assert _unbounded(combined_openapi()) == []


def test_the_check_finds_an_unbounded_input() -> None:
    document = combined_openapi()
    schema = document["components"]["schemas"]["ProgramCreate"]["properties"]["name"]
    del schema["maxLength"]
    assert _unbounded(document) == ["ProgramCreate.name: a string without maxLength"]
