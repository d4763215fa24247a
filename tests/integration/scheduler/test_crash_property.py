"""Property: whatever the schedules, zones and crash points, the set of occurrences emitted
equals the set due, each under one event id.

A "crash" cancels the tick or the outbox relay after a drawn number of event-loop steps, so it
lands anywhere: between claim and stage, mid-transaction, after publishing part of a batch but
before deleting it. The database rolls back what was not committed, exactly as when a process
dies; the next tick carries on from what is on disk.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from itertools import count

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.demo.system import DatabaseFor
from services.scheduler.domain.recurrence import Schedule, load_zone
from services.scheduler.handlers.emit_due import EmissionPolicy
from shared.clock import ManualClock
from tests.integration.scheduler.harness import SchedulerHarness, member

ZONES = ["Europe/London", "America/New_York", "Australia/Lord_Howe", "Asia/Kathmandu"]
RULES = [
    "FREQ=DAILY",
    "FREQ=WEEKLY;BYDAY=MO,TH,SU",
    "FREQ=DAILY;INTERVAL=2",
    "FREQ=HOURLY;INTERVAL=5",
]
START = datetime(2027, 3, 12, 0, 0, tzinfo=UTC)  # spans the US and EU spring-forward
_examples = count()


async def _run_with_crash(
    harness: SchedulerHarness, step: Callable[[], Awaitable[object]], crash_after: int | None
) -> None:
    task = asyncio.ensure_future(step())
    if crash_after is None:
        await task
        return
    for _ in range(crash_after):
        await asyncio.sleep(0)
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    # A crashed process takes its connections with it: whatever they held uncommitted is
    # rolled back by the database, and the restarted process opens new ones.
    with contextlib.suppress(Exception):
        await harness.engine.dispose()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    member_zones=st.lists(st.sampled_from(ZONES), min_size=1, max_size=4),
    rule=st.sampled_from(RULES),
    local_start=st.sampled_from(["2027-03-12T02:30", "2027-03-12T09:00", "2027-03-12T23:45"]),
    steps=st.lists(
        st.tuples(
            st.integers(min_value=20, max_value=180),  # minutes to the next tick
            st.none() | st.integers(min_value=0, max_value=40),  # crash the tick after n steps
            st.none() | st.integers(min_value=0, max_value=40),  # crash the relay after n steps
        ),
        min_size=5,
        max_size=40,
    ),
)
async def test_emitted_equals_due_whatever_the_crash_points(
    database_for: DatabaseFor,
    member_zones: list[str],
    rule: str,
    local_start: str,
    steps: list[tuple[int, int | None, int | None]],
) -> None:
    url, schema = database_for(f"scheduler_p{next(_examples)}")
    clock = ManualClock(START)
    harness = SchedulerHarness(url, schema, clock, EmissionPolicy(batch_size=2))
    await harness.start()
    try:
        await harness.community()
        await harness.ritual(rrule=rule, dtstart=local_start, misfire_grace_minutes=7 * 24 * 60)
        for n, zone in enumerate(member_zones):
            await harness.enrol(member(n), zone)
        for minutes, tick_crash, relay_crash in steps:
            clock.advance(timedelta(minutes=minutes))
            await _run_with_crash(harness, harness.ticker.tick, tick_crash)
            await _run_with_crash(harness, harness.relay.drain, relay_crash)
        await harness.ticker.tick()  # the restart after the last crash
        await harness.relay.drain()
        end = clock.now()

        schedule = Schedule(rule, datetime.fromisoformat(local_start))
        due = {
            (member(n), instant)
            for n, zone in enumerate(member_zones)
            for instant in _until(schedule, zone, end)
        }
        events = harness.due_events()
        emitted = {(e.member_id, e.occurrence_at) for e in events}
        assert emitted == due
        ids_per_occurrence: dict[tuple[str, datetime], set[str]] = {}
        for event in events:
            ids_per_occurrence.setdefault((event.member_id, event.occurrence_at), set()).add(
                event.event_id
            )
        assert all(len(ids) == 1 for ids in ids_per_occurrence.values())
    finally:
        await harness.close()


def _until(schedule: Schedule, zone: str, end: datetime) -> list[datetime]:
    instants = []
    for instant in schedule.occurrences_after(load_zone(zone), START):
        if instant > end:
            break
        instants.append(instant)
    return instants
