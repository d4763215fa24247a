"""The scheduler scenarios of `make bench` measure what they claim, on a burst of a few events.

The bare publisher and APScheduler must send the very bytes our scheduler sends (else the
ratios compare different work), our replicas must run the production wiring to the end of the
burst, and the duplicate count must see every publish.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from sqlalchemy import select

from bench.harness import Options
from bench.scenarios import scheduler_emit
from bench.scenarios.scheduler_burst import (
    DUE,
    BurstShape,
    Database,
    expected_messages,
    schedule_state,
    seed_schedule,
)
from bench.scenarios.scheduler_emit import (
    Broker,
    Prepared,
    apscheduler_burst,
    apscheduler_duplicates,
    fresh_broker,
    our_burst,
    our_duplicates,
)
from services.demo.system import DatabaseFor
from services.scheduler.adapters.tables import outbox
from services.scheduler.handlers.emit_due import EmissionPolicy, emit_due_occurrences
from shared.db import create_engine, session_factory

SHAPE = BurstShape(communities=3, members_per_community=4)

pytestmark = pytest.mark.database


@pytest.fixture
async def broker() -> AsyncIterator[Broker]:
    async with fresh_broker() as running:
        yield running


def test_a_burst_is_whole_communities_of_a_hundred() -> None:
    assert BurstShape.of(100_000) == BurstShape(1_000, 100)
    assert BurstShape.of(40) == BurstShape(1, 40)
    with pytest.raises(ValueError, match="whole number"):
        BurstShape.of(150)


async def test_the_baselines_send_exactly_what_the_scheduler_stages(
    database_for: DatabaseFor,
) -> None:
    url, schema = database_for("scheduler")
    database = Database(url, schema)
    await seed_schedule(database, SHAPE)
    engine = create_engine(url, schema)
    try:
        result = await emit_due_occurrences(session_factory(engine), DUE, EmissionPolicy())
        async with engine.connect() as connection:
            query = select(outbox.c.event_id, outbox.c.subject, outbox.c.payload)
            staged = (await connection.execute(query)).all()
    finally:
        await engine.dispose()
    assert result.emitted == SHAPE.events
    assert sorted((row.event_id, row.subject, row.payload) for row in staged) == sorted(
        (message.event_id, message.subject, message.body) for message in expected_messages(SHAPE)
    )


async def test_a_replica_process_fires_the_whole_burst_and_advances_every_cursor(
    database_for: DatabaseFor, broker: Broker
) -> None:
    url, schema = database_for("scheduler")
    prepared = Prepared(Database(url, schema), SHAPE, expected_messages(SHAPE))
    await seed_schedule(prepared.database, SHAPE)
    burst = await our_burst(prepared, broker)
    assert burst.events_per_s > 0
    assert 0 < burst.tick_s <= burst.seconds + 1
    assert burst.rss_peak_mb > 10
    state = await schedule_state(prepared.database)
    assert (state.cursors, state.cursors_not_advanced, state.outbox_rows) == (3, 0, 0)
    # Again, as the next repetition: the cursors go back, the stream starts empty.
    again = await our_burst(prepared, broker)
    assert again.events_per_s > 0


async def test_apscheduler_and_two_replicas_of_each_on_postgresql(
    postgres_schema: tuple[str, str], broker: Broker
) -> None:
    url, _schema = postgres_schema
    [*_, duplicates] = scheduler_emit.build_scenarios(Options(postgres_url=url), 10, 12)
    prepared = await duplicates.seed() if duplicates.seed else None
    assert isinstance(prepared, Prepared)
    try:
        theirs = await apscheduler_burst(prepared, broker)
        assert theirs.events_per_s > 0
        ours = await our_duplicates(prepared, broker)
        assert (ours.delivered, ours.distinct, ours.duplicates) == (12, 12, 0)
        two_apschedulers = await apscheduler_duplicates(prepared, broker)
        assert two_apschedulers.distinct == 12
        assert two_apschedulers.delivered >= 12
    finally:
        assert duplicates.cleanup is not None
        await duplicates.cleanup(prepared)
