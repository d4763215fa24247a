"""The demo's larger community: 150 synthetic members, seeded, answering plausibly.

Why this size. A period release (``2027-P01``, ISO weeks 1-4) spends ρ = 0.05 per community,
shared by the 19 noisy counts it draws (``indicators.for_cadence(period)``: two per proportion,
one for the signposting count), so each count gets ρ/19 and OpenDP's Gaussian scale for that is
σ = √(19 / (2·0.05)) ≈ 13.78 people (``disclosure.noise_scale``). A proportion is withheld (c)
when its *noisy* denominator is below 30 or its noisy numerator below 11. A count whose true
value is t falls below a threshold T with probability about Φ((T - t)/σ). The demo insists
only on indicators whose counts stand t - T ≥ 6σ (≈ 83 people) clear, withheld with
probability at most Φ(-6) ≈ 10⁻⁹ per count, so that its exit status never depends on the
noise; it recomputes these margins from its own plan (``headline_counts``).

The size is a trade between that and ``make run``'s time, which grows with every member (each is
prompted and answers through the real path four times): 150 members cost well under half the CPU
time 340 did. At 150, participation (people who answered at least once, of the consenting people
prompted: 127 of 140 with this seed) stands 8σ clear and is assured. Chronic loneliness (people
whose latest answer in the period is "often/always", of those who answered it: 37 of 127) stands
1.9σ clear: published in about 97% of runs, withheld (c) now and then. Assuring it too would
take about 340 members (its numerator must reach 11 + 83 = 94 people: about 30% of this
community, recruited, say, by social prescribers for loneliness, answer "often/always", ~88%
consent to contribute and ~95% of those answer at least once). The module indicators (asked one
week in four, so about two thirds of the consenting members answer each) rest on about 85
people, with numerators from about 25 up: published in most runs, the odd one withheld. A unit
test holds the default shape to these margins.
"""

from __future__ import annotations

import math
import random
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import NormalDist

from services.demo.scenario import ANCHOR_ITEM, Person
from services.insights.domain.disclosure import noise_scale
from services.insights.domain.indicators import Cadence, for_cadence
from services.insights.settings import InsightsSettings
from services.notifier.domain.questionnaire import questionnaire_for
from shared.contracts import Channel

# How often each answer is given, from the least to the most connected one (codes, share). A
# member's answers all follow one underlying "connectedness" (a standard normal), plus noise
# each time, so that the indicators agree with each other the way real ones do; the shares are
# those of a community recruited, say, by social prescribers for loneliness.
ANSWER_SHARES: Mapping[str, tuple[tuple[int, float], ...]] = {
    ANCHOR_ITEM: ((1, 0.30), (2, 0.30), (3, 0.22), (4, 0.12), (5, 0.06)),
    "ucla_companionship": ((3, 0.30), (2, 0.40), (1, 0.30)),
    "ucla_left_out": ((3, 0.25), (2, 0.40), (1, 0.35)),
    "ucla_isolated": ((3, 0.28), (2, 0.40), (1, 0.32)),
    "brfss_emotional_support": ((5, 0.08), (4, 0.15), (3, 0.27), (2, 0.30), (1, 0.20)),
    "mos_informational": ((1, 0.10), (2, 0.15), (3, 0.30), (4, 0.28), (5, 0.17)),
    "osss_close_people": ((1, 0.12), (2, 0.38), (3, 0.35), (4, 0.15)),
    "osss_concern": ((1, 0.08), (2, 0.15), (3, 0.30), (4, 0.32), (5, 0.15)),
    "osss_neighbours": ((1, 0.10), (2, 0.20), (3, 0.30), (4, 0.27), (5, 0.13)),
    "statcan_belonging": ((4, 0.15), (3, 0.30), (2, 0.38), (1, 0.17)),
    "regular_contact": ((0, 0.05), (1, 0.10), (2, 0.20), (3, 0.30), (4, 0.22), (5, 0.13)),
    # WHO-5, on the e-mail form only: 0 "at no time" ... 5 "all of the time".
    **dict.fromkeys(
        ("who5_cheerful", "who5_calm", "who5_active", "who5_rested", "who5_interest"),
        ((0, 0.05), (1, 0.12), (2, 0.2), (3, 0.28), (4, 0.23), (5, 0.12)),
    ),
}
STEADINESS = 0.8  # how much an answer follows the person rather than the moment
_NORMAL = NormalDist()

# Fictional numbers: NANP 555-0100..0199 is reserved for fiction in every area code, and the
# phone validator accepts it. Nothing leaves the machine anyway (the SMS provider is local).
AREA_CODES = ("202", "312", "415", "617", "718", "206", "303", "512")


@dataclass(frozen=True)
class CrowdShape:
    """What the synthetic community looks like; the same shape and seed give the same people."""

    size: int = 150
    seed: int = 20270104
    community_id: str = "meadowbank"
    timezone: str = "Europe/London"
    sms_share: float = 0.25  # the rest answer by e-mail
    consent_share: float = 0.88  # contribute anonymised answers
    lapsed_share: float = 0.05  # never answer
    occasional_share: float = 0.25  # answer about half the weeks; the others ~92%
    module_share: float = 0.85  # of the weeks they answer, also answer the module


