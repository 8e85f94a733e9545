"""Recognition's rules, pure: what a badge rule counts and when it is earned."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from shared.contracts.enrollment import ParticipantRole
from shared.contracts.reporting import BadgeMetric
from shared.errors import Invalid

# A survey score is the mean of what the other parties answered: shown (as a badge's evidence)
# only once at least this many people answered, like every breakdown (privacy).
MIN_RESPONDENTS = 5


@dataclass(frozen=True)
class Figures:
    """One employee's contribution to one programme in one role."""

    sessions_held: int = 0
    hours: float = 0.0
    partners: int = 0  # people accompanied (mentees of a mentor, mentors of a mentee)
    relationships: int = 0  # relationships that started
    relationships_completed: int = 0
    survey_score: float | None = None  # None: fewer than MIN_RESPONDENTS answered
    survey_respondents: int = 0

    def value(self, metric: BadgeMetric) -> float | None:
        return {
            BadgeMetric.sessions_held: float(self.sessions_held),
            BadgeMetric.hours: self.hours,
            BadgeMetric.partners: float(self.partners),
            BadgeMetric.relationships_completed: float(self.relationships_completed),
            BadgeMetric.survey_score: self.survey_score,
        }[metric]

    def evidence(self) -> dict[str, object]:
        return asdict(self)

    def __add__(self, other: Figures) -> Figures:
        """Two programmes' (or roles') figures together; a survey score is not added up."""
        return Figures(
            sessions_held=self.sessions_held + other.sessions_held,
            hours=round(self.hours + other.hours, 2),
            partners=self.partners + other.partners,
            relationships=self.relationships + other.relationships,
            relationships_completed=self.relationships_completed + other.relationships_completed,
        )


@dataclass(frozen=True)
class Rule:
    metric: BadgeMetric
    threshold: float
    role: ParticipantRole


def check_rule(rule: Rule) -> None:
    """A rule that can be earned: a survey score is on the 1-5 scale."""
    if rule.metric is BadgeMetric.survey_score and not 1 <= rule.threshold <= 5:
        raise Invalid("a survey score threshold is between 1 and 5", field="threshold")


def earned(rule: Rule, figures: Figures) -> float | None:
    """The figure that earns the badge, or None: not (yet) earned."""
    value = figures.value(rule.metric)
    if value is None or value < rule.threshold:
        return None
    return value
