"""Matching as a Binôme service."""

from pathlib import Path

from services.matching import metrics
from services.matching.api import router
from services.matching.engine.warm import warm_up
from services.matching.handlers import HANDLERS, TIMERS
from services.matching.models import Base
from shared.service import ServiceDef

definition = ServiceDef(
    name="matching",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    timers=TIMERS,
    warm_up=warm_up,
    metrics=metrics.ALL,
)
