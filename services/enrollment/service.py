"""Enrollment as a Binôme service. It consumes no events: the HRIS and HR drive it over HTTP."""

from pathlib import Path

from services.enrollment.api import router
from services.enrollment.models import Base
from shared.service import ServiceDef

definition = ServiceDef(
    name="enrollment",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
)
