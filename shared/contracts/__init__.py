"""Event contracts, one module per producing service. Importing this package registers them all."""

from shared.contracts import enrollment, feedback, matching, sessions

__all__ = ["enrollment", "feedback", "matching", "sessions"]
