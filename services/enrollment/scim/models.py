"""SCIM's own table: the organisations' bearer credentials (the secret itself is never kept)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel
from sqlmodel import Field

from services.enrollment.models import Base
from shared.api import Request


class ScimCredential(Base, table=True):
    """An identity provider's credential for one organisation's `/scim/v2`: the SHA-256 of its
    bearer token, shown once at creation; revoked, it is kept for the audit trail."""

    __tablename__ = "scim_credential"
    id: str = Field(primary_key=True, max_length=36)
    org: str = Field(index=True, max_length=100)
    label: str | None = Field(default=None, max_length=200)
    token_sha256: str = Field(unique=True, max_length=64)
    created_at: datetime
    revoked_at: datetime | None = None


class ScimCredentialIn(Request):
    label: str | None = Field(default=None, min_length=1, max_length=200)


class ScimCredentialPublic(BaseModel):
    id: str
    label: str | None
    created_at: datetime
    revoked_at: datetime | None


class ScimCredentialCreated(ScimCredentialPublic):
    token: str  # the bearer token, returned here only
