"""Sessions as a Binôme service."""

from pathlib import Path

from services.sessions.api import router
from services.sessions.handlers import HANDLERS, TIMERS
from services.sessions.models import Base
from shared.service import ServiceDef

definition = ServiceDef(
    name="sessions",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    timers=TIMERS,
)
