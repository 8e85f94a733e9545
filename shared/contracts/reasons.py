"""Reasons are categories, with the words beside them.

Every reason that crosses a service boundary (why a match ended or was declined, why a
participant withdrew, why a session was cancelled) is an enum a report can count by; whatever
a person wrote goes in a `note` beside it and never becomes a category. Events written before
reasons were categories carried free text: `categorised` reads those as `other` with the text
as their note, so the event log replays.
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Any, ClassVar

from pydantic import BaseModel, model_validator

NOTE_MAX = 1000


def categorised(
    data: Any, reasons: type[StrEnum], *, aliases: Mapping[str, StrEnum] | None = None
) -> Any:
    """A contract's raw input with its `reason` made a category of `reasons` (a legacy value
    in `aliases` maps to its category; any other text becomes `other` and the note)."""
    if not isinstance(data, dict):
        return data
    reason = data.get("reason")
    if not isinstance(reason, str) or reason in reasons._value2member_map_:
        return data
    if aliases and reason in aliases:
        return {**data, "reason": aliases[reason]}
    return {**data, "reason": "other", "note": data.get("note") or reason}


class Reasoned(BaseModel):
    """Mixed into a contract whose `reason` is a category of `REASONS`, with a `note`."""

    REASONS: ClassVar[type[StrEnum]]
    REASON_ALIASES: ClassVar[Mapping[str, StrEnum] | None] = None
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _legacy_reason(cls, data: Any) -> Any:
        return categorised(data, cls.REASONS, aliases=cls.REASON_ALIASES)
