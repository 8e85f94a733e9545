"""Event contracts, one module per producing service. Importing this package registers them all."""

from shared.contracts import enrollment, feedback, matching, reporting, sessions
from shared.events import contract_for, event_types

__all__ = ["catalogue", "enrollment", "feedback", "matching", "reporting", "sessions"]


def catalogue() -> list[str]:
    """Every event type Binôme's services publish (those declared in this package)."""
    return [t for t in event_types() if contract_for(t).__module__.startswith(__name__)]  # type: ignore[union-attr]
