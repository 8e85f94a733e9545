"""SCIM filters (RFC 7644 §3.4.2.2) as SQL, where every attribute they name is a column.

scim2-models parses and validates the filter (a bad one is a 400 `invalidFilter` before the
storage is asked); this module walks its tree. An attribute the directory holds as a column
(userName, externalId, id, displayName, active, department, manager...) becomes a `WHERE`
on that column, so the filter identity providers send before each creation (`userName eq
"..."`) is an index lookup. A filter naming anything else (a phone number, an email's type)
is answered by `translate` returning None: the storage then evaluates it on each user.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from scim2_models import InvalidFilterException, ScimFilter
from scim2_models.path.expressions import (
    CompareOperator,
    Comparison,
    FilterNode,
    LogicalExpr,
    LogicalOperator,
    Not,
    Present,
)
from sqlalchemy import ColumnElement, and_, func, not_, or_, true

from services.enrollment.domain import fold
from services.enrollment.scim.mapping import CORE, ENTERPRISE


class Kind(Enum):
    exact = "exact"  # a string compared as is (caseExact)
    folded = "folded"  # a string compared without case
    key = "key"  # a column holding the folded value already (login_key)
    flag = "flag"  # a boolean expression (active)
    instant = "instant"  # a dateTime


@dataclass(frozen=True)
class Column:
    expression: Any  # a SQLAlchemy column or boolean expression
    kind: Kind


def columns(employee: Any, *, terminated: str) -> dict[str, Column]:
    """The attributes a filter may name that are columns of `employee` (the table)."""
    folded, exact = Kind.folded, Kind.exact
    return {
        f"{CORE}:id": Column(employee.id, exact),
        f"{CORE}:userName": Column(employee.login_key, Kind.key),
        f"{CORE}:externalId": Column(employee.external_id, exact),
        f"{CORE}:displayName": Column(employee.name, folded),
        f"{CORE}:name.formatted": Column(employee.name, folded),
        f"{CORE}:timezone": Column(employee.timezone, exact),
        f"{CORE}:active": Column(employee.status != terminated, Kind.flag),
        f"{CORE}:meta.created": Column(employee.created_at, Kind.instant),
        f"{CORE}:meta.lastModified": Column(employee.updated_at, Kind.instant),
        f"{ENTERPRISE}:department": Column(employee.department, folded),
        f"{ENTERPRISE}:manager.value": Column(employee.manager_id, exact),
    }


def translate(
    scim_filter: ScimFilter[Any], table: Mapping[str, Column]
) -> ColumnElement[bool] | None:
    """The filter as a WHERE clause, or None when it names an attribute that is no column."""
    try:
        return _Sql(scim_filter, table).visit(scim_filter.ast)
    except _NotAColumn:
        return None


class _NotAColumn(Exception):
    pass


class _Sql:
    def __init__(self, scim_filter: ScimFilter[Any], table: Mapping[str, Column]) -> None:
        self.filter, self.table = scim_filter, table

    def visit(self, node: FilterNode) -> ColumnElement[bool]:
        if isinstance(node, LogicalExpr):
            terms = [self.visit(t) for t in node.terms]
            return and_(*terms) if node.op == LogicalOperator.and_ else or_(*terms)
        if isinstance(node, Not):
            return not_(self.visit(node.expr))
        if isinstance(node, Present):
            column = self._column(node)
            if column.kind is Kind.flag:
                return true()
            if column.kind is Kind.key:  # every user has a userName
                return true()
            return and_(column.expression.is_not(None), column.expression != "")
        if isinstance(node, Comparison):
            return self._comparison(node)
        raise _NotAColumn  # a value path (emails[type eq "work"]): evaluated per user

    def _column(self, node: Comparison | Present) -> Column:
        binding = self.filter.resolve_comparison(node.attr_path, strict=False)
        if binding is None or binding.urn not in self.table:
            raise _NotAColumn
        return self.table[binding.urn]

    def _comparison(self, node: Comparison) -> ColumnElement[bool]:
        column = self._column(node)
        op, value = node.op, node.value
        if column.kind is Kind.flag:
            if not isinstance(value, bool):
                raise InvalidFilterException(detail=f"{node.attr_path} is a boolean")
            if op == CompareOperator.eq:
                return column.expression if value else not_(column.expression)
            if op == CompareOperator.ne:
                return not_(column.expression) if value else column.expression
            raise InvalidFilterException(detail=f"{op} does not compare booleans")
        if value is None:  # `eq null`: the attribute is absent (RFC 7644 §3.4.2.2)
            absent = column.expression.is_(None)
            if op == CompareOperator.eq:
                return absent
            if op == CompareOperator.ne:
                return not_(absent)
            raise InvalidFilterException(detail=f"{op} does not compare with null")
        expression = column.expression
        if column.kind is Kind.instant:
            value = _instant(value, node)
            return _compare(expression, op, value, node)
        if not isinstance(value, str):
            raise InvalidFilterException(detail=f"{node.attr_path} is a string")
        if column.kind is Kind.folded:
            expression, value = func.lower(expression), value.lower()
        elif column.kind is Kind.key:
            value = fold(value)
        if op in (CompareOperator.co, CompareOperator.sw, CompareOperator.ew):
            pattern = _escape(value)
            pattern = {"co": f"%{pattern}%", "sw": f"{pattern}%", "ew": f"%{pattern}"}[op]
            return expression.like(pattern, escape="\\")
        return _compare(expression, op, value, node)


def _compare(expression: Any, op: CompareOperator, value: Any, node: Comparison) -> Any:
    match op:
        case CompareOperator.eq:
            return expression == value
        case CompareOperator.ne:
            # An absent attribute is "not equal" to a value (RFC 7644 §3.4.2.2).
            return or_(expression.is_(None), expression != value)
        case CompareOperator.gt:
            return expression > value
        case CompareOperator.ge:
            return expression >= value
        case CompareOperator.lt:
            return expression < value
        case CompareOperator.le:
            return expression <= value
    raise InvalidFilterException(detail=f"{op} does not apply to {node.attr_path}")


def _instant(value: Any, node: Comparison) -> datetime:
    try:
        at = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidFilterException(detail=f"{node.attr_path} takes a dateTime") from None
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def _escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
