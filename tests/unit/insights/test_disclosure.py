"""Disclosure control: the noise has the configured spread, suppression is decided on noisy
counts, intervals cover the noise. Statistical tests say their false-failure rate (≤ 1e-6) and
never assert that one draw differs from the truth (noise can return it)."""

from __future__ import annotations

import math
import statistics

import pytest

from services.insights.domain.disclosure import (
    NoisyCounter,
    Thresholds,
    count_cell,
    epsilon_of,
    noise_scale,
    proportion_cell,
    rho_of,
)

RULES = Thresholds()
DRAWS = 4000
# |z| > 5.33 has probability 1e-7 for a normal variable: each statistical assertion below fails
# by chance with probability below 1e-6 (the estimates are sums of thousands of draws, so the
# normal approximation is close).
Z = 5.33


def test_the_scale_spends_exactly_the_rho_it_was_given() -> None:
    for rho in (0.05 / 19, 0.02 / 5, 0.05):
        assert rho_of(noise_scale(rho)) == pytest.approx(rho, rel=1e-6)
    # σ = sqrt(1 / 2ρ) at sensitivity 1: ρ 0.005 per count is σ 10 (the reference's figure).
    assert noise_scale(0.005) == pytest.approx(10.0, rel=1e-6)
    assert epsilon_of(0.05) == pytest.approx(1.47, abs=0.01)  # at δ = 1e-6


def test_over_many_draws_the_error_spreads_as_the_configured_sigma() -> None:
    counter = NoisyCounter(0.05 / 19)
    sigma = counter.scale
    errors = [counter(250) - 250 for _ in range(DRAWS)]
    # The mean error is 0: its standard error is σ/√n.
    assert abs(statistics.fmean(errors)) <= Z * sigma / math.sqrt(DRAWS)
    # The variance is σ²: (n-1)s²/σ² is χ²(n-1), mean n-1, sd √(2(n-1)).
    ratio = statistics.variance(errors) / sigma**2
    assert abs(ratio - 1) <= Z * math.sqrt(2 / (DRAWS - 1))


def test_noisy_counts_are_integers_and_can_be_negative_near_zero() -> None:
    counter = NoisyCounter(0.05 / 19)
    draws = [counter(0) for _ in range(400)]
    assert all(isinstance(draw, int) for draw in draws)
    # P(all 400 draws ≥ 0) = 2^-400 (well, ≈ 0.51^400): never.
    assert min(draws) < 0


@pytest.mark.parametrize(
    ("numerator", "denominator", "flag"),
    [
        (10, 400, "c"),  # numerator below 11
        (11, 29, "c"),  # denominator below 30
        (11, 30, "u"),  # both at the threshold: published, but 37% ± 16 points is unreliable
        (200, 400, None),
        (15, 40, "u"),  # 37.5% ± 15 points: published, low reliability
    ],
)
def test_suppression_is_a_rule_on_the_noisy_numbers_it_is_given(
    numerator: int, denominator: int, flag: str | None
) -> None:
    cell = proportion_cell(numerator, denominator, 0.0, RULES)
    assert cell.flag == flag
    if flag == "c":
        assert (cell.value, cell.lower, cell.upper) == (None, None, None)
    else:
        assert cell.value == round(100 * numerator / denominator, 1)


def test_a_count_is_withheld_below_eleven_and_flagged_when_its_interval_reaches_zero() -> None:
    assert count_cell(10, 5.0, RULES).flag == "c"
    assert count_cell(12, 10.0, RULES).flag == "u"  # 12 ± 19.6 reaches zero
    published = count_cell(80, 10.0, RULES)
    assert published.flag is None
    assert (published.lower, published.upper) == (60.4, 99.6)


def test_the_interval_is_wider_for_more_noise() -> None:
    quiet = proportion_cell(120, 400, 1.0, RULES)
    noisy = proportion_cell(120, 400, 14.0, RULES)
    assert quiet.lower is not None
    assert noisy.lower is not None
    assert quiet.upper is not None
    assert noisy.upper is not None
    assert noisy.upper - noisy.lower > quiet.upper - quiet.lower


def test_intervals_cover_the_truth_despite_the_noise() -> None:
    """A known proportion, counted exactly then made noisy: its 95% interval (sampling and
    noise) covers it at least 95% of the time. Below 92% in 4,000 tries has probability
    < 1e-9 if the true coverage is 95% (z = 8.7)."""
    counter = NoisyCounter(0.05 / 19)
    numerator, denominator = 120, 400
    covered = 0
    for _ in range(DRAWS):
        cell = proportion_cell(counter(numerator), counter(denominator), counter.scale, RULES)
        assert cell.lower is not None
        assert cell.upper is not None
        covered += cell.lower <= 30.0 <= cell.upper
    assert covered / DRAWS >= 0.92
