"""Row-level access, the one way every service scopes reads: by organisation, then by owner.

Admins see every row of their organisation; employees see the rows they own (as participant,
mentor, mentee or author). Anything else is reported as not found, so ids of other tenants or
other people's records reveal nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import or_
from sqlmodel.ext.asyncio.session import AsyncSession

from shared.auth import Principal
from shared.errors import NotFound

Row = TypeVar("Row")


def can_see(principal: Principal, *, org: str, owners: Iterable[str | None]) -> bool:
    return org == principal.org and (principal.is_admin or principal.employee_id in set(owners))


async def get_visible(
    session: AsyncSession,
    model: type[Row],
    key: Any,
    principal: Principal,
    *,
    owners: Callable[[Row], Iterable[str | None]],
    what: str,
) -> Row:
    row = await session.get(model, key)
    if row is None or not can_see(principal, org=row.org, owners=owners(row)):  # type: ignore[attr-defined]
        raise NotFound(f"{what} not found")
    return row


def scoped(query: Any, model: Any, principal: Principal, *owner_columns: Any) -> Any:
    """`query` narrowed to the principal's organisation and, for employees, to their rows."""
    query = query.where(model.org == principal.org)
    if not principal.is_admin:
        query = query.where(or_(*(column == principal.employee_id for column in owner_columns)))
    return query
