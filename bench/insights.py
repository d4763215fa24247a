"""Insights' speed: ingest, a year of releases, and a stored-release query, each against a raw
baseline in the same run.

* Ingest: ResponseReceived facts already on the RESPONSES stream, taken by insights' own
  ``BatchEventConsumer`` into its database (tombstone check, insert-ignore, one transaction a
  batch), against a bare pull-and-ack of the same messages with nats-py (no database). Goal on
  2 cores: ≥ 20,000 responses/s.
* A year of indicators for 100 communities: 52 weekly and 13 period releases (true counts in
  SQL, OpenDP noise, suppression, intervals, regions, ledger), against the bare SQL of the same
  true counts.
* A stored-release query: ``GET /v1/values`` for one area and indicator through the analysts'
  app in-process, against the same SELECT on the session. Goal: < 100 ms.

Embedded nats-server from the wheel, SQLite (or ``--postgres URL``: a fresh schema, dropped
afterwards). Not a test: run it by hand (``make bench``).

    .venv/bin/python bench/insights.py [--facts 40000] [--communities 100] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

import httpx
import nats
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig
from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.insights.adapters.tables import prompted_facts, release_values, response_facts
from services.insights.adapters.true_counts import true_counts
from services.insights.api.app import create_analyst_api
from services.insights.domain.indicators import Cadence, for_cadence
from services.insights.handlers.facts import store_fact, store_facts
from services.insights.handlers.release import ReleasePolicy, compute_release
from services.insights.main import FACT_BATCH
from services.insights.settings import InsightsSettings
from shared.clock import ManualClock
from shared.contracts import ResponseReceivedV2, keyed_event_id
from shared.db import create_engine, session_factory
from shared.messaging.consumer import BatchEventConsumer, ConsumerSpec
from shared.messaging.publisher import encode_event
from shared.messaging.pull import BatchPull
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsServer
from shared.streams import ALL_STREAMS, ensure_streams
from shared.weeks import weeks_between

MIGRATIONS = Path(__file__).resolve().parents[1] / "services" / "insights" / "migrations"
KEY = b"bench-key-0123456789abcdef"
NOW = datetime(2028, 1, 10, tzinfo=UTC)
WEEKS = weeks_between(datetime(2027, 1, 4).date(), datetime(2027, 12, 27).date())  # 52


def _fact(n: int, week: str = "2027-W01", community: str = "c000") -> ResponseReceivedV2:
    key = "rk_" + keyed_event_id(KEY, "person", n, week).replace("-", "")
    return ResponseReceivedV2(
        event_id=keyed_event_id(KEY, "fact", n, week),
        occurred_at=NOW,
        respondent_key=key,
        community_id=community,
        iso_week=week,
        item="ons_loneliness",
        value=1 + n % 5,
    )


@asynccontextmanager
async def database(workdir: Path, postgres: str | None) -> AsyncIterator[tuple[str, str | None]]:
    if postgres is None:
        yield f"sqlite+aiosqlite:///{workdir / 'insights.sqlite3'}", None
        return
    schema = f"bench_{uuid.uuid4().hex[:8]}"
    yield postgres, schema
    engine = create_engine(postgres)
    async with engine.begin() as connection:
        await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def publish(url: str, facts: int) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    for start in range(0, facts, 1000):
        published = []
        for n in range(start, min(start + 1000, facts)):
            subject, body, headers = encode_event(_fact(n))
            published.append(js.publish(subject, body, headers=headers))
        await asyncio.gather(*published)
    await client.close()


async def raw_pull(url: str, facts: int, durable: str, ours: bool) -> float:
    """The baseline: pull and ack every message, nothing else; with the pull insights uses
    (``BatchPull``) or with nats-py's own ``fetch``."""
    client = await nats.connect(url)
    if ours:
        config = ConsumerConfig(durable_name=durable, ack_policy=AckPolicy.EXPLICIT)
        puller = BatchPull(lambda: client, "RESPONSES", ResponseReceivedV2.subject, config)
        fetch: Callable[[], Awaitable[list[Msg]]] = partial(puller.fetch, 500, 5.0)
    else:
        subscription = await client.jetstream().pull_subscribe(
            ResponseReceivedV2.subject, durable=durable
        )
        fetch = partial(subscription.fetch, 500, timeout=5)
    started = time.perf_counter()
    seen = 0
    while seen < facts:
        batch = await fetch()
        for message in batch:
            await message.ack()
        seen += len(batch)
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


async def ingest(
    url: str, sessions: async_sessionmaker[AsyncSession], facts: int, stores: int
) -> float:
    client = await nats.connect(url)

    class NoDeadLetters:
        async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
            raise RuntimeError("the bench's facts are valid")

    async def one(event: ResponseReceivedV2, _delivery: object) -> str:
        return await store_fact(sessions, event)

    async def many(events: list[ResponseReceivedV2]) -> int:
        return await store_facts(sessions, events)

    consumer = BatchEventConsumer(
        ConsumerSpec(
            "bench-insights", ResponseReceivedV2, batch_size=FACT_BATCH, stores_in_flight=stores
        ),
        one,
        many,
        NoDeadLetters(),
        lambda: client,
    )
    stop = asyncio.Event()
    started = time.perf_counter()
    running = asyncio.create_task(consumer.run(stop))
    # Done when the consumer has acknowledged every fact (acks follow the commit); asked of
    # the server, so the measurement does not compete with the ingest for the database.
    js = client.jetstream()
    while True:
        await asyncio.sleep(0.02)
        info = await js.consumer_info("RESPONSES", "bench-insights")
        if info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= facts:
            break
    elapsed = time.perf_counter() - started
    stop.set()
    await running
    await client.close()
    async with sessions() as session:
        stored = (
            await session.execute(select(func.count()).select_from(response_facts))
        ).scalar_one()
    assert stored == facts, f"{stored} of {facts} facts stored"
    return elapsed


