"""What a team would run instead: APScheduler 3 with its SQLAlchemy job store on PostgreSQL.

One job per event (a date trigger at the burst's instant, ``misfire_grace_time=None`` so none is
skipped however late it runs), each publishing the same subject, body and ``Nats-Msg-Id`` as
our scheduler (``apscheduler_jobs.publish_event``), through an ``AsyncIOScheduler`` with its
``AsyncIOExecutor``: the asyncio setup a nats-py user would pick.

``seed_job_store`` writes the jobs once per bench into a template table beside the job store's
own, exactly as ``add_job`` would write them (one pickled state per job), only in batches;
``reset_job_store`` copies them into the job store before each repetition (setup, not burst).

    python -m bench.scenarios.apscheduler_replica SYNC_URL SCHEMA NATS_URL

The child starts its scheduler paused (job store and executor ready), prints ``ready``, and on
``go`` resumes it: every job is then due (their instant is in the past). End of input stops it.
"""

from __future__ import annotations

import asyncio
import logging
import pickle
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import nats
from apscheduler.executors.asyncio import AsyncIOExecutor
from apscheduler.job import Job
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.schedulers.blocking import BlockingScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.util import datetime_to_utc_timestamp
from sqlalchemy import text

from bench.scenarios import apscheduler_jobs
from bench.scenarios.child_process import commands, say

if TYPE_CHECKING:
    # Only the bench's side uses it: the child imports none of our services, so its resident
    # memory is APScheduler's own.
    from bench.scenarios.scheduler_burst import Message

JOBS_TABLE = "apscheduler_jobs"
TEMPLATE_TABLE = "apscheduler_jobs_seed"
# Long past on the wall clock APScheduler reads: every job is due the moment it resumes.
RUN_AT = datetime(2026, 1, 4, 9, 0, tzinfo=UTC)
INSERT_CHUNK = 5_000


def sync_url(async_url: str) -> str:
    """APScheduler 3's job store is synchronous: psycopg instead of asyncpg."""
    return async_url.replace("+asyncpg", "+psycopg")


def job_store(url: str, schema: str, table: str = JOBS_TABLE) -> SQLAlchemyJobStore:
    return SQLAlchemyJobStore(
        url=url, tablename=table, tableschema=schema, pickle_protocol=pickle.HIGHEST_PROTOCOL
    )


def _job(scheduler: BaseScheduler, message: Message) -> Job:
    return Job(
        scheduler,
        id=message.event_id,
        func=apscheduler_jobs.PUBLISH_EVENT,
        args=(message.subject, message.body, message.event_id),
        kwargs={},
        name="publish_event",
        trigger=DateTrigger(run_date=RUN_AT),
        executor="default",
        misfire_grace_time=None,
        coalesce=False,
        max_instances=1,
        next_run_time=RUN_AT,
    )


def seed_job_store(url: str, schema: str, messages: list[Message]) -> None:
    """Synchronous (APScheduler 3 is): run it in a thread."""
    scheduler = BlockingScheduler(timezone=UTC)
    template = job_store(url, schema, TEMPLATE_TABLE)
    template.start(scheduler, "template")
    store = job_store(url, schema)
    store.start(scheduler, "default")
    try:
        rows = [
            {
                "id": message.event_id,
                "next_run_time": datetime_to_utc_timestamp(RUN_AT),
                "job_state": pickle.dumps(
                    _job(scheduler, message).__getstate__(), pickle.HIGHEST_PROTOCOL
                ),
            }
            for message in messages
        ]
        with template.engine.begin() as connection:
            connection.execute(template.jobs_t.delete())
            for start in range(0, len(rows), INSERT_CHUNK):
                connection.execute(template.jobs_t.insert(), rows[start : start + INSERT_CHUNK])
    finally:
        template.shutdown()
        store.shutdown()


def _qualified(schema: str, table: str) -> str:
    # Names of our own making (a uuid-derived schema, constants), never input.
    return f'"{schema}"."{table}"'


def reset_job_store(url: str, schema: str) -> None:
    """The job store holds every job of the burst again, none run (synchronous)."""
    jobs, template = _qualified(schema, JOBS_TABLE), _qualified(schema, TEMPLATE_TABLE)
    store = job_store(url, schema)
    try:
        with store.engine.begin() as connection:
            connection.execute(text(f"TRUNCATE {jobs}"))
            connection.execute(text(f"INSERT INTO {jobs} SELECT * FROM {template}"))  # noqa: S608
    finally:
        store.shutdown()


def jobs_left(url: str, schema: str) -> int:
    store = job_store(url, schema)
    try:
        with store.engine.connect() as connection:
            query = text(f"SELECT count(*) FROM {_qualified(schema, JOBS_TABLE)}")  # noqa: S608
            return int(connection.execute(query).scalar_one())
    finally:
        store.shutdown()


async def serve(url: str, schema: str, nats_url: str) -> None:
    connection = await nats.connect(nats_url)
    publishing = apscheduler_jobs.use(connection.jetstream())
    scheduler = AsyncIOScheduler(
        jobstores={"default": job_store(url, schema)},
        executors={"default": AsyncIOExecutor()},
        job_defaults={"misfire_grace_time": None, "coalesce": False, "max_instances": 1},
        timezone=UTC,
    )
    inbox = await commands()
    scheduler.start(paused=True)
    try:
        say("ready")
        while (command := await inbox.get()) != "stop":
            if command != "go":
                raise ValueError(f"unknown command {command!r}")
            scheduler.resume()
        await publishing.wait_idle(timeout_s=30)
    finally:
        scheduler.shutdown(wait=False)
        await connection.drain()


def main(argv: list[str]) -> None:
    # Warnings and errors only, on stderr (APScheduler logs every job run at INFO).
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    url, schema, nats_url = argv
    asyncio.run(serve(url, schema, nats_url))


if __name__ == "__main__":
    main(sys.argv[1:])
