"""Employees whose access ended: a terminated employee's tokens are refused at once.

A token lives for hours; an employee who leaves the company must not keep acting for that
long. Every service hears the directory's `employee.terminated` (and `employee.hired`, which
brings a rehired employee back) and keeps the list in its own `revoked_employee` table, which
the routes consult after checking the token (shared.api): a revoked employee gets 401.

An erased employee (shared.privacy) stays revoked without being named: their row's id becomes
a one-way digest of the organisation and the id (`digest`), which the check also looks for.
A token minted for them before the erasure is still refused, and no table holds their id.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import Column, DateTime, MetaData, String, Table, delete, insert, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import select as select_scalar

from shared import db
from shared.contracts.enrollment import EmployeeHired, EmployeeTerminated
from shared.events import Event, EventData
from shared.uow import UnitOfWork

TABLE = "revoked_employee"


def revocation_table(metadata: MetaData) -> Table:
    """The service's list of revoked employees, declared once on its own metadata."""
    if TABLE in metadata.tables:
        return metadata.tables[TABLE]
    return Table(
        TABLE,
        metadata,
        Column("org", String(100), primary_key=True),
        Column("employee_id", String(100), primary_key=True),
        Column("revoked_at", DateTime(timezone=True), nullable=False),
    )


def create_revocation_table() -> None:
    """Migration step of every service (its revision "revoked employees")."""
    from alembic import op

    revocation_table(MetaData()).create(op.get_bind())


def drop_revocation_table() -> None:
    from alembic import op

    revocation_table(MetaData()).drop(op.get_bind())


# The statements' view of the table (each service declares it on its own metadata too, for
# its migrations).
_T = revocation_table(MetaData())


def digest(org: str, employee_id: str) -> str:
    """What an erased employee's revocation keeps instead of their id."""
    return "sha256:" + hashlib.sha256(f"{org}\0{employee_id}".encode()).hexdigest()


def forget_cached(uow: UnitOfWork, org: str) -> None:
    """The list as read for this unit of work is stale (an erasure changed it)."""
    uow.memo.pop(f"revocations:{org}", None)


async def _revoked(uow: UnitOfWork, org: str) -> set[str]:
    """The organisation's revoked employees, read once per unit of work (a consumer's batch:
    thousands of hires then cost one query, not one statement each)."""
    key = f"revocations:{org}"
    if key not in uow.memo:
        found = await uow.session.exec(select_scalar(_T.c.employee_id).where(_T.c.org == org))
        uow.memo[key] = set(found.all())
    return uow.memo[key]  # type: ignore[no-any-return]


async def on_terminated(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, EmployeeTerminated)
    revoked = await _revoked(uow, event.org)
    if data.employee_id not in revoked:
        await uow.session.exec(
            insert(_T).values(org=event.org, employee_id=data.employee_id, revoked_at=event.time)
        )
        revoked.add(data.employee_id)


async def on_hired(uow: UnitOfWork, event: Event, data: EventData) -> None:
    assert isinstance(data, EmployeeHired)
    revoked = await _revoked(uow, event.org)
    ids = {data.employee_id, digest(event.org, data.employee_id)}  # rehired, even after erasure
    if ids & revoked:
        await uow.session.exec(
            delete(_T).where((_T.c.org == event.org) & (_T.c.employee_id.in_(ids)))
        )
        revoked.difference_update(ids)


HANDLERS = {EmployeeTerminated.TYPE: on_terminated, EmployeeHired.TYPE: on_hired}


async def is_revoked(engine: AsyncEngine, *, org: str, employee_id: str) -> bool:
    async with db.reading(engine) as conn:
        ids = (employee_id, digest(org, employee_id))
        found = await conn.execute(
            select(_T.c.org).where((_T.c.org == org) & (_T.c.employee_id.in_(ids)))
        )
        return found.first() is not None
