"""The indicators insights releases: one table, the single place each is defined.

Each entry says what is counted (for a person, at most once per release: their latest answer,
which the notifier has already chosen) and from which facts, per cadence: ``week`` (an ISO week)
and ``period`` (4 weeks aligned to the question rotation, ``shared.weeks``). Adding an indicator
is one entry here plus its test in ``tests/unit/insights/test_indicators.py``; the methodology
page is generated from this table.

Item keys and answer codes are the notifier's questionnaire's (a test holds the two together).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Cadence(StrEnum):
    week = "week"
    period = "period"


class Kind(StrEnum):
    proportion = "proportion"  # numerator / denominator, in percent
    number = "count"  # a number of people


@dataclass(frozen=True)
class ItemShare:
    """People who gave one of ``codes`` to ``item``, among those who answered it."""

    item: str
    codes: frozenset[int]


@dataclass(frozen=True)
class ScoreShare:
    """People whose summed answers to all of ``items`` are within [at_least, at_most], among
    those who answered every one of them (completers)."""

    items: tuple[str, ...]
    at_least: int | None = None
    at_most: int | None = None


@dataclass(frozen=True)
class PeriodAnchorShare:
    """People whose latest anchor answer of the period is one of ``codes``, among those who
    answered it in the period (from the period summaries)."""

    codes: frozenset[int]


@dataclass(frozen=True)
class Participation:
    """People who answered at least one prompt, among the consenting people prompted."""


@dataclass(frozen=True)
class Signposted:
    """People sent professional-support and crisis resources (a count, no denominator)."""


Measure = ItemShare | ScoreShare | PeriodAnchorShare | Participation | Signposted


@dataclass(frozen=True)
class Indicator:
    number: int
    code: str
    title: str
    kind: Kind
    measures: dict[Cadence, Measure]
    numerator: str
    denominator: str | None
    source: str
    validated: bool = True
    note: str = ""

    @property
    def counts(self) -> int:
        """Noisy counts a release of it draws per area (each person moves each by at most 1)."""
        return 1 if self.kind is Kind.number else 2


ANCHOR_ITEM = "ons_loneliness"
UCLA_ITEMS = ("ucla_companionship", "ucla_left_out", "ucla_isolated")
OSSS_ITEMS = ("osss_close_people", "osss_concern", "osss_neighbours")
WHO5_ITEMS = ("who5_cheerful", "who5_calm", "who5_active", "who5_rested", "who5_interest")

INDICATORS: tuple[Indicator, ...] = (
    Indicator(
        number=1,
        code="chronic_loneliness",
        title="Chronic loneliness",
        kind=Kind.proportion,
        measures={
            Cadence.week: ItemShare(ANCHOR_ITEM, frozenset({1})),
            Cadence.period: PeriodAnchorShare(frozenset({1})),
        },
        numerator="answered 'often or always' to 'How often do you feel lonely?'",
        denominator="people who answered that question (in a period: their latest answer)",
        source="UK ONS direct loneliness measure, asked every week",
    ),
    Indicator(
        number=2,
        code="ucla_lonely",
        title="Loneliness (UCLA-3)",
        kind=Kind.proportion,
        measures={Cadence.period: ScoreShare(UCLA_ITEMS, at_least=6)},
        numerator="a UCLA-3 score of 6 or more (three items scored 1-3, summed 3-9)",
        denominator="people who answered all three UCLA-3 items",
        source="Three-item UCLA Loneliness Scale (Hughes et al. 2004)",
    ),
    Indicator(
        number=3,
        code="emotional_support",
        title="Emotional support sufficient",
        kind=Kind.proportion,
        measures={Cadence.period: ItemShare("brfss_emotional_support", frozenset({1, 2}))},
        numerator="'always' or 'usually' get the social and emotional support they need",
        denominator="people who answered that question",
        source="US BRFSS emotional support item",
    ),
    Indicator(
        number=4,
        code="informational_support",
        title="Informational support available",
        kind=Kind.proportion,
        measures={Cadence.period: ItemShare("mos_informational", frozenset({4, 5}))},
        numerator="someone available to give good advice about a crisis most or all of the time",
        denominator="people who answered that question",
        source="MOS Social Support Survey, informational item",
    ),
    Indicator(
        number=5,
        code="practical_support_low",
        title="Practical support low",
        kind=Kind.proportion,
        measures={Cadence.period: ScoreShare(OSSS_ITEMS, at_most=8)},
        numerator="an OSSS-3 score of 3-8 (poor support; the scale runs 3-14)",
        denominator="people who answered all three OSSS-3 items",
        source="Oslo Social Support Scale (OSSS-3)",
    ),
    Indicator(
        number=6,
        code="belonging",
        title="Community belonging",
        kind=Kind.proportion,
        measures={Cadence.period: ItemShare("statcan_belonging", frozenset({1, 2}))},
        numerator="a 'very strong' or 'somewhat strong' sense of belonging to the local community",
        denominator="people who answered that question",
        source="Statistics Canada, sense of belonging",
    ),
    Indicator(
        number=7,
        code="regular_contact",
        title="Regular contact",
        kind=Kind.proportion,
        measures={Cadence.period: ItemShare("regular_contact", frozenset({3, 4, 5}))},
        numerator="see or hear from their closest friend or relative weekly or more",
        denominator="people who answered that question",
        source="Adapted from the Lubben Social Network Scale",
        validated=False,
        note="Not validated in this form.",
    ),
    Indicator(
        number=8,
        code="poor_wellbeing",
        title="Wellbeing (WHO-5)",
        kind=Kind.proportion,
        # The standard cut-off is 50 or less on the 0-100 scale (raw x 4). Raw scores are
        # whole numbers, so that is a raw score of 12 or less (48); 13 is 52.
        measures={Cadence.period: ScoreShare(WHO5_ITEMS, at_most=12)},
        numerator=(
            "poor wellbeing: a WHO-5 raw score of 12 or less (five items scored 0-5, summed "
            "0-25), i.e. 48 or less on the 0-100 scale, the standard cut-off of 50 or less"
        ),
        denominator="people who answered all five WHO-5 items",
        source="WHO-5 Well-Being Index (WHO Regional Office for Europe, 1998)",
        note=(
            "Asked on the e-mail answer form only (too long for a text message): people who "
            "answer by SMS are not in it."
        ),
    ),
    Indicator(
        number=9,
        code="participation",
        title="Ritual participation",
        kind=Kind.proportion,
        measures={Cadence.week: Participation(), Cadence.period: Participation()},
        numerator="answered at least one prompt",
        denominator="consenting members who were sent at least one prompt",
        source="The notifier's own records of prompts sent and answered",
    ),
    Indicator(
        number=10,
        code="signposting",
        title="Professional-support signposting",
        kind=Kind.number,
        measures={Cadence.week: Signposted(), Cadence.period: Signposted()},
        numerator="people sent professional-support and crisis resources",
        denominator=None,
        source="The distress rule (an answer code or words) matched; each person counted once",
    ),
)


def for_cadence(cadence: Cadence) -> tuple[Indicator, ...]:
    return tuple(indicator for indicator in INDICATORS if cadence in indicator.measures)


def by_code(code: str) -> Indicator | None:
    return next((indicator for indicator in INDICATORS if indicator.code == code), None)
