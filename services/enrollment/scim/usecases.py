"""SCIM's use cases: the organisations' credentials, and the directory as scim2-server's
storage (each change applied as the HRIS event it is, in the request's unit of work)."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from pydantic import ValidationError
from scim2_models import (
    InvalidValueException,
    NotFoundException,
    PreconditionFailedException,
    Resource,
    ResourceType,
    ResponseParameters,
    SearchRequest,
    UniquenessException,
)
from scim2_server.conditions import opaque_tag
from scim2_server.storage import AsyncScimStorage, SearchPage
from sqlmodel import col, func, select

from services.enrollment import usecases as directory
from services.enrollment.domain import EmployeeStatus, login_key
from services.enrollment.models import Employee, EmployeeIn, HrisProfileEvent, HrisStatusEvent
from services.enrollment.scim import filters
from services.enrollment.scim.mapping import Record, ScimUser, record_of, user_of
from services.enrollment.scim.models import ScimCredential, ScimCredentialIn
from shared.api import new_id
from shared.errors import NotFound
from shared.paging import PageParams, Window, page_of
from shared.uow import UnitOfWork

# --- credentials ----------------------------------------------------------------------------

TOKEN_PREFIX = "scim_"  # tells a SCIM token from the API's JWTs at a glance (and to scanners)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def create_credential(
    *, uow: UnitOfWork, org: str, data: ScimCredentialIn
) -> tuple[ScimCredential, str]:
    """A new bearer token for the organisation's identity provider (returned once)."""
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    credential = ScimCredential(
        id=new_id(), org=org, label=data.label, token_sha256=_digest(token), created_at=uow.now()
    )
    uow.session.add(credential)
    await uow.commit()
    return credential, token


async def list_credentials(
    *, uow: UnitOfWork, org: str, page: PageParams
) -> Window[ScimCredential]:
    q = select(ScimCredential).where(ScimCredential.org == org)
    return await page_of(
        uow.session, q, page, col(ScimCredential.created_at), col(ScimCredential.id)
    )


async def revoke_credential(*, uow: UnitOfWork, org: str, credential_id: str) -> ScimCredential:
    """Refuse the token from now on (a second revocation changes nothing)."""
    credential = await uow.session.get(ScimCredential, credential_id)
    if credential is None or credential.org != org:
        raise NotFound("SCIM credential not found")
    if credential.revoked_at is None:
        credential.revoked_at = uow.now()
        uow.session.add(credential)
        await uow.commit()
    return credential