def crowd(shape: CrowdShape, check_ins: list[date]) -> tuple[Person, ...]:
    """The members, each with their answers for the check-ins on ``check_ins`` (local dates)."""
    if shape.size > 100 * len(AREA_CODES):
        raise ValueError(f"at most {100 * len(AREA_CODES)} members (fictional numbers)")
    rng = random.Random(shape.seed)
    # Who texts and who e-mails, drawn apart: what each is asked depends on it (WHO-5 is on the
    # e-mail form only).
    by_text = random.Random(shape.seed + 1)
    channels = [
        Channel.sms if by_text.random() < shape.sms_share else Channel.email
        for _ in range(shape.size)
    ]
    asked = {
        channel: [questionnaire_for("check_in", day, channel) for day in check_ins]
        for channel in Channel
    }
    people = []
    for index in range(shape.size):
        questions = asked[channels[index]]
        connectedness = rng.gauss(0.0, 1.0)
        kind = rng.random()
        answers_weekly = (
            0.0
            if kind < shape.lapsed_share
            else 0.5
            if kind < shape.lapsed_share + shape.occasional_share
            else 0.92
        )
        answers: list[dict[str, int] | None] = []
        for questionnaire in questions:
            if questionnaire is None or rng.random() >= answers_weekly:
                answers.append(None)
                continue
            items = (
                questionnaire.items
                if rng.random() < shape.module_share
                else (questionnaire.items[0],)
            )
            answers.append({item.key: _code(rng, item.key, connectedness) for item in items})
        people.append(
            Person(
                name=f"member {index + 1:03d}",
                email=f"member{index + 1:03d}@{shape.community_id}.example",
                timezone=shape.timezone,
                shares_answers=rng.random() < shape.consent_share,
                answers=tuple(answers),
                phone=f"+1{AREA_CODES[index // 100]}5550{100 + index % 100}",
                channel=channels[index].value,
            )
        )
    return tuple(people)


def _code(rng: random.Random, item: str, connectedness: float) -> int:
    """An answer whose share over the population is the item's ``ANSWER_SHARES``."""
    moment = STEADINESS * connectedness + math.sqrt(1 - STEADINESS**2) * rng.gauss(0.0, 1.0)
    below = _NORMAL.cdf(moment)  # uniform over people and moments
    cumulative = 0.0
    for code, share in ANSWER_SHARES[item]:
        cumulative += share
        if below < cumulative:
            return code
    return ANSWER_SHARES[item][-1][0]


def weekly_dates(first: date, weeks: int) -> list[date]:
    return [first + timedelta(weeks=week) for week in range(weeks)]


@dataclass(frozen=True)
class HeadlineCounts:
    """The exact counts behind the headline indicators of the period, as the crowd is planned
    (everyone is prompted every week): for sizing, never shown."""

    lonely: int  # consenting people whose latest anchor answer is "often/always"
    answered_anchor: int  # consenting people who answered the anchor at least once
    answered: int  # consenting people who answered at least once
    prompted: int  # consenting people

    def margins(self, min_numerator: int, min_denominator: int) -> dict[str, int]:
        """Indicator code -> how many people its smaller count stands above its threshold."""
        return {
            "chronic_loneliness": min(
                self.lonely - min_numerator, self.answered_anchor - min_denominator
            ),
            "participation": min(self.answered - min_numerator, self.prompted - min_denominator),
        }


def headline_counts(people: tuple[Person, ...]) -> HeadlineCounts:
    consenting = [person for person in people if person.shares_answers]
    latest: dict[str, int] = {}
    for person in consenting:
        for week in range(len(person.answers)):
            given = person.answers_in(week)
            if given and ANCHOR_ITEM in given:
                latest[person.email] = given[ANCHOR_ITEM]
    answered = sum(
        any(person.answers_in(week) for week in range(len(person.answers))) for person in consenting
    )
    return HeadlineCounts(
        lonely=sum(1 for code in latest.values() if code == 1),
        answered_anchor=len(latest),
        answered=answered,
        prompted=len(consenting),
    )


def period_sigma(settings: InsightsSettings) -> float:
    """The noise σ on each count of a period release: its ρ shared by every count it draws."""
    draws = sum(indicator.counts for indicator in for_cadence(Cadence.period))
    return noise_scale(settings.release_rho_period / draws)


def assured_indicators(
    people: tuple[Person, ...], settings: InsightsSettings, sigmas: float
) -> list[str]:
    """The headline indicators whose counts, as planned, stand at least ``sigmas`` noise σ clear
    of the suppression thresholds in the period release (withheld with probability at most
    about Φ(-sigmas) per count)."""
    margins = headline_counts(people).margins(
        settings.suppress_numerator_below, settings.suppress_denominator_below
    )
    floor = sigmas * period_sigma(settings)
    return [code for code, margin in margins.items() if margin >= floor]
