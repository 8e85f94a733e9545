"""Feedback as a Binôme service."""

from pathlib import Path

from services.feedback.api import router
from services.feedback.handlers import HANDLERS, TIMERS
from services.feedback.models import Base
from shared.service import ServiceDef

definition = ServiceDef(
    name="feedback",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    timers=TIMERS,
)
