"""``insights_ingest`` and ``insights_query``: insights' speed, each against a raw baseline in
the same repetition.

* ``insights_ingest``: ResponseReceived facts already on the RESPONSES stream, taken by
  insights' own ``BatchEventConsumer`` into its database (tombstone check, insert-ignore, one
  transaction a batch), in responses/s; baseline a bare pull-and-ack of the same messages with
  the pull insights uses (``BatchPull``), no database. Goal on 2 cores: ≥ 20,000 responses/s.
  Fresh stream and database each repetition; 40,000 facts (``--quick``: 5,000).
* ``insights_query``: a stored-release query, ``GET /v1/values`` for one area and indicator
  through the analysts' app in-process, p50 of 100 requests in ms; baseline the p50 of the
  same SELECT on a session. Goal: < 100 ms. Seeded once: a year of weekly facts for 100
  communities of 40 people (``--quick``: 20 of 10), then its 52 weekly and 13 period releases
  (true counts in SQL, OpenDP noise, suppression, intervals, ledger); how long those releases
  took, against the bare SQL of their true counts, is kept in results.json.

Embedded nats-server from the wheel; PostgreSQL (a fresh schema, dropped afterwards) and, for
the ingest, ``@sqlite``. Insights runs alone in the bench's process.
"""

from __future__ import annotations

import asyncio
import shutil
import statistics
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
import nats
from nats.js.api import AckPolicy, ConsumerConfig
from nats.js.errors import NotFoundError
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from bench.harness import Database, Options, Run, Scenario
from bench.support import drop_schemas, new_schema, peak_rss_mb, reset_peak_rss, until
from services.insights.adapters.tables import prompted_facts, release_values, response_facts
from services.insights.adapters.true_counts import true_counts
from services.insights.api.app import create_analyst_api
from services.insights.domain.indicators import Cadence, for_cadence
from services.insights.handlers.facts import store_fact, store_facts
from services.insights.handlers.release import ReleasePolicy, compute_release
from services.insights.main import FACT_BATCH, fact_stores_in_flight
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

MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "insights" / "migrations"
KEY = b"bench-key-0123456789abcdef"
NOW = datetime(2028, 1, 10, tzinfo=UTC)
WEEKS = weeks_between(datetime(2027, 1, 4).date(), datetime(2027, 12, 27).date())  # 52
AREA = "c001"
QUERIES = 100


@dataclass
class InsightsStore:
    """An insights database: a fresh PostgreSQL schema or a SQLite file."""

    url: str
    schema: str | None
    engine: AsyncEngine
    directory: Path
    sessions: async_sessionmaker[AsyncSession] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = session_factory(self.engine)


async def open_database(database: Database, postgres: str) -> InsightsStore:
    directory = Path(tempfile.mkdtemp(prefix="bench-insights-"))
    if database == "postgresql":
        url, schema = postgres, new_schema("bench_insights")
    else:
        url, schema = f"sqlite+aiosqlite:///{directory / 'insights.sqlite3'}", None
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    return InsightsStore(url, schema, engine, directory)


async def close_database(db: InsightsStore) -> None:
    await db.engine.dispose()
    if db.schema is not None:
        await drop_schemas(db.url, [db.schema])
    shutil.rmtree(db.directory, ignore_errors=True)


def fact(n: int, week: str = "2027-W01", community: str = "c000") -> ResponseReceivedV2:
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


async def publish(url: str, facts: int) -> None:
    client = await nats.connect(url)
    js = client.jetstream()
    for start in range(0, facts, 1000):
        encoded = [encode_event(fact(n)) for n in range(start, min(start + 1000, facts))]
        await asyncio.gather(
            *(js.publish(subject, body, headers=headers) for subject, body, headers in encoded)
        )
    await client.close()


async def bare_pull_s(url: str, facts: int) -> float:
    """The baseline: pull and ack every message with insights' pull, nothing else."""
    client = await nats.connect(url)
    config = ConsumerConfig(durable_name="bench-raw", ack_policy=AckPolicy.EXPLICIT)
    puller = BatchPull(lambda: client, "RESPONSES", ResponseReceivedV2.subject, config)
    started = time.perf_counter()
    seen = 0
    while seen < facts:
        batch = await puller.fetch(500, 5.0)
        for message in batch:
            await message.ack()
        seen += len(batch)
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed


class NoDeadLetters:
    async def publish_raw(self, subject: str, payload: bytes, headers: dict[str, str]) -> None:
        raise RuntimeError("the bench's facts are valid")


async def ingest_s(
    url: str, sessions: async_sessionmaker[AsyncSession], facts: int, database_url: str
) -> float:
    """Seconds to store ``facts`` through the service's batch consumer, as the service runs it."""
    client = await nats.connect(url)

    async def one(event: ResponseReceivedV2, _delivery: object) -> str:
        return await store_fact(sessions, event)

    async def many(events: list[ResponseReceivedV2]) -> int:
        return await store_facts(sessions, events)

    consumer = BatchEventConsumer(
        ConsumerSpec(
            "bench-insights",
            ResponseReceivedV2,
            batch_size=FACT_BATCH,
            stores_in_flight=fact_stores_in_flight(database_url),
        ),
        one,
        many,
        NoDeadLetters(),
        lambda: client,
    )
    stop = asyncio.Event()
    js = client.jetstream()

    async def all_acknowledged() -> bool:
        # Acks follow the commit; asked of the server, so that the measurement does not
        # compete with the ingest for the database.
        try:
            info = await js.consumer_info("RESPONSES", "bench-insights")
        except NotFoundError:
            return False  # the consumer has not created its durable yet
        return info.ack_floor is not None and (info.ack_floor.stream_seq or 0) >= facts

    started = time.perf_counter()
    running = asyncio.create_task(consumer.run(stop))
    try:
        await until(all_acknowledged, "the ingest", every_s=0.02)
        elapsed = time.perf_counter() - started
    finally:
        stop.set()
        await running
        await client.close()
    async with sessions() as session:
        query = select(func.count()).select_from(response_facts)
        stored = (await session.execute(query)).scalar_one()
    if stored != facts:
        raise RuntimeError(f"{stored} of {facts} facts stored")
    return elapsed


