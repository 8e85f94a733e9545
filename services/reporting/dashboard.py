"""The dashboard page: a programme's (or the organisation's) KPIs, weekly trends and the lists
an admin acts on, rendered for a browser. A browser carries no bearer token: an admin mints a
short-lived link through the API (its secret in the URL, its hash kept, like calendar feeds).
The charts are drawn by plotly.js, served from the plotly package (no CDN)."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

import orjson
from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy import and_, func, or_, select

from services.reporting import kpis, trends
from services.reporting import tallies as tally
from services.reporting.kpis import H, M, P
from services.reporting.models import DashboardLink, DashboardLinkIn, KpiFilters
from services.reporting.usecases import program_of
from shared.api import as_utc
from shared.errors import NotFound
from shared.uow import UnitOfWork

# Each list shows this many at most (the most urgent first) and says how many there are: the
# API pages through them all (`GET /v1/relationships`, `/v1/waiting-list`, `/v1/participants`).
LIST_AT_MOST = 50

_TEMPLATES = Environment(
    loader=FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=select_autoescape(default=True),
)


def _sha256(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


async def mint_link(*, uow: UnitOfWork, org: str, data: DashboardLinkIn) -> tuple[str, datetime]:
    """A new link (its token shown once) and when it expires."""
    if data.program_id is not None:
        await program_of(uow=uow, org=org, program_id=data.program_id)
    token = secrets.token_urlsafe(32)
    now = uow.now()
    link = DashboardLink(
        token_sha256=_sha256(token),
        org=org,
        program_id=data.program_id,
        created_at=now,
        expires_at=now + data.expires_in,
    )
    uow.session.add(link)
    await uow.commit()
    return token, link.expires_at


async def render(*, uow: UnitOfWork, token: str, settle: tally.Settle | None = None) -> str:
    """The page the link shows, else NotFound (unknown or expired: the same answer)."""
    link = await uow.session.get(DashboardLink, _sha256(token))
    now = uow.now()
    if link is None or as_utc(link.expires_at) <= now:
        raise NotFound("dashboard link not found or expired")
    title = "All programmes"
    if link.program_id is not None:
        title = (await program_of(uow=uow, org=link.org, program_id=link.program_id)).name
    filters = KpiFilters(program_id=link.program_id, start=None, end=None)
    report = await kpis.kpis(uow=uow, org=link.org, filters=filters, now=now, settle=settle)
    series = await trends.trends(uow=uow, org=link.org, filters=filters, now=now, settle=settle)
    scope = kpis.Scope(link.org, filters)
    conn = await uow.session.connection()

    flagged = (
        scope.relationships()
        .join(H, H.c.match_id == M.c.id)
        .where(M.c.status == "active", H.c.state.in_(("needs_attention", "at_risk")))
    )
    attention = (
        await conn.execute(
            flagged.add_columns(
                M.c.mentor_employee_id, M.c.mentee_employee_id, H.c.state, H.c.score, H.c.signals
            )
            .order_by(H.c.score, M.c.id)
            .limit(LIST_AT_MOST)
        )
    ).all()
    attention_total = (await conn.execute(flagged.add_columns(func.count()))).scalar_one()
    waits = or_(P.c.status == "pending", and_(P.c.status == "active", P.c.waiting))
    columns = (P.c.employee_id, P.c.role, P.c.status, P.c.requested_at, P.c.enrolled_at)
    waiting = (
        await conn.execute(
            select(*columns)
            .where(scope.programme(P.c.program_id), waits)
            .order_by(func.coalesce(P.c.requested_at, P.c.enrolled_at), P.c.id)
            .limit(LIST_AT_MOST)
        )
    ).all()
    waiting_total = (
        await conn.execute(select(func.count()).where(scope.programme(P.c.program_id), waits))
    ).scalar_one()
    data = {
        "kpis": {k.name: k.model_dump(mode="json") for k in report.kpis},
        "trends": series.model_dump(mode="json"),
    }
    return _TEMPLATES.get_template("dashboard.html").render(
        title=title,
        generated=now,
        expires_at=as_utc(link.expires_at),
        kpis={k.name: k for k in report.kpis},
        attention=[
            {
                "mentor": r[0],
                "mentee": r[1],
                "state": r[2].replace("_", " "),
                "score": r[3],
                "reasons": ", ".join(s.replace("_", " ") for s in (r[4] or [])),
            }
            for r in attention
        ],
        attention_total=attention_total,
        waiting_total=waiting_total,
        program_id=link.program_id,
        waiting=[
            {
                "employee": r[0],
                "role": r[1],
                "why": "awaiting approval" if r[2] == "pending" else "waiting for a mentor",
                "since": as_utc(r[3] or r[4]).date() if (r[3] or r[4]) else "",
            }
            for r in waiting
        ],
        data=_script_json(data),
    )


def _script_json(value: Any) -> str:
    """JSON safe inside a <script> element (no `</script>` or `<!--` can close it)."""
    return orjson.dumps(value).decode().replace("<", "\\u003c").replace(">", "\\u003e")


@lru_cache(maxsize=1)
def plotly_js() -> bytes:
    import plotly

    return (Path(plotly.__file__).parent / "package_data" / "plotly.min.js").read_bytes()
