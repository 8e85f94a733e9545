"""Employees as a CSV file (RFC 4180, UTF-8, a header row) read into HRIS records, line by
line: pure, no I/O. Each line is judged on its own and an error names its line (the header
is line 1) and its column."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass

from pydantic import ValidationError

from services.enrollment.models import EmployeeIn
from shared.api import NUL_REFUSED

REQUIRED = ("id", "name")
# The columns a file may hold: the HRIS record's fields. Languages are separated by `;`.
COLUMNS = tuple(EmployeeIn.model_fields)
MAX_LINES = 100_000  # applied in chunks of an HRIS batch's size, in one transaction


@dataclass(frozen=True)
class Line:
    number: int  # in the file, the header being 1
    employee: EmployeeIn


@dataclass(frozen=True)
class LineError:
    number: int  # 0: the file as a whole (its header)
    column: str | None
    message: str


def _value(column: str, raw: str) -> object:
    if column == "languages":
        return [part for part in raw.split(";") if part.strip()]
    if column == "level":
        try:
            return int(raw)
        except ValueError:
            return raw  # refused below, naming the column: "a valid integer"
    return raw


def read(text: str) -> tuple[list[Line], list[LineError]]:
    """The employees a file holds, and the errors of the lines that hold none."""
    if "\x00" in text:  # no database stores it (PostgreSQL refuses it)
        return [], [LineError(0, None, NUL_REFUSED)]
    reader = csv.reader(io.StringIO(text, newline=""))
    header = [h.strip() for h in next(reader, [])]
    unknown = [h for h in header if h not in COLUMNS]
    missing = [c for c in REQUIRED if c not in header]
    problems = [LineError(0, h, f"unknown column {h!r}") for h in unknown]
    problems += [LineError(0, c, f"missing column {c!r}") for c in missing]
    if len(set(header)) != len(header):
        problems.append(LineError(0, None, "a column is named twice"))
    if problems:
        return [], problems
    lines: list[Line] = []
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
        values = {c: _value(c, v.strip()) for c, v in zip(header, row, strict=True) if v.strip()}
        try:
            lines.append(Line(number, EmployeeIn.model_validate(values)))
        except ValidationError as exc:
            for e in exc.errors(include_url=False):
                column = str(e["loc"][0]) if e["loc"] else None
                errors.append(LineError(number, column, e["msg"]))
    return lines, errors
