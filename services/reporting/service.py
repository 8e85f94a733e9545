"""Reporting as a Binôme service."""

from pathlib import Path

from services.reporting.api import router
from services.reporting.handlers import HANDLERS
from services.reporting.models import Base
from services.reporting.recognition.usecases import AWARDING, award_after
from services.reporting.tallies import TallyLoop, mark
from services.reporting.webhooks.delivery import dispatcher
from services.reporting.webhooks.usecases import fan_out
from shared.contracts import catalogue
from shared.messaging.consumer import Handler
from shared.service import ServiceDef, chain

# Reactions, after the projections took the event in: badges earned by it (their award an
# event), then the event (and those awards, heard later) offered to webhook endpoints.
REACTIONS: dict[str, Handler] = {type_: fan_out for type_ in catalogue()}
for type_ in AWARDING:
    REACTIONS[type_] = chain(award_after, fan_out)

definition = ServiceDef(
    name="reporting",
    base=Base,
    router=router,
    migrations_dir=Path(__file__).parent / "migrations",
    handlers=HANDLERS,
    # Not replayed by a projection rebuild: nothing is sent or awarded twice.
    reactions=REACTIONS,
    workers=(dispatcher, TallyLoop),
    analytical=True,  # KPIs, trends, exports
    rollup=mark,  # the programmes' all-time tallies: marked, then drained (TallyLoop)
)
