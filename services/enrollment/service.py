"""Enrollment as a Binôme service."""

from pathlib import Path

from services.enrollment.api import router
from services.enrollment.handlers import HANDLERS
from services.enrollment.models import Base
from shared.service import ServiceDef

definition = ServiceDef(
    name="enrollment",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
)
