"""Reporting as a Binôme service."""

from pathlib import Path

from fastapi import APIRouter

from services.reporting import api
from services.reporting.handlers import HANDLERS
from services.reporting.models import Base
from services.reporting.webhooks import api as webhooks_api
from services.reporting.webhooks.delivery import dispatcher
from services.reporting.webhooks.usecases import fan_out
from shared.contracts import catalogue
from shared.service import ServiceDef

# The reports' routes and the webhooks' (each `/v1`).
router = APIRouter()
router.include_router(api.router)
router.include_router(webhooks_api.router)

definition = ServiceDef(
    name="reporting",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    # Every event is offered to the organisation's webhook endpoints (a reaction: a
    # projection rebuild does not send them again).
    reactions={type_: fan_out for type_ in catalogue()},
    workers=(dispatcher,),
)
