"""Reporting as a Binôme service."""

from pathlib import Path

from services.reporting.api import router
from services.reporting.handlers import HANDLERS
from services.reporting.models import Base
from shared.service import ServiceDef

definition = ServiceDef(
    name="reporting",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
)
