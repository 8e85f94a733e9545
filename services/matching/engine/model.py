"""The engine's inputs: a cohort as arrays, the programme's weights and constraints."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np
import numpy.typing as npt

from shared.contracts.enrollment import HARD_FILTER_WEIGHT, MATCHING_CRITERIA, PROGRAM_DEFAULTS

# The criteria and the hard-filter weight are part of the programme contract (enrollment
# validates weights against them), so they live with it.
HARD = HARD_FILTER_WEIGHT
CRITERIA = MATCHING_CRITERIA


class Format(StrEnum):
    classic = "classic"  # the mentor is more senior
    reverse = "reverse"  # the mentor is junior by level, strong in what the mentee seeks


@dataclass(frozen=True)
class Weights:
    """0 to 10 per criterion; 10 makes the criterion a hard filter."""

    skills: int = 8
    themes: int = 4
    similarity: int = 5
    seniority: int = 4
    department: int = 2
    timezone: int = 2
    availability: int = 3
    volunteer: int = 2

    def __post_init__(self) -> None:
        for name in CRITERIA:
            value = getattr(self, name)
            if not 0 <= value <= HARD:
                raise ValueError(f"weight {name} must be between 0 and {HARD}, got {value}")
        if not any(getattr(self, name) for name in CRITERIA):
            raise ValueError("at least one criterion needs a weight")

    def vector(self) -> npt.NDArray[np.float32]:
        return np.array([getattr(self, name) for name in CRITERIA], dtype=np.float32)


@dataclass(frozen=True)
class Constraints:
    format: Format = Format.classic
    # Defaults: the programme contract's (one home for every rule's default).
    max_timezone_gap_h: int = PROGRAM_DEFAULTS.max_timezone_gap_h
    cross_department: bool = PROGRAM_DEFAULTS.cross_department  # across departments, or same
    min_score: float = PROGRAM_DEFAULTS.min_score  # pairs scoring below are not allowed
    # The format's direction as a hard rule: the mentor's level above the mentee's (classic)
    # or below it (reverse), for pairs whose two levels are known.
    seniority_required: bool = PROGRAM_DEFAULTS.seniority_rule == "required"


@dataclass
class Side:
    """One side of the cohort (mentees or mentors), one row per person.

    Bitmask features are uint64: bit b set = the person has item b (skills, themes, languages,
    availability slots). The questionnaire holds small integer answers (Likert 1..5), which
    keeps every dot product exact in float32, so a pair scores the same in any block.
    """

    ids: npt.NDArray[np.int64]  # employee ids (integers here; the service maps its own)
    skills: npt.NDArray[np.uint64]  # mentees: sought; mentors: offered
    themes: npt.NDArray[np.uint64]
    languages: npt.NDArray[np.uint64]
    availability: npt.NDArray[np.uint64]  # 42 four-hour weekly slots
    answers: npt.NDArray[np.int8]  # questionnaire, shape (n, q)
    level: npt.NDArray[np.int8]
    department: npt.NDArray[np.int32]
    tz_offset_h: npt.NDArray[np.int8]
    volunteer: npt.NDArray[np.bool_]
    # Whether each level is known (the directory's); None: every level is.
    level_known: npt.NDArray[np.bool_] | None = None

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Cohort:
    mentees: Side
    mentors: Side
    capacity: npt.NDArray[np.int32]  # per mentor
    # Employee ids above each person in the reporting line (manager chain), -1 padded.
    mentee_managers: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty((0, 0), dtype=np.int64)
    )
    mentor_managers: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty((0, 0), dtype=np.int64)
    )
    # (mentee index, mentor index) pairs that already ended or were declined: never again.
    excluded: npt.NDArray[np.int64] = field(
        default_factory=lambda: np.empty((0, 2), dtype=np.int64)
    )