async def seed_year(
    sessions: async_sessionmaker[AsyncSession], communities: int, people: int
) -> int:
    """A year of weekly facts: every person prompted, most answering the anchor."""
    rows = 0
    for week in WEEKS:
        answers, prompts = [], []
        for c in range(communities):
            community = f"c{c:03d}"
            for n in range(people):
                key = "rk_" + keyed_event_id(KEY, community, n, week).replace("-", "")
                prompts.append({"respondent_key": key, "community_id": community, "iso_week": week})
                if n % 10:
                    answers.append(
                        {
                            "respondent_key": key,
                            "community_id": community,
                            "iso_week": week,
                            "item": "ons_loneliness",
                            "value": 1 + (n + c) % 5,
                        }
                    )
        async with sessions() as session, session.begin():
            await session.execute(prompted_facts.insert(), prompts)
            await session.execute(response_facts.insert(), answers)
        rows += len(prompts) + len(answers)
    return rows


async def releases(sessions: async_sessionmaker[AsyncSession]) -> tuple[float, float]:
    """(the year's releases, the bare SQL of their true counts), in seconds."""
    started = time.perf_counter()
    for week in WEEKS:
        for indicator in for_cadence(Cadence.week):
            async with sessions() as session:
                await true_counts(session, indicator.measures[Cadence.week], Cadence.week, week)
    raw = time.perf_counter() - started
    policy = ReleasePolicy(budget_limit=100.0)
    clock = ManualClock(NOW)
    started = time.perf_counter()
    for week in WEEKS:
        await compute_release(sessions, policy, clock, Cadence.week, week)
    for period in sorted({f"2027-P{(int(w[-2:]) - 1) // 4 + 1:02d}" for w in WEEKS}):
        await compute_release(sessions, policy, clock, Cadence.period, period)
    return time.perf_counter() - started, raw


async def query(
    sessions: async_sessionmaker[AsyncSession], url: str, schema: str | None
) -> tuple[list[float], list[float]]:
    settings = InsightsSettings(
        environment="dev", database_url=url, database_schema=schema, public_releases=True
    )
    app = create_analyst_api(settings, sessions, ManualClock(NOW), {})
    path = "/v1/values?area=c042&area_type=community&indicator=chronic_loneliness&per_page=100"
    api, raw = [], []
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://i"
    ) as http:
        for _ in range(100):
            started = time.perf_counter()
            response = await http.get(path)
            api.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            started = time.perf_counter()
            async with sessions() as session:
                await session.execute(
                    select(release_values).where(
                        (release_values.c.area_id == "c042")
                        & (release_values.c.indicator == "chronic_loneliness")
                    )
                )
            raw.append((time.perf_counter() - started) * 1000)
    return api, raw


async def main(
    facts: int, communities: int, people: int, postgres: str | None, stores: int
) -> None:
    print(f"insights bench on {platform.machine()}, {'PostgreSQL' if postgres else 'SQLite'}")
    with tempfile.TemporaryDirectory(prefix="insights-bench-") as workdir:
        server = EmbeddedNatsServer(Path(workdir) / "nats")
        await server.start()
        try:
            client = await nats.connect(server.url)
            await ensure_streams(client.jetstream(), 1, ALL_STREAMS)
            await client.close()
            async with database(Path(workdir), postgres) as (url, schema):
                engine = create_engine(url, schema)
                await upgrade_to_head(engine, MIGRATIONS, schema)
                sessions = session_factory(engine)
                await publish(server.url, facts)
                raw = await raw_pull(server.url, facts, "bench-raw", ours=True)
                library = await raw_pull(server.url, facts, "bench-nats-py", ours=False)
                ours = await ingest(server.url, sessions, facts, stores)
                print(
                    f"ingest: {facts / ours:,.0f} responses/s into the database "
                    f"vs {facts / raw:,.0f}/s bare pull-and-ack (ratio {ours / raw:.1f}); "
                    f"bare with nats-py's fetch: {facts / library:,.0f}/s"
                )
                seeded = await seed_year(sessions, communities, people)
                took, bare = await releases(sessions)
                print(
                    f"a year of releases for {communities} communities ({seeded:,} facts): "
                    f"52 weekly + 13 period releases in {took:.1f} s "
                    f"(the weekly true counts alone: {bare:.1f} s)"
                )
                api, sql = await query(sessions, url, schema)
                print(
                    f"stored-release query (GET /v1/values, one area and indicator, 65 rows): "
                    f"p50 {statistics.median(api):.1f} ms, p95 {sorted(api)[94]:.1f} ms "
                    f"vs the bare SELECT p50 {statistics.median(sql):.1f} ms"
                )
                await engine.dispose()
        finally:
            await server.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--facts", type=int, default=40_000)
    parser.add_argument("--communities", type=int, default=100)
    parser.add_argument("--people", type=int, default=40, help="per community")
    parser.add_argument("--postgres", default=None)
    parser.add_argument(
        "--stores", type=int, default=1, help="batches stored at once (the service uses 1)"
    )
    args = parser.parse_args()
    asyncio.run(main(args.facts, args.communities, args.people, args.postgres, args.stores))
