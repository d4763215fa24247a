"""The arithmetic of the shared bucket: what one reservation grants, and that however the
replicas interleave (clocks apart, asking for different amounts) the bucket grants no more
than burst + rate x elapsed."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain.rate_limit import (
    BucketLevel,
    ReservationRequest,
    reserve_tokens,
)

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def ask(shortfall: float, want: float, at: datetime = START) -> ReservationRequest:
    return ReservationRequest(rate=2, burst=5, shortfall=shortfall, want=want, now=at)


def test_a_bucket_never_used_starts_full_and_grants_what_is_wanted() -> None:
    level, reservation = reserve_tokens(None, ask(1, 3))
    assert (reservation.granted, reservation.wait_s) == (3, 0)
    assert level == BucketLevel(2, START)


def test_short_of_what_is_wanted_it_grants_what_it_holds() -> None:
    level, reservation = reserve_tokens(BucketLevel(1.5, START), ask(1, 4))
    assert reservation.granted == 1.5
    assert level.tokens == 0


def test_short_of_the_shortfall_it_grants_nothing_and_says_when_the_want_is_there() -> None:
    level, reservation = reserve_tokens(BucketLevel(0.5, START), ask(1, 3))
    assert reservation.granted == 0
    assert reservation.wait_s == pytest.approx(1.25)  # (3 - 0.5) / 2
    assert level == BucketLevel(0.5, START)


def test_it_refills_at_the_rate_up_to_the_burst() -> None:
    later = START + timedelta(seconds=1)
    assert reserve_tokens(BucketLevel(0, START), ask(2, 2, later))[1].granted == 2
    much_later = START + timedelta(hours=1)
    level, reservation = reserve_tokens(BucketLevel(0, START), ask(1, 50, much_later))
    assert reservation.granted == 5
    assert level == BucketLevel(0, much_later)


def test_a_clock_behind_the_recorded_instant_adds_nothing_and_moves_nothing_back() -> None:
    level, reservation = reserve_tokens(
        BucketLevel(0, START), ask(1, 1, START - timedelta(minutes=5))
    )
    assert reservation.granted == 0
    assert level.updated_at == START


@pytest.mark.parametrize("seed", range(20))
def test_replicas_interleaving_at_random_never_get_more_than_the_bucket_allows(
    seed: int,
) -> None:
    rng = random.Random(seed)
    rate, burst = rng.choice([(1.0, 1.0), (1.0, 5.0), (20.0, 20.0), (1500.0, 300.0)])
    skew = [timedelta(seconds=rng.uniform(-2, 2)) for _ in range(3)]
    level: BucketLevel | None = None
    first_use: datetime | None = None
    latest = START
    granted = 0.0
    clock = START
    for _ in range(500):
        clock += timedelta(microseconds=rng.randrange(0, 2_000_000))
        replica = rng.randrange(3)
        now = clock + skew[replica]
        shortfall = float(rng.randint(1, 3))
        request = ReservationRequest(rate, burst, shortfall, shortfall + rng.uniform(0, 50), now)
        level, reservation = reserve_tokens(level, request)
        first_use = first_use or now
        latest = max(latest, now)
        assert reservation.granted == 0 or reservation.granted >= min(shortfall, burst) - 1e-9
        assert reservation.granted <= max(request.want, shortfall)
        granted += reservation.granted
        # The refill counts from the first use to the latest instant any replica recorded.
        assert granted <= burst + rate * (latest - first_use).total_seconds() + 1e-6
