from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from services.notifier.domain.deployment_rate_limit import DeploymentTokenBucket
from services.notifier.domain.rate_limit import (
    BucketLevel,
    Reservation,
    ReservationRequest,
    TokenBucket,
    reserve_tokens,
)
from shared.clock import ManualClock

START = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


async def settle() -> None:
    """Let every runnable task run until it blocks again (no time passes on the clock)."""
    for _ in range(10):
        await asyncio.sleep(0)


def test_a_full_bucket_allows_a_burst_then_says_how_long_to_wait(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=2, burst=3, clock=clock)
    assert [bucket.try_take() for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.try_take() == pytest.approx(0.5)


def test_a_refused_take_takes_nothing(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.try_take() == 0.0
    assert bucket.try_take() == pytest.approx(1.0)
    assert bucket.try_take() == pytest.approx(1.0)  # asking again did not dig a deeper hole
    clock.advance(timedelta(seconds=1))
    assert bucket.try_take() == 0.0


def test_tokens_refill_at_the_rate(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=10, burst=1, clock=clock)
    assert bucket.try_take() == 0.0
    clock.advance(timedelta(milliseconds=40))
    assert bucket.try_take() == pytest.approx(0.06)
    clock.advance(timedelta(milliseconds=60))
    assert bucket.try_take() == 0.0


def test_refill_stops_at_the_burst(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=5, burst=2, clock=clock)
    clock.advance(timedelta(hours=1))
    assert [bucket.try_take() for _ in range(2)] == [0.0, 0.0]
    assert bucket.try_take() > 0


def test_a_fractional_rate(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=1 / 3, burst=1, clock=clock)
    assert bucket.try_take() == 0.0
    wait = bucket.try_take()
    assert wait == pytest.approx(3.0)
    clock.advance(timedelta(seconds=wait))
    assert bucket.try_take() == 0.0


def test_sleeping_exactly_the_wait_is_enough_despite_rounding(clock: ManualClock) -> None:
    # 1/3 s is not a whole number of microseconds; the wait is rounded up so it suffices.
    bucket = TokenBucket(rate=3, burst=1, clock=clock)
    for _ in range(100):
        wait = bucket.try_take()
        if wait:
            clock.advance(timedelta(seconds=wait))
            assert bucket.try_take() == 0.0


def test_over_a_long_run_the_rate_holds(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=7, burst=1, clock=clock)
    taken = 0
    while clock.now() < START + timedelta(seconds=100):
        wait = bucket.try_take()
        if wait == 0:
            taken += 1
        else:
            clock.advance(timedelta(seconds=wait))
    assert taken == pytest.approx(1 + 7 * 100, abs=1)


@pytest.mark.parametrize(("rate", "burst"), [(0, 1), (-1, 1), (1, 0), (1, 0.5)])
def test_nonsense_settings_are_refused(clock: ManualClock, rate: float, burst: float) -> None:
    with pytest.raises(ValueError, match=r"rate|burst"):
        TokenBucket(rate=rate, burst=burst, clock=clock)


class _SteppedBackClock:
    """A wall clock that NTP steps backwards once."""

    def __init__(self) -> None:
        self.instant = START

    def now(self) -> datetime:
        return self.instant

    async def sleep(self, seconds: float) -> None:  # pragma: no cover - not used
        raise AssertionError("not expected to sleep")

    async def sleep_until(self, instant: datetime) -> None:  # pragma: no cover - not used
        raise AssertionError("not expected to sleep")


def test_a_clock_stepped_backwards_mints_no_tokens() -> None:
    clock = _SteppedBackClock()
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    assert bucket.try_take() == 0.0
    clock.instant = START - timedelta(hours=1)
    assert bucket.try_take() > 0
    clock.instant = START + timedelta(seconds=0.5)
    assert bucket.try_take() == pytest.approx(0.5)  # counted from the latest time seen


async def test_take_returns_at_once_while_tokens_last(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=1, burst=2, clock=clock)
    await asyncio.wait_for(bucket.take(), timeout=1)
    await asyncio.wait_for(bucket.take(), timeout=1)
    assert clock.now() == START


async def test_take_waits_on_the_clock_not_in_real_time(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=2, burst=1, clock=clock)
    await bucket.take()
    second = asyncio.create_task(bucket.take())
    await settle()
    assert not second.done()
    clock.advance(timedelta(milliseconds=499))
    await settle()
    assert not second.done()
    clock.advance(timedelta(milliseconds=1))
    await asyncio.wait_for(second, timeout=1)


async def test_waiters_are_served_in_arrival_order_at_the_rate(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    served: list[tuple[int, float]] = []

    async def send(number: int) -> None:
        await bucket.take()
        served.append((number, (clock.now() - START).total_seconds()))

    tasks = [asyncio.create_task(send(n)) for n in range(4)]
    for _ in range(4):
        await settle()
        clock.advance(timedelta(seconds=1))
    await asyncio.wait_for(asyncio.gather(*tasks), timeout=1)
    assert served == [(0, 0.0), (1, 1.0), (2, 2.0), (3, 3.0)]


async def test_a_cancelled_waiter_takes_no_token(clock: ManualClock) -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    await bucket.take()
    waiter = asyncio.create_task(bucket.take())
    await settle()
    waiter.cancel()
    with pytest.raises(asyncio.CancelledError):
        await waiter
    clock.advance(timedelta(seconds=1))
    assert bucket.try_take() == 0.0


async def test_a_newcomer_does_not_overtake_a_waiter_whose_token_is_due(
    clock: ManualClock,
) -> None:
    bucket = TokenBucket(rate=1, burst=1, clock=clock)
    await bucket.take()
    served: list[str] = []

    async def send(name: str) -> None:
        await bucket.take()
        served.append(name)

    waiter = asyncio.create_task(send("waiter"))
    await settle()
    # The newcomer's first step is scheduled before the waiter's wake-up: it must still queue.
    newcomer = asyncio.create_task(send("newcomer"))
    clock.advance(timedelta(seconds=1))
    await settle()
    assert served == ["waiter"]
    clock.advance(timedelta(seconds=1))
    await asyncio.wait_for(asyncio.gather(waiter, newcomer), timeout=1)
    assert served == ["waiter", "newcomer"]


def test_a_multi_segment_sms_takes_one_token_per_segment() -> None:
    clock = ManualClock(datetime(2027, 1, 4, tzinfo=UTC))
    bucket = TokenBucket(rate=1, burst=5, clock=clock)
    assert bucket.try_take(4) == 0.0
    assert bucket.try_take(3) == pytest.approx(2.0)
    clock.advance(timedelta(seconds=2))
    assert bucket.try_take(3) == 0.0
    assert bucket.try_take(50) == pytest.approx(5.0)  # never more than a full bucket


class SlowStore:
    """A shared bucket (``reserve_tokens`` on one level) whose transaction takes clock time: the
    clock moves on while each reservation is in flight, as it does in production."""

    def __init__(self, clock: ManualClock, takes: timedelta) -> None:
        self.clock = clock
        self.takes = takes
        self.level: BucketLevel | None = None

    async def reserve(self, name: str, request: ReservationRequest) -> Reservation:
        self.level, reservation = reserve_tokens(self.level, request)
        self.clock.advance(self.takes)
        return reservation


async def test_a_shared_bucket_waits_until_the_token_is_due_not_a_wait_after_asking(
    clock: ManualClock,
) -> None:
    store = SlowStore(clock, takes=timedelta(milliseconds=250))
    bucket = DeploymentTokenBucket("email", rate=1, burst=1, clock=clock, store=store)
    await bucket.take()  # the burst, granted at once; the answer came at +0.25 s
    second = asyncio.create_task(bucket.take())
    await settle()
    assert not second.done()
    # Asked at +0.25 s with 0.25 tokens in the bucket: the next is there at +1 s. The answer
    # came at +0.5 s; waiting 0.75 s from then would leave the token idle until +1.25 s.
    clock.set(START + timedelta(seconds=1))
    await settle()
    assert second.done()
    assert bucket.granted == 2
