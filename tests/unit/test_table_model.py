"""shared.record.TableModel builds every table model of every service as SQLModel's own
constructor does (the same field values, the same fields set), refuses a keyword that names no
field, and leaves SQLModel's validating path alone."""

from __future__ import annotations

import importlib

import pytest
from sqlalchemy.orm import instrumentation
from sqlmodel._compat import sqlmodel_table_construct

from shared.api import new_id, utcnow
from shared.table_model import TableModel

SERVICES = ("enrollment", "matching", "sessions", "feedback", "reporting")


def _table_models() -> list[type[TableModel]]:
    found = []
    for service in SERVICES:
        base = importlib.import_module(f"services.{service}.models").Base
        assert issubclass(base, TableModel), service
        found += [mapper.class_ for mapper in base._sa_registry.mappers]
    return sorted(found, key=lambda cls: cls.__module__ + cls.__name__)


def _sqlmodels_own(cls: type[TableModel], data: dict) -> TableModel:
    row = instrumentation.manager_of_class(cls).new_instance()
    sqlmodel_table_construct(self_instance=row, values=dict(data))
    return row


def _keys(cls: type[TableModel]) -> set[str]:
    return {column.name for column in cls.__table__.primary_key.columns}  # type: ignore[attr-defined]


def _fields(row: TableModel) -> dict:
    return {k: v for k, v in row.__dict__.items() if not k.startswith("_sa_")}


@pytest.mark.parametrize("cls", _table_models(), ids=lambda cls: f"{cls.__module__}.{cls.__name__}")
def test_a_row_is_built_as_sqlmodel_builds_it(cls: type[TableModel]) -> None:
    # Every required field given, and every other optional one: the rest take their defaults.
    data = {}
    for i, (name, field) in enumerate(cls.model_fields.items()):
        if field.is_required() or i % 2:
            data[name] = f"value of {name}"
    ours, theirs = _fields(cls(**data)), _fields(_sqlmodels_own(cls, data))
    assert ours.keys() == theirs.keys()
    for name, value in ours.items():
        factory = cls.model_fields[name].default_factory
        if value != theirs[name]:  # only a factory of fresh values (a time, an id) differs
            assert factory in (utcnow, new_id), name
            assert type(value) is type(theirs[name]), name
    assert cls(**data).model_fields_set == set(data)
    # The same values as a plain row, but for a key left None for the database to number.
    numbered = {name for name, value in ours.items() if value is None and name not in data}
    assert cls.filled(**data).keys() == ours.keys() - (numbered & _keys(cls))
    assert len(cls.model_fields) > 0


def test_mutable_defaults_are_not_shared_and_unknown_keywords_are_refused() -> None:
    from services.enrollment.models import Employee

    a = Employee(org="o", id="a", name="A")
    b = Employee(org="o", id="b", name="B")
    a.languages.append("fr")
    assert b.languages == []
    with pytest.raises(TypeError, match="no field named nmae"):
        Employee(org="o", id="c", nmae="C")


def test_validating_a_table_model_still_validates() -> None:
    from services.enrollment.models import Employee

    row = Employee.model_validate({"org": "o", "id": "v", "name": "V", "level": "3"})
    assert row.level == 3 and row.name == "V" and row.languages == []


def test_a_model_on_a_service_base_that_is_no_table_is_validated() -> None:
    from pydantic import ValidationError

    from services.enrollment.models import ParticipantCreate

    line = ParticipantCreate(
        program_id="p", employee_id="e", role="mentor", skills_offered=[" Python "]
    )
    assert line.skills_offered != [" Python "]  # the tags' normalisation ran
    with pytest.raises(ValidationError, match="capacity"):
        ParticipantCreate(program_id="p", employee_id="e", role="mentor", capacity=-1)


def test_a_plain_row_leaves_a_key_the_database_numbers_out() -> None:
    from services.reporting.models import TallyPending

    row = TallyPending.filled(kind="match", entity_id="m1")
    assert "seq" not in row and row["program_id"] is None
    assert TallyPending.filled(seq=7, kind="match", entity_id="m1")["seq"] == 7
