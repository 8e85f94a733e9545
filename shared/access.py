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
    for_update: bool = False,
) -> Row:
    """The row if the principal may see it, else NotFound. `for_update` locks it for the
    transaction on PostgreSQL, for use cases that change it: two concurrent state changes of
    one row then take turns instead of both deciding on the same old state."""
    row = await session.get(model, key, with_for_update=for_update)
    if row is None or not can_see(principal, org=row.org, owners=owners(row)):  # type: ignore[attr-defined]
        raise NotFound(f"{what} not found")
    return row


def scoped(query: Any, model: Any, principal: Principal, *owner_columns: Any) -> Any:
    """`query` narrowed to the principal's organisation and, for employees, to their rows."""
    query = query.where(model.org == principal.org)
    if not principal.is_admin:
        query = query.where(or_(*(column == principal.employee_id for column in owner_columns)))
    return query
