"""The demo's synthetic community: sized for its headline indicators, and answering the way
the real questionnaire and channels allow."""

from __future__ import annotations

from services.demo.crowd import (
    CrowdShape,
    assured_indicators,
    crowd,
    headline_counts,
    period_sigma,
    weekly_dates,
)
from services.demo.run import ASSURED_SIGMAS, FIRST_CHECK_IN, WEEKS
from services.insights.settings import InsightsSettings
from services.notifier.domain.phone import to_e164
from services.notifier.domain.questionnaire import questionnaire_for
from shared.contracts import Channel
from shared.settings import Environment

CHECK_INS = weekly_dates(FIRST_CHECK_IN, WEEKS)


def test_the_default_community_clears_the_suppression_rules_as_documented() -> None:
    settings = InsightsSettings(environment=Environment.dev)
    people = crowd(CrowdShape(), CHECK_INS)
    # Participation by six sigma: the demo insists on it.
    assert assured_indicators(people, settings, ASSURED_SIGMAS) == ["participation"]
    # The arithmetic the module documents: 19 counts share ρ 0.05, σ ≈ 13.78 people.
    assert abs(period_sigma(settings) - 13.78) < 0.01
    margins = headline_counts(people).margins(11, 30)
    assert margins["participation"] >= 6 * 13.78
    # Chronic loneliness above the thresholds too, by enough to be published in most runs
    # (1.8σ: about 96%); a smaller crowd would show it withheld often.
    assert margins["chronic_loneliness"] >= 1.8 * 13.78


def test_six_sigma_for_chronic_loneliness_too_takes_the_crowd_the_demo_had() -> None:
    settings = InsightsSettings(environment=Environment.dev)
    people = crowd(CrowdShape(size=340), CHECK_INS)
    assert assured_indicators(people, settings, ASSURED_SIGMAS) == [
        "chronic_loneliness",
        "participation",
    ]


def test_a_community_too_small_is_assured_of_nothing() -> None:
    settings = InsightsSettings(environment=Environment.dev)
    assert assured_indicators(crowd(CrowdShape(size=60), CHECK_INS), settings, 6.0) == []


def test_the_same_seed_gives_the_same_people_and_another_seed_others() -> None:
    assert crowd(CrowdShape(), CHECK_INS) == crowd(CrowdShape(), CHECK_INS)
    assert crowd(CrowdShape(), CHECK_INS) != crowd(CrowdShape(seed=1), CHECK_INS)


def test_the_plan_has_what_the_demo_shows() -> None:
    people = crowd(CrowdShape(), CHECK_INS)
    assert {p.channel for p in people} == {"email", "sms"}
    assert any(not p.shares_answers for p in people)
    assert any(p.answers_in(week) is None for p in people for week in range(WEEKS))
    assert any(all(p.answers_in(w) is None for w in range(WEEKS)) for p in people)
    assert len({p.email for p in people}) == len({p.phone for p in people}) == len(people)
    for person in people:
        assert to_e164(person.phone or "", "GB") == person.phone  # valid, already E.164


def test_every_answer_is_one_of_the_weeks_questions_and_codes() -> None:
    modules = 0
    for person in crowd(CrowdShape(), CHECK_INS):
        for week, day in enumerate(CHECK_INS):
            given = person.answers_in(week)
            if given is None:
                continue
            questionnaire = questionnaire_for("check_in", day, Channel(person.channel))
            assert questionnaire is not None
            keys = [item.key for item in questionnaire.items]
            # The anchor alone, or every question in order: what a reply can say (WHO-5 on
            # the e-mail form only, never by text).
            assert list(given) in (keys[:1], keys)
            modules += len(given) > 1
            for key, code in given.items():
                item = questionnaire.item(key)
                assert item is not None
                assert item.option(code) is not None
    assert modules > 0