async def ingest_run(database: Database, postgres: str, facts: int) -> Run:
    db = await open_database(database, postgres)
    server = EmbeddedNatsServer(db.directory / "nats")
    await server.start()
    try:
        client = await nats.connect(server.url)
        await ensure_streams(client.jetstream(), 1, ALL_STREAMS)
        await client.close()
        await publish(server.url, facts)
        bare = await bare_pull_s(server.url, facts)
        reset_peak_rss()
        ours = await ingest_s(server.url, db.sessions, facts, db.url)
        peak = peak_rss_mb()
    finally:
        await server.close()
        await close_database(db)
    return Run(facts / ours, facts / bare, rss_peak_mb={"insights": peak})


async def seed_year(
    sessions: async_sessionmaker[AsyncSession], communities: int, people: int
) -> int:
    """A year of weekly facts: every person prompted, nine in ten answering the anchor."""
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


async def release_year(sessions: async_sessionmaker[AsyncSession]) -> tuple[float, float]:
    """(the year's releases, the bare SQL of their weekly true counts), in seconds."""
    started = time.perf_counter()
    for week in WEEKS:
        for indicator in for_cadence(Cadence.week):
            async with sessions() as session:
                await true_counts(session, indicator.measures[Cadence.week], Cadence.week, week)
    bare = time.perf_counter() - started
    policy = ReleasePolicy(budget_limit=100.0)
    clock = ManualClock(NOW)
    started = time.perf_counter()
    for week in WEEKS:
        await compute_release(sessions, policy, clock, Cadence.week, week)
    for period in sorted({f"2027-P{(int(w[-2:]) - 1) // 4 + 1:02d}" for w in WEEKS}):
        await compute_release(sessions, policy, clock, Cadence.period, period)
    return time.perf_counter() - started, bare


@dataclass
class Released:
    db: InsightsStore
    details: dict[str, float]


async def query_run(released: Released) -> Run:
    db = released.db
    settings = InsightsSettings(
        environment="dev", database_url=db.url, database_schema=db.schema, public_releases=True
    )
    app = create_analyst_api(settings, db.sessions, ManualClock(NOW), {})
    path = f"/v1/values?area={AREA}&area_type=community&indicator=chronic_loneliness&limit=100"
    api_ms, sql_ms = [], []
    reset_peak_rss()
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://insights") as http:
        for _ in range(QUERIES):
            started = time.perf_counter()
            response = await http.get(path)
            api_ms.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise RuntimeError(f"GET /v1/values -> {response.status_code}")
            started = time.perf_counter()
            async with db.sessions() as session:
                await session.execute(
                    select(release_values).where(
                        (release_values.c.area_id == AREA)
                        & (release_values.c.indicator == "chronic_loneliness")
                    )
                )
            sql_ms.append((time.perf_counter() - started) * 1000)
    return Run(
        statistics.median(api_ms),
        statistics.median(sql_ms),
        rss_peak_mb={"insights": peak_rss_mb()},
        details={"p95_ms": sorted(api_ms)[int(0.95 * QUERIES) - 1], **released.details},
    )


def scenarios(options: Options) -> list[Scenario]:
    facts = 5_000 if options.quick else 40_000
    communities, people = (20, 10) if options.quick else (100, 40)

    def ingest(database: Database) -> Scenario:
        async def measure(_: None) -> Run:
            return await ingest_run(database, options.postgres_url, facts)

        return Scenario(
            "insights_ingest",
            "responses/s",
            database,
            measure,
            goal="≥ 20,000/s",
            note=f"{facts:,} facts into the database; baseline bare pull-and-ack",
        )

    def query(database: Database) -> Scenario:
        async def seed() -> Released:
            db = await open_database(database, options.postgres_url)
            try:
                facts_seeded = await seed_year(db.sessions, communities, people)
                took, bare = await release_year(db.sessions)
            except BaseException:
                await close_database(db)
                raise
            return Released(
                db, {"facts_seeded": facts_seeded, "year_release_s": took, "bare_sql_s": bare}
            )

        async def cleanup(released: Released | None) -> None:
            if released is not None:
                await close_database(released.db)

        return Scenario(
            "insights_query",
            "ms",
            database,
            query_run,
            seed,
            cleanup,
            goal="< 100 ms",
            note="GET /v1/values p50; baseline the bare SELECT p50",
        )

    # The query on PostgreSQL only, where analysts' releases are served from: seeding a year
    # of facts and releasing it takes a minute or more, and `make bench` has 15.
    return [ingest("postgresql"), ingest("sqlite"), query("postgresql")]
