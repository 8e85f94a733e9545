"""What every domain shares, pure: a transition's result, and moving a domain state on and off
a row (the fields of the state's dataclass, by name, so no field list is written twice).

A transition is a pure function of the current state and the command: it returns the new
state and the events it causes, or raises a domain error. Use cases load the state from their
row (`state_of`), decide (the transition), store (`store`) and emit the events.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

from shared.events import EventData

S = TypeVar("S")


@dataclass(frozen=True)
class Transition(Generic[S]):
    state: S
    events: Sequence[EventData] = ()


def state_of(cls: type[S], row: object) -> S:
    """The domain state `cls` (a dataclass) read off a row or any object with those fields."""
    return cls(**{f.name: getattr(row, f.name) for f in fields(cls)})  # type: ignore[arg-type]


def store(row: Any, state: object) -> None:
    """Write a domain state's fields back onto its row."""
    for f in fields(state):  # type: ignore[arg-type]
        setattr(row, f.name, getattr(state, f.name))
