"""Files of records as CSV (RFC 4180, UTF-8, a header row) read into the records' request
models, line by line: pure, no I/O. Each line is judged on its own and an error names its line
(the header is line 1) and its column. A list's items are separated by `;`; any other cell is
text, read as the model reads JSON text in lax mode (`3`, `true`, `2019-03-01`)."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from pydantic import BaseModel, ValidationError

from services.enrollment.models import EmployeeIn, ParticipantCreate
from shared.api import NUL_REFUSED

M = TypeVar("M", bound=BaseModel)
MAX_LINES = 100_000  # records a file holds at most


@dataclass(frozen=True)
class Shape(Generic[M]):
    """What a file of these records holds: the model's fields as columns (but `left_out`:
    what a cell cannot hold), the `required` ones, the `lists`."""

    model: type[M]
    required: tuple[str, ...]
    lists: frozenset[str] = frozenset()
    left_out: frozenset[str] = frozenset()

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f for f in self.model.model_fields if f not in self.left_out)


# HRIS records (POST /v1/hris/employees/import).
EMPLOYEES = Shape(EmployeeIn, required=("id", "name"), lists=frozenset({"languages"}))
# Enrolments (POST /v1/participants/import); a questionnaire's answers (a mapping) go by JSON.
PARTICIPANTS = Shape(
    ParticipantCreate,
    required=("program_id", "employee_id", "role"),
    lists=frozenset({"skills_offered", "skills_sought", "themes", "languages", "availability"}),
    left_out=frozenset({"answers"}),
)


@dataclass(frozen=True)
class Line(Generic[M]):
    number: int  # in the file, the header being 1
    record: M


@dataclass(frozen=True)
class LineError:
    number: int  # 0: the file as a whole (its header)
    column: str | None
    message: str


def read(
    text: str, shape: Shape[M], given: Mapping[str, str] | None = None
) -> tuple[list[Line[M]], list[LineError]]:
    """The records a file holds, and the errors of the lines that hold none. `given`: values
    of every line (a request's parameters), columns the file then must not hold."""
    given = given or {}
    if "\x00" in text:  # no database stores it (PostgreSQL refuses it)
        return [], [LineError(0, None, NUL_REFUSED)]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    columns = shape.columns
    problems = [
        LineError(0, h, f"unknown column {h!r}" if h not in columns else f"{h} is a parameter")
        for h in header
        if h not in columns or h in given
    ]
    problems += [
        LineError(0, c, f"missing column {c!r}")
        for c in shape.required
        if c not in header and c not in given
    ]
    if len(set(header)) != len(header):
        problems.append(LineError(0, None, "a column is named twice"))
    if problems:
        return [], problems
    lines: list[Line[M]] = []
    errors: list[LineError] = []
    for row in reader:
        number = reader.line_num
        if not any(cell.strip() for cell in row):
            continue  # a blank line
        if len(lines) + len(errors) == MAX_LINES:
            return lines, [*errors, LineError(number, None, f"at most {MAX_LINES} lines a file")]
        if len(row) != len(header):
            errors.append(LineError(number, None, f"{len(row)} cells for {len(header)} columns"))
            continue
        values: dict[str, object] = dict(given)
        for column, cell in zip(header, row, strict=True):
            if cell.strip():
                items = [part.strip() for part in cell.split(";") if part.strip()]
                values[column] = items if column in shape.lists else cell.strip()
        try:
            lines.append(Line(number, shape.model.model_validate(values, strict=False)))
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                at = str(e["loc"][0]) if e["loc"] else None
                errors.append(LineError(number, at, e["msg"]))
    return lines, errors
