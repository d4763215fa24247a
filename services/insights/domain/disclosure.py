"""Disclosure control: differential privacy on every count, then suppression and intervals.

* Privacy unit: one participant per release window (a week, or a 4-week period) and community.
  Each person moves each count by at most 1 (the notifier sends one fact per person, item and
  week; one summary per person and period).
* Noise: OpenDP's Gaussian mechanism on integer counts (zCDP). A release's ρ is shared equally
  by the k counts it draws per community: each gets ρ/k, and OpenDP finds the scale whose
  privacy map at sensitivity 1 is exactly that. Composition over the k counts spends ρ.
* Suppression is decided on the *noisy* counts, never on true ones (that would leak):
  denominator < 30 or numerator < 11 -> withheld, flag ``c``; a 95% interval wider than ±10
  points (a count: one whose interval reaches zero) -> flag ``u`` (published, low reliability).
* Intervals: Wilson 95% for the proportion, widened by the noise (the variance of a ratio of two
  noisy counts); for a count, the noise alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cache

import opendp.prelude as dp

Z95 = 1.959963984540054


@dataclass(frozen=True)
class Thresholds:
    min_denominator: int = 30
    min_numerator: int = 11
    max_halfwidth_points: float = 10.0


@cache
def _gaussian(scale: float) -> dp.Measurement:
    dp.enable_features("contrib")
    return dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=scale)


@cache
def noise_scale(rho_per_count: float) -> float:
    """The Gaussian scale (σ) whose zCDP cost at sensitivity 1 is ``rho_per_count``."""
    dp.enable_features("contrib")
    scale = dp.binary_search_param(
        lambda s: dp.m.make_gaussian(dp.atom_domain(T=int), dp.absolute_distance(T=int), scale=s),
        d_in=1,
        d_out=rho_per_count,
    )
    return float(scale)


def rho_of(scale: float) -> float:
    """OpenDP's own accounting of one count at this scale (sensitivity 1)."""
    return float(_gaussian(scale).map(1))  # type: ignore[no-untyped-call]


def epsilon_of(rho: float, delta: float = 1e-6) -> float:
    """The (ε, δ) reading of a zCDP ρ, by OpenDP's conversion (for the methodology)."""
    dp.enable_features("contrib")
    scale = noise_scale(rho)
    approx = dp.c.make_zCDP_to_approxDP(_gaussian(scale))
    curve = approx.map(1)  # type: ignore[no-untyped-call]
    return float(curve.epsilon(delta))


class NoisyCounter:
    """Draws noisy counts at one scale: what a release uses for every count it publishes."""

    def __init__(self, rho_per_count: float) -> None:
        self.scale = noise_scale(rho_per_count)
        self._measure = _gaussian(self.scale)

    def __call__(self, true_count: int) -> int:
        return int(self._measure(int(true_count)))


@dataclass(frozen=True)
class Cell:
    """What analysts see of one area, window and indicator (percent, or a number of people)."""

    value: float | None
    lower: float | None
    upper: float | None
    flag: str | None  # "c" withheld, "u" low reliability, None


def proportion_cell(numerator: float, denominator: float, sigma: float, rules: Thresholds) -> Cell:
    """``sigma``: the noise's standard deviation on each count (regions: of their sums)."""
    if denominator < rules.min_denominator or numerator < rules.min_numerator:
        return Cell(None, None, None, "c")
    n = denominator
    p = min(max(numerator / n, 0.0), 1.0)
    z2 = Z95 * Z95
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    sampling = Z95 / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    # Var(x~/n~) ≈ σ²(1 + p²)/n² for independent noise on numerator and denominator.
    noise = Z95 * sigma * math.sqrt(1 + p * p) / n
    half = math.sqrt(sampling * sampling + noise * noise)
    lower, upper = max(centre - half, 0.0), min(centre + half, 1.0)
    flag = "u" if (upper - lower) * 100 / 2 > rules.max_halfwidth_points else None
    return Cell(round(p * 100, 1), round(lower * 100, 1), round(upper * 100, 1), flag)


def count_cell(count: float, sigma: float, rules: Thresholds) -> Cell:
    """A number of people. Flag ``u`` when its 95% interval reaches zero: the noise alone
    could have made it."""
    if count < rules.min_numerator:
        return Cell(None, None, None, "c")
    half = Z95 * sigma
    flag = "u" if count - half <= 0 else None
    return Cell(float(round(count)), round(max(count - half, 0.0), 1), round(count + half, 1), flag)
