"""Every field and parameter of the API and of the events says what it is and shows a valid
example (shared/vocabulary.py fills what the models leave unsaid)."""

from __future__ import annotations

from typing import Any

import pytest
from jsonschema import Draft202012Validator

from services import load_all
from services.proxy import combined_openapi
from shared.asyncapi import document as asyncapi_document
from shared.vocabulary import FIELDS, IN_SCHEMA, PARAMETERS


@pytest.fixture(scope="module")
def openapi() -> dict[str, Any]:
    return combined_openapi()


@pytest.fixture(scope="module")
def asyncapi() -> dict[str, Any]:
    return asyncapi_document(load_all())


def _is_object(prop: dict[str, Any], schemas: dict[str, Any]) -> bool:
    """A nested object (or a list of them): its own fields carry the examples."""
    for option in [prop, *prop.get("anyOf", [])]:
        inner = option.get("items", option)
        refs = [inner.get("$ref")] + [o.get("$ref") for o in inner.get("oneOf", [])]
        for ref in filter(None, refs):
            if "enum" not in schemas[ref.rsplit("/", 1)[-1]]:
                return True
    return False


def _check(document: dict[str, Any]) -> list[str]:
    schemas = document["components"]["schemas"]
    faults = []
    for schema_name, schema in schemas.items():
        for name, prop in (schema.get("properties") or {}).items():
            where = f"{schema_name}.{name}"
            if not prop.get("description"):
                faults.append(f"{where}: no description")
            examples = prop.get("examples")
            if examples is None:
                if not _is_object(prop, schemas):
                    faults.append(f"{where}: no example")
                continue
            validator = Draft202012Validator({**prop, "components": document["components"]})
            for example in examples:
                for error in validator.iter_errors(example):
                    faults.append(f"{where}: example {example!r} invalid: {error.message}")
    return faults


def test_every_api_field_is_described_with_a_valid_example(openapi: dict[str, Any]) -> None:
    faults = _check(openapi)
    assert not faults, "\n".join(faults)


def test_every_event_field_is_described_with_a_valid_example(asyncapi: dict[str, Any]) -> None:
    faults = _check(asyncapi)
    assert not faults, "\n".join(faults)


def test_every_parameter_is_described_with_a_valid_example(openapi: dict[str, Any]) -> None:
    faults = []
    for path, operations in openapi["paths"].items():
        for method, operation in operations.items():
            for parameter in operation.get("parameters", []):
                where = f"{method.upper()} {path} {parameter['in']}:{parameter['name']}"
                if not parameter.get("description"):
                    faults.append(f"{where}: no description")
                schema = parameter["schema"]
                examples = schema.get("examples", [])
                if not examples:
                    faults.append(f"{where}: no example")
                validator = Draft202012Validator({**schema, "components": openapi["components"]})
                faults += [
                    f"{where}: {e.message}" for x in examples for e in validator.iter_errors(x)
                ]
    assert not faults, "\n".join(faults)


def test_every_entry_of_the_vocabulary_is_used(
    openapi: dict[str, Any], asyncapi: dict[str, Any]
) -> None:
    """No dead words: an entry names a field, a schema's field or a parameter that exists."""
    fields = {
        (schema_name, name)
        for document in (openapi, asyncapi)
        for schema_name, schema in document["components"]["schemas"].items()
        for name in schema.get("properties") or {}
    }
    parameters = {
        f"{p['in']}:{p['name']}"
        for operations in openapi["paths"].values()
        for operation in operations.values()
        for p in operation.get("parameters", [])
    }
    names = {name for _, name in fields}
    unused = [n for n in FIELDS if n not in names]
    unused += [k for k in IN_SCHEMA if tuple(k.split(".", 1)) not in fields]
    unused += [k for k in PARAMETERS if k not in parameters]
    assert not unused, unused
