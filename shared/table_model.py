"""The base of every service's table models: rows built several times faster than SQLModel's.

SQLModel builds a table model without validation (the request models validated the data) but
slowly: per field, it asks pydantic for the default, which inspects the default factory's
signature again on every call (`FieldInfo.default_factory_takes_validated_data` is not
cached for fields, see pydantic#13376 for the same on private attributes), then sets each
value through SQLAlchemy's instrumented `setattr` and pydantic's `__setattr__`. An employee
row cost about 110 us that way, and half of an HRIS push of 1,000 hires went into building
its rows.

`TableModel.__init__` does what SQLModel's does, from a plan made once per class: each field takes
its keyword or its default (mutable defaults copied, factories called), and the values go into
the instance's `__dict__`, which is SQLAlchemy's state dictionary and pydantic's field store
alike. A new row needs no attribute history: its INSERT is made from that dictionary. Later
assignments go through the instrumented `setattr` as before. A keyword that names no field is
refused (SQLModel dropped it silently). `tests/unit/test_table_model.py` builds every table model of
every service both ways and compares.
"""

from __future__ import annotations

import copy
import datetime as dt
import enum
import functools
import uuid
from collections.abc import Callable
from typing import Any

from pydantic_core import PydanticUndefined
from sqlmodel import SQLModel
from sqlmodel._compat import finish_init, is_table_model_class

# Defaults shared as they are: nothing can change them in place. (Any other is deep-copied
# for each row, a tuple too: it may hold what can change.)
_IMMUTABLE = (type(None), bool, int, float, str, bytes, enum.Enum, uuid.UUID, dt.date,
              dt.datetime, dt.time, dt.timedelta)  # fmt: skip

# Per field: its name, the keyword that may carry it (its alias, if any), and how to make
# its default: None when the field is required.
_Plan = tuple[tuple[str, str | None, Callable[[], Any] | None], ...]


def _default_maker(default: Any, factory: Callable[[], Any] | None) -> Callable[[], Any] | None:
    if factory is not None:
        return factory
    if default is PydanticUndefined:
        return None
    if isinstance(default, _IMMUTABLE):
        return lambda: default
    return lambda: copy.deepcopy(default)


def _plan(cls: type[TableModel]) -> _Plan | None:
    """The class's plan; None for a model that is not a table (a request model on a service's
    base), which SQLModel validates as usual."""
    if "_record_plan" in cls.__dict__:
        return cls.__dict__["_record_plan"]
    plan: _Plan | None = None
    if is_table_model_class(cls):
        fields = []
        for name, field in cls.model_fields.items():
            if field.default_factory is not None and field.default_factory_takes_validated_data:
                raise TypeError(f"{cls.__name__}.{name}: a default factory taking the data")
            factory = field.default_factory
            maker = _default_maker(field.default, factory)  # type: ignore[arg-type]
            fields.append((name, field.alias if field.alias != name else None, maker))
        plan = tuple(fields)
    type.__setattr__(cls, "_record_plan", plan)  # a plain class attribute, not a column
    return plan


@functools.cache
def _names(plan: _Plan) -> frozenset[str]:
    return frozenset(name for name, _, _ in plan)


class TableModel(SQLModel):
    """A table model's base (each service's `Base` derives from it; see the module). Its
    models that are not tables (request models) are validated by SQLModel as before."""

    def __init__(__pydantic_self__, **data: Any) -> None:
        self = __pydantic_self__
        # SQLModel's `model_validate` creates the instance with this flag down, then validates.
        if not finish_init.get():
            return
        plan = _plan(type(self))
        if plan is None:
            super().__init__(**data)
            return
        values, given = _fill(type(self).__name__, plan, data)
        self.__dict__.update(values)
        object.__setattr__(self, "__pydantic_fields_set__", given)

    @classmethod
    def filled(cls, **data: Any) -> dict[str, Any]:
        """A new row's values as a dictionary: those given, and the defaults of the others
        (for rows written as plain values: `UnitOfWork.insert`)."""
        plan = _plan(cls)
        if plan is None:
            raise TypeError(f"{cls.__name__} is not a table")
        values = _fill(cls.__name__, plan, data)[0]
        for name in _numbered(cls):  # left None: the database numbers it (as the ORM lets it)
            if values.get(name, 0) is None:
                del values[name]
        return values


@functools.cache
def _numbered(cls: type[TableModel]) -> tuple[str, ...]:
    """The primary-key fields defaulting to None: the database numbers those rows."""
    keys = {column.name for column in cls.__table__.primary_key.columns}  # type: ignore[attr-defined]
    return tuple(
        name for name, field in cls.model_fields.items()
        if name in keys and field.default is None and field.default_factory is None
    )  # fmt: skip


def _fill(model: str, plan: _Plan, data: dict[str, Any]) -> tuple[dict[str, Any], set[str]]:
    """The values of a new row (`data` with defaults for the rest), and the fields given."""
    if data.keys() == _names(plan):  # every field given (a row filled already)
        return data, set(data)
    values: dict[str, Any] = {}
    given: set[str] = set()
    for name, alias, default in plan:
        if alias is not None and alias in data:
            values[name] = data.pop(alias)
            given.add(name)
        elif name in data:
            values[name] = data.pop(name)
            given.add(name)
        elif default is not None:
            values[name] = default()
        # A required field not given stays unset, as with SQLModel (reads None).
    if data:
        raise TypeError(f"{model}: no field named {', '.join(sorted(data))}")
    return values, given
