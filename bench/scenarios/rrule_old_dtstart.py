"""``rrule_old_dtstart`` and ``rrule_cache_mb``: what an old DTSTART costs, and what the rule
caches hold.

* ``rrule_old_dtstart``: the first ``next_after`` (caches cleared) of ``FREQ=HOURLY;INTERVAL=2``
  in Europe/London with DTSTART in 2000, in ms (median of 21 DTSTARTs an hour apart);
  baseline the same rule with DTSTART a week before the instant asked about. dateutil walks
  every occurrence from DTSTART (and with ``cache=True`` keeps them all), so without
  re-anchoring the old rule cost 15-770 ms here. Goal: ratio ≤ 2 (rules without COUNT are
  read from an anchor a day or two back; COUNT rules are read whole, exactly).
* ``rrule_cache_mb``: the Python heap (tracemalloc) that the scheduler's rule caches
  (``recurrence._compiled`` and ``_reanchored``, both LRU) still hold after 10,000 rituals with
  DTSTARTs spread over 2000-2026 and a mix of rules were each asked for their next occurrence,
  the rituals themselves gone. Goal: ≤ 50 MB (it was ~260 MiB with dateutil's occurrence cache).

In-process, no database; the same figures at ``--quick``. The cache's size is deterministic and
measured once per `make bench`; the first ``next_after`` is measured every repetition.
"""

from __future__ import annotations

import gc
import random
import statistics
import time
import tracemalloc
from datetime import UTC, datetime, timedelta

from bench.harness import Companion, Options, Run, Scenario
from services.scheduler.domain import recurrence
from services.scheduler.domain.recurrence import Schedule, load_zone

RULE = "FREQ=HOURLY;INTERVAL=2"
ZONE = "Europe/London"
AFTER = datetime(2027, 1, 4, 9, 30, tzinfo=UTC)
OLD_DTSTART = datetime(2000, 1, 1, 9, 0)
RITUALS = 10_000
TRACED = 5_000
SAMPLES = 21
# What operators write; each ritual has its own DTSTART, so each is its own cache entry.
RULES = (
    "FREQ=WEEKLY;BYDAY=MO",
    "FREQ=WEEKLY;BYDAY=TU,TH",
    "FREQ=DAILY",
    "FREQ=HOURLY;INTERVAL=2",
    "FREQ=MONTHLY;BYMONTHDAY=1",
    "FREQ=MONTHLY;BYDAY=1SA",
    "FREQ=WEEKLY;INTERVAL=2;BYDAY=SU",
)


def clear_caches() -> None:
    recurrence._compiled.cache_clear()
    recurrence._reanchored.cache_clear()


def first_next_after_ms(dtstart: datetime) -> float:
    """The median of ``SAMPLES`` first calls (caches cleared before each), for DTSTARTs an hour
    apart from ``dtstart``: one call of ~1 ms is at the mercy of the scheduler of the OS."""
    zone = load_zone(ZONE)
    elapsed = []
    for k in range(SAMPLES):
        clear_caches()
        start = dtstart + timedelta(hours=k)
        schedule = Schedule(RULE, start)
        started = time.perf_counter()
        found = schedule.next_after(zone, AFTER)
        elapsed.append((time.perf_counter() - started) * 1000)
        if found is None or found <= AFTER:
            raise RuntimeError(f"next_after gave {found} for DTSTART {start}")
    return statistics.median(elapsed)


def cache_mb() -> tuple[float, dict[str, int]]:
    """Heap the caches hold for ``RITUALS`` rituals once the rituals are dropped.

    Only the last ``TRACED`` rituals run under tracemalloc (it makes them ten times slower):
    each cache is an LRU of 4,096 entries and those rituals add more than 4,096 new keys to
    each, so every entry still held at the end was allocated while traced."""
    clear_caches()
    gc.collect()
    rng = random.Random(11)
    zone = load_zone(ZONE)

    def ritual(n: int) -> None:
        dtstart = datetime(2000, 1, 1, 9, 0) + timedelta(
            days=rng.randrange(27 * 365), minutes=15 * rng.randrange(48)
        )
        Schedule(RULES[n % len(RULES)], dtstart).next_after(zone, AFTER)

    for n in range(RITUALS - TRACED):
        ritual(n)
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        for n in range(RITUALS - TRACED, RITUALS):
            ritual(n)
        gc.collect()
        held = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    entries = {
        "compiled_entries": recurrence._compiled.cache_info().currsize,
        "reanchored_entries": recurrence._reanchored.cache_info().currsize,
    }
    clear_caches()
    return held / 2**20, entries


def scenarios(options: Options) -> list[Scenario]:
    async def seed() -> tuple[float, dict[str, int]]:
        # Deterministic (same rules, same DTSTARTs), and slow under tracemalloc: measured
        # once, reported with every repetition.
        return cache_mb()

    async def measure(cache: tuple[float, dict[str, int]]) -> Run:
        old = first_next_after_ms(OLD_DTSTART)
        recent = first_next_after_ms((AFTER - timedelta(days=7)).replace(tzinfo=None))
        return Run(
            old,
            recent,
            details={"dtstart": OLD_DTSTART.isoformat()},
            companions={"rrule_cache_mb": Run(cache[0], details={"rituals": RITUALS, **cache[1]})},
        )

    return [
        Scenario(
            "rrule_old_dtstart",
            "ms",
            None,
            measure,
            seed,
            goal="≤ 2",
            note="first next_after, DTSTART 2000; baseline DTSTART a week back",
            companions=(Companion("rrule_cache_mb", "MiB", "≤ 50"),),
        )
    ]
