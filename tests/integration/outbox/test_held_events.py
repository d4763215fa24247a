"""Held outbox events: released together on the injected clock, in the order of their ids,
replaceable and retractable until then."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import MetaData
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.demo.system import DatabaseFor
from shared.clock import ManualClock
from shared.contracts import SignpostingSentV2, keyed_event_id
from shared.db import create_engine, session_factory
from shared.outbox import (
    OutboxRelay,
    outbox_table,
    retract_held_events,
    stage_events,
    stage_held_events,
)
from tests.support import eventually

NOW = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
RELEASE = NOW + timedelta(days=9)
metadata = MetaData()
outbox = outbox_table(metadata)


class RecordingPublisher:
    def __init__(self) -> None:
        self.published: list[tuple[str, bytes, dict[str, str]]] = []

    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        self.published.append((subject, payload, headers))

    def ids(self) -> list[str]:
        return [headers["Nats-Msg-Id"] for _, _, headers in self.published]


def fact(key: str, week: str = "2027-W01") -> SignpostingSentV2:
    return SignpostingSentV2(
        event_id=keyed_event_id(b"k" * 32, "signposting.sent", key),
        occurred_at=RELEASE,
        respondent_key=key,
        community_id="riverside",
        iso_week=week,
    )


@pytest.fixture
async def sessions(database_for: DatabaseFor) -> AsyncIterator[async_sessionmaker[AsyncSession]]:
    url, schema = database_for("outbox")
    engine = create_engine(url, schema)
    async with engine.begin() as connection:
        if schema:
            await connection.exec_driver_sql(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        await connection.run_sync(metadata.create_all)
    yield session_factory(engine)
    await engine.dispose()


KEYS = [f"rk_{n:032x}" for n in range(1, 21)]


async def test_held_events_leave_together_at_their_release_in_the_order_of_their_ids(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock(NOW)
    publisher = RecordingPublisher()
    relay = OutboxRelay(outbox, sessions, publisher, clock=clock)
    async with sessions() as session, session.begin():
        # Staged one by one, as answers come in; a plain event staged in between.
        for key in KEYS:
            await stage_held_events(session, outbox, [(fact(key), key)], clock.now(), RELEASE)
        await stage_events(session, outbox, [fact("rk_plainplainplainplain")], clock.now())
    assert await relay.drain() == 1  # only the plain event
    clock.set(RELEASE - timedelta(seconds=1))
    assert await relay.drain() == 0
    clock.set(RELEASE)
    assert await relay.drain() == len(KEYS)
    released = publisher.ids()[1:]
    assert sorted(released) == sorted(fact(key).event_id for key in KEYS)
    assert released == sorted(released)  # keyed ids: an order nobody can relate to answers
    assert released != [fact(key).event_id for key in KEYS]  # not the order they came in


async def test_a_held_event_is_replaced_until_released_and_retracted_by_its_key(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock(NOW)
    publisher = RecordingPublisher()
    relay = OutboxRelay(outbox, sessions, publisher, clock=clock)
    first, second, third = KEYS[:3]
    async with sessions() as session, session.begin():
        await stage_held_events(session, outbox, [(fact(first), first)], clock.now(), RELEASE)
        await stage_held_events(session, outbox, [(fact(second), second)], clock.now(), RELEASE)
        await stage_held_events(session, outbox, [(fact(third), third)], clock.now(), RELEASE)
    async with sessions() as session, session.begin():
        # The latest version wins: same id, another week in the payload.
        await stage_held_events(
            session, outbox, [(fact(first, "2027-W02"), first)], clock.now(), RELEASE
        )
        assert await retract_held_events(session, outbox, [second], clock.now()) == 1
    clock.set(RELEASE)
    assert await relay.drain() == 2
    weeks = {
        json.loads(payload)["respondent_key"]: json.loads(payload)["iso_week"]
        for _, payload, _ in publisher.published
    }
    assert weeks == {first: "2027-W02", third: "2027-W01"}
    # Released events are history: neither replaced nor retracted any more.
    async with sessions() as session, session.begin():
        await stage_held_events(
            session, outbox, [(fact(first, "2027-W03"), first)], clock.now(), RELEASE
        )
        assert await retract_held_events(session, outbox, [third], clock.now()) == 0
    assert await relay.drain() == 0


async def test_the_relay_wakes_when_the_clock_reaches_a_release(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    clock = ManualClock(NOW)
    publisher = RecordingPublisher()
    # A sweep interval far longer than the test: only the clock can wake it.
    relay = OutboxRelay(outbox, sessions, publisher, clock=clock, sweep_interval_s=3600)
    async with sessions() as session, session.begin():
        await stage_held_events(session, outbox, [(fact(KEYS[0]), KEYS[0])], clock.now(), RELEASE)
    stop = asyncio.Event()
    running = asyncio.create_task(relay.run(stop))
    try:
        await eventually(lambda: clock.now() == NOW and _sleeping(clock))
        assert publisher.published == []
        clock.set(RELEASE)
        await eventually(lambda: len(publisher.published) == 1)
    finally:
        stop.set()
        relay.kick()
        running.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await running


def _sleeping(clock: ManualClock) -> bool:
    return bool(clock._sleepers)  # the relay waits on the clock for the release