async def organisation_of(*, uow: UnitOfWork, token: str) -> str | None:
    """The organisation a bearer token provisions, or None (unknown or revoked)."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    found = await uow.session.exec(
        select(ScimCredential.org).where(
            ScimCredential.token_sha256 == _digest(token),
            col(ScimCredential.revoked_at).is_(None),
        )
    )
    return found.first()


# --- the directory as SCIM's storage ---------------------------------------------------------

SCAN_CHUNK = 2_000  # users read at a time when a filter must be evaluated on each


class DirectoryStorage(AsyncScimStorage):
    """One organisation's employees as SCIM users, in one request's unit of work (the route
    commits it when the request succeeds)."""

    def __init__(self, uow: UnitOfWork, org: str, *, default_count: int) -> None:
        self.uow, self.org, self.default_count = uow, org, default_count
        self._columns = filters.columns(Employee, terminated=EmployeeStatus.terminated)

    # reading

    async def get(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        response_parameters: ResponseParameters[Any] | None = None,
    ) -> Resource[Any]:
        return _resource(await self._visible(resource_id))

    async def search(
        self,
        resource_types: list[ResourceType],
        search_request: SearchRequest[Any],
        *,
        position: Any = None,
    ) -> SearchPage:
        first = max(1, search_request.start_index or 1)
        count = self.default_count if search_request.count is None else search_request.count
        scim_filter = search_request.filter
        where = None if scim_filter is None else filters.translate(scim_filter, self._columns)
        base = self._users()
        if scim_filter is None or where is not None:
            query = base if where is None else base.where(where)
            total = (
                await self.uow.session.exec(select(func.count()).select_from(query.subquery()))
            ).one()
            rows = await self.uow.session.exec(
                query.order_by(col(Employee.id)).offset(first - 1).limit(count)
            )
            return SearchPage(total=total, resources=[_resource(r) for r in rows.all()])
        # An attribute the directory keeps as sent (emails[type eq "work"], phoneNumbers...):
        # the filter is evaluated on each user, a chunk at a time.
        found: list[Resource[Any]] = []
        after = ""
        while True:
            rows = (
                await self.uow.session.exec(
                    base.where(col(Employee.id) > after)
                    .order_by(col(Employee.id))
                    .limit(SCAN_CHUNK)
                )
            ).all()
            if not rows:
                break
            after = rows[-1].id
            found += [u for r in rows if scim_filter.match(u := _resource(r))]
        return SearchPage(total=len(found), resources=found[first - 1 : first - 1 + count])

    # writing: each change is the HRIS event it means (hired, updated, terminated)

    async def create(self, resource_type: ResourceType, resource: Resource[Any]) -> Resource[Any]:
        record = _record(resource)
        await self._check_unique(record, employee_id=None)
        employee = _employee_in(new_id(), record, row=None)
        row = await self._apply(HrisProfileEvent, type="hired", employee=employee)
        if not record.active:  # created deactivated
            row = await self._apply(HrisStatusEvent, type="terminated", employee_id=row.id)
        self._stamp(row, record)
        return _resource(row)

    async def update(
        self,
        resource_type: ResourceType,
        resource: Resource[Any],
        *,
        expected_version: str | None = None,
    ) -> Resource[Any]:
        row = await self._visible(str(resource.id))
        _check_version(row, expected_version)
        record = _record(resource)
        await self._check_unique(record, employee_id=row.id)
        changed = any(getattr(row, k) != v for k, v in record.profile().items())
        if not row.active and record.active:  # reactivated: rehired
            employee = _employee_in(row.id, record, row=row)
            row = await self._apply(HrisProfileEvent, type="hired", employee=employee)
        elif changed:  # a deactivated user's record may change too: they stay terminated
            employee = _employee_in(row.id, record, row=row)
            row = await self._apply(HrisProfileEvent, type="updated", employee=employee)
        if row.active and not record.active:  # deactivated: terminated
            row = await self._apply(HrisStatusEvent, type="terminated", employee_id=row.id)
        self._stamp(row, record)
        return _resource(row)

    async def delete(
        self,
        resource_type: ResourceType,
        resource_id: str,
        *,
        expected_version: str | None = None,
    ) -> None:
        """The employee is terminated and leaves SCIM's sight; the directory keeps them
        (their programmes' history) until a GDPR erasure."""
        row = await self._visible(resource_id)
        _check_version(row, expected_version)
        if row.active:
            row = await self._apply(HrisStatusEvent, type="terminated", employee_id=row.id)
        row.user_name = row.user_name_key = row.external_id = row.scim = None
        row.login_key = login_key(None, row.email, row.id)
        row.deprovisioned_at = row.updated_at = self.uow.now()
        self.uow.session.add(row)

    # helpers

    def _users(self) -> Any:
        return select(Employee).where(
            Employee.org == self.org, col(Employee.deprovisioned_at).is_(None)
        )

    async def _visible(self, employee_id: str) -> Employee:
        row = (await self.uow.session.exec(self._users().where(Employee.id == employee_id))).first()
        if row is None:
            raise NotFoundException(detail=f"no user {employee_id}")
        return row

    async def _check_unique(self, record: Record, *, employee_id: str | None) -> None:
        query = self._users().where(Employee.login_key == record.user_name_key)
        if employee_id is not None:
            query = query.where(Employee.id != employee_id)
        taken = (await self.uow.session.exec(query.limit(1))).first()
        if taken is not None:
            raise UniquenessException(
                detail=f"userName {record.user_name!r} is taken (user {taken.id})"
            )

    async def _apply(self, event: type[Any], **fields: Any) -> Employee:
        item = event(event_id=f"scim-{new_id()}", **fields)
        return await directory.apply_directory_event(uow=self.uow, org=self.org, item=item)

    def _stamp(self, row: Employee, record: Record) -> None:
        """What SCIM adds to the directory's record: its names and the user as sent."""
        before = (row.user_name, row.external_id, row.scim)
        row.user_name, row.user_name_key = record.user_name, record.user_name_key
        row.external_id, row.scim = record.external_id, record.kept
        row.login_key = login_key(row.user_name, row.email, row.id)
        if before != (row.user_name, row.external_id, row.scim):
            row.updated_at = self.uow.now()
        self.uow.session.add(row)


def _resource(row: Employee) -> Resource[Any]:
    return ScimUser.model_validate(user_of(row))


def _record(resource: Resource[Any]) -> Record:
    try:
        return record_of(resource)  # type: ignore[arg-type]
    except ValueError as exc:
        raise InvalidValueException(detail=str(exc)) from None


def _employee_in(employee_id: str, record: Record, *, row: Employee | None) -> EmployeeIn:
    """The HRIS record a SCIM user makes: its directory fields over the row's others (level,
    languages, location, hiring date: what SCIM does not carry)."""
    kept = {} if row is None else row.model_dump(include=set(EmployeeIn.model_fields))
    try:
        return EmployeeIn.model_validate(kept | record.profile() | {"id": employee_id})
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise InvalidValueException(detail=f"{where}: {error['msg']}") from None


def _check_version(row: Employee, expected: str | None) -> None:
    if expected is None:
        return
    current = user_of(row)["meta"]["version"]
    if opaque_tag(current) != opaque_tag(expected):
        raise PreconditionFailedException(detail=f"the user's version is {current}")
