"""Recognition's rules (services/reporting/recognition/domain.py): what a badge counts and
when it is earned; survey scores only from enough people."""

from __future__ import annotations

import pytest

from services.reporting.recognition import domain
from services.reporting.recognition.domain import Figures, Rule
from shared.contracts.enrollment import ParticipantRole
from shared.contracts.reporting import BadgeMetric
from shared.errors import Invalid

MENTOR = ParticipantRole.mentor
DONE = Figures(sessions_held=10, hours=12.5, partners=3, relationships=4, relationships_completed=2)


@pytest.mark.parametrize(
    ("metric", "threshold", "earned"),
    [
        (BadgeMetric.sessions_held, 10, 10.0),
        (BadgeMetric.sessions_held, 11, None),
        (BadgeMetric.hours, 12.5, 12.5),
        (BadgeMetric.hours, 40, None),
        (BadgeMetric.partners, 3, 3.0),
        (BadgeMetric.relationships_completed, 3, None),
        (BadgeMetric.survey_score, 4, None),  # no score: fewer than 5 answered
    ],
)
def test_a_badge_is_earned_at_its_threshold(
    metric: BadgeMetric, threshold: float, earned: float | None
) -> None:
    assert domain.earned(Rule(metric, threshold, MENTOR), DONE) == earned


def test_survey_scores_need_enough_people_and_the_scale() -> None:
    scored = Figures(survey_score=4.6, survey_respondents=domain.MIN_RESPONDENTS)
    assert domain.earned(Rule(BadgeMetric.survey_score, 4.5, MENTOR), scored) == 4.6
    with pytest.raises(Invalid, match="between 1 and 5") as caught:
        domain.check_rule(Rule(BadgeMetric.survey_score, 7, MENTOR))
    assert caught.value.field == "threshold"
    domain.check_rule(Rule(BadgeMetric.hours, 7, MENTOR))


def test_figures_add_up_across_programmes_but_scores_do_not() -> None:
    total = DONE + Figures(sessions_held=1, hours=0.75, partners=1, relationships=1, survey_score=5)
    assert (total.sessions_held, total.hours, total.partners, total.relationships) == (
        11,
        13.25,
        4,
        5,
    )
    assert total.survey_score is None
