"""Reporting's arithmetic, free of I/O."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable


def count_by(values: Iterable[str | None], *, keys: Iterable[str] = ()) -> dict[str, int]:
    """Counts per value, with every expected key present (0 when absent)."""
    counts = Counter(v for v in values if v is not None)
    return {k: counts.get(k, 0) for k in keys} | dict(counts)


def average(values: list[int]) -> float | None:
    return round(sum(values) / len(values), 3) if values else None


def hours(minutes: Iterable[int]) -> float:
    """Minutes of sessions as hours, to the hundredth."""
    return round(sum(minutes) / 60, 2)
