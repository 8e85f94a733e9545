"""SCIM's routes: `/scim/v2/...` (the protocol, scim2-server's, over the directory) and the
admins' credentials at `/v1/scim-credentials`."""

from __future__ import annotations

from typing import Annotated, Any

import orjson
from fastapi import APIRouter, Request, Response
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    ConflictException,
    ETag,
    External,
    Filter,
    InvalidValueException,
    NotFoundException,
    Patch,
    Reference,
    ResourceType,
    SCIMException,
    ScimPolicy,
    ScimProvider,
    ServiceProviderConfig,
    Sort,
    UnauthorizedException,
    UniquenessException,
    User,
)
from scim2_server.handler import AsyncScimHandler
from scim2_server.requests import ScimRequest
from scim2_server.routing import Operation
from scim2_server.service import ScimService
from sqlalchemy.exc import IntegrityError

from services.enrollment.scim import usecases
from services.enrollment.scim.mapping import Enterprise, ScimUser
from services.enrollment.scim.models import (
    ScimCredential,
    ScimCredentialCreated,
    ScimCredentialIn,
    ScimCredentialPublic,
)
from shared.api import v1_router
from shared.app import uow_dependency
from shared.auth import CurrentPrincipal
from shared.errors import DomainError
from shared.paging import Page, Window, listing
from shared.uow import UnitOfWork

Uow = Annotated[UnitOfWork, uow_dependency("enrollment")]

router = v1_router("enrollment")
TAGS: list[Any] = ["scim"]

PREFIX = "/scim/v2"
MAX_RESULTS = 200  # a page of users at most (ServiceProviderConfig.filter.maxResults)

SERVICE = ScimService(
    ScimProvider(
        models=[User, Enterprise],
        resource_types=[ResourceType.from_resource(ScimUser)],
        config=ServiceProviderConfig(
            documentation_uri=None,
            patch=Patch(supported=True),
            bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
            filter=Filter(supported=True, max_results=MAX_RESULTS),
            change_password=ChangePassword(supported=False),
            sort=Sort(supported=False),
            etag=ETag(supported=True),
            authentication_schemes=[
                AuthenticationScheme(
                    type=AuthenticationScheme.Type.oauthbearertoken,
                    name="Binôme SCIM token",
                    description="A bearer token an admin mints at POST /v1/scim-credentials",
                    spec_uri=Reference[External]("https://www.rfc-editor.org/rfc/rfc6750"),
                    primary=True,
                )
            ],
        ),
        # Microsoft Entra's PATCH habits: a `remove` naming the value to remove, a `replace`
        # through a filter matching nothing yet (it means: add it).
        policy=ScimPolicy(
            remove_value_as_filter=ScimPolicy.RemoveValue.apply,
            unmatched_path_filter=ScimPolicy.UnmatchedPathFilter.create,
        ),
    )
)

# --- the protocol ---------------------------------------------------------------------------

scim_router = APIRouter()
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


@scim_router.api_route(PREFIX + "{path:path}", methods=METHODS, include_in_schema=False)
async def scim(request: Request, path: str, uow: Uow) -> Response:
    """Every SCIM request: authenticated by the organisation's bearer token (none for
    ServiceProviderConfig, RFC 7643 §5), served by scim2-server over the directory, committed
    when it succeeds."""
    scim_request = ScimRequest(
        method=request.method,
        base_url=str(request.base_url).rstrip("/") + PREFIX,
        path=path.removesuffix(".scim") or "/",
        query=dict(request.query_params),
        headers=list(request.headers.items()),
        body=await request.body(),
    )
    try:
        operation = SERVICE.match(scim_request).operation
        org = None
        if operation is not Operation.service_provider_config:
            org = await _organisation(request, uow)
        storage = usecases.DirectoryStorage(uow, org or "", default_count=MAX_RESULTS)
        response = await AsyncScimHandler(SERVICE, storage).handle(scim_request)
        if request.method != "GET" and response.status < 400:
            await uow.commit()
    except IntegrityError:  # a concurrent request took the userName first: nothing written
        taken = UniquenessException(detail="userName is taken (a concurrent request)")
        response = SERVICE.error_response(taken)
    except DomainError as exc:
        response = SERVICE.error_response(_scim_error(exc))
    except SCIMException as exc:
        response = SERVICE.error_response(exc)
    response.headers.setdefault("Cache-Control", "no-store")
    body = b"" if response.body is None else orjson.dumps(response.body)
    return Response(body, status_code=int(response.status), headers=response.headers)


async def _organisation(request: Request, uow: UnitOfWork) -> str:
    scheme, _, token = (request.headers.get("authorization") or "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise UnauthorizedException(detail="a bearer token is required (Authorization: Bearer)")
    org = await usecases.organisation_of(uow=uow, token=token.strip())
    if org is None:
        raise UnauthorizedException(detail="unknown or revoked SCIM token")
    return org


def _scim_error(exc: DomainError) -> SCIMException:
    if exc.status_code == 404:
        return NotFoundException(detail=str(exc))
    if exc.status_code == 409:
        return ConflictException(detail=str(exc))
    return InvalidValueException(detail=str(exc))


# --- the credentials (admins) ---------------------------------------------------------------


def _public(credential: ScimCredential) -> ScimCredentialPublic:
    return ScimCredentialPublic.model_validate(credential, from_attributes=True)


@router.post("/scim-credentials", tags=TAGS, status_code=201, response_model=ScimCredentialCreated)
async def create_scim_credential(
    data: ScimCredentialIn, principal: CurrentPrincipal, uow: Uow
) -> ScimCredentialCreated:
    """A bearer token for the organisation's identity provider at `/scim/v2` (returned here
    only; Binôme keeps its SHA-256)."""
    credential, token = await usecases.create_credential(uow=uow, org=principal.org, data=data)
    return ScimCredentialCreated(**_public(credential).model_dump(), token=token)


@router.get("/scim-credentials", tags=TAGS, response_model=listing(ScimCredentialPublic))
async def list_scim_credentials(
    principal: CurrentPrincipal, uow: Uow, page: Page
) -> Window[ScimCredentialPublic]:
    """The organisation's SCIM credentials, revoked ones included, the oldest first."""
    window = await usecases.list_credentials(uow=uow, org=principal.org, page=page)
    return window.map(_public)


@router.delete("/scim-credentials/{credential_id}", tags=TAGS, response_model=ScimCredentialPublic)
async def revoke_scim_credential(
    credential_id: str, principal: CurrentPrincipal, uow: Uow
) -> ScimCredentialPublic:
    """Refuse this token from now on (kept, revoked, for the audit trail)."""
    credential = await usecases.revoke_credential(
        uow=uow, org=principal.org, credential_id=credential_id
    )
    return _public(credential)
