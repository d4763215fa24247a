"""What the notifier's delivery guarantees cost: e-mail prompts per second through the whole
notifier, against raw SMTP sends to the same server in the same run.

The notifier path: a RitualDue per member on JetStream -> the consumer records a send -> the
dispatcher checks consent and quiet hours, renders the template, takes a rate-limit token, hands
the message to SMTP and commits the outcome with its PromptSent event. It sends one message at a
time per process, so that a crash leaves at most one message in doubt. The baseline hands the
same rendered message to the same SMTP server over one reused aiosmtplib connection, one at a
time, with nothing else. The ratio is what persistence, checks and rendering add to each send.

Everything runs on the local system of ``make run`` (embedded nats-server, the aiosmtpd sink in
its own thread, all three services in this process), on SQLite or, with ``--postgres URL``, on
PostgreSQL (fresh schemas, dropped afterwards). Not a test: run it by hand.

    .venv/bin/python bench/notifier_dispatch.py [--members 500] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import tempfile
import time
import uuid
from contextlib import AsyncExitStack
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiosmtplib
import nats
from sqlalchemy import text

from services.demo.system import DatabaseFor, LocalSystem, sqlite_databases
from shared.clock import ManualClock
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id
from shared.db import create_engine
from shared.subjects import RITUAL_DUE

NOON = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # outside everyone's quiet hours


def _due(member_id: str) -> RitualDueV1:
    return RitualDueV1(
        event_id=deterministic_event_id("ritual.due", "bench", member_id, NOON),
        occurred_at=NOON,
        ritual_id="bench-check-in",
        ritual_version=1,
        ritual_kind=RitualKind.check_in,
        community_id="bench",
        member_id=member_id,
        template_key="check_in",
        timezone="Europe/London",
        occurrence_at=NOON,
        occurrence_local_date=NOON.date(),
        respond_by=NOON + timedelta(days=2),
    )


async def _notifier_path(system: LocalSystem, members: int) -> tuple[float, bytes]:
    notifier = system.clients["notifier"]
    member_ids = []
    for n in range(members):
        created = await notifier.post(
            "/v1/members",
            {
                "email": f"member{n}@bench.example",
                "prompt_consent": {"given": True, "source": "bench"},
                "insights_consent": {"given": False, "source": "bench"},
            },
        )
        member_ids.append(created["member_id"])
    client = await nats.connect(system.nats.url)
    js = client.jetstream()
    started = time.perf_counter()
    for member_id in member_ids:
        event = _due(member_id)
        await js.publish(
            RITUAL_DUE, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}
        )
    mails = await system.smtp.wait_for(members, timeout_s=600)
    elapsed = time.perf_counter() - started
    await client.close()
    return elapsed, mails[0].message.as_bytes()


async def _raw_smtp(system: LocalSystem, members: int, message: bytes) -> float:
    smtp = aiosmtplib.SMTP(hostname=system.smtp.host, port=system.smtp.port, start_tls=False)
    await smtp.connect()
    started = time.perf_counter()
    for n in range(members):
        await smtp.sendmail("checkins@rituals.example", [f"raw{n}@bench.example"], message)
    elapsed = time.perf_counter() - started
    await smtp.quit()
    return elapsed


def _postgres_schemas(url: str, created: list[str]) -> DatabaseFor:
    run = uuid.uuid4().hex[:8]

    def database_for(service: str) -> tuple[str, str | None]:
        created.append(f"bench_{run}_{service}")
        return url, created[-1]

    return database_for


async def _drop(url: str, schemas: list[str]) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        for schema in schemas:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def main(members: int, postgres: str | None) -> None:
    schemas: list[str] = []
    with tempfile.TemporaryDirectory() as workdir:
        directory = Path(workdir)
        databases = (
            _postgres_schemas(postgres, schemas) if postgres else sqlite_databases(directory)
        )
        async with AsyncExitStack() as stack:
            if postgres:
                stack.push_async_callback(_drop, postgres, schemas)
            system = await stack.enter_async_context(
                LocalSystem(directory, ManualClock(NOON), databases)
            )
            notifier_s, message = await _notifier_path(system, members)
            raw_s = await _raw_smtp(system, members, message)
    backend = "PostgreSQL" if postgres else "SQLite"
    print(f"Python {platform.python_version()}, {members} e-mail prompts, {backend}")
    print(f"  raw SMTP (one connection, in turn):  {members / raw_s:8.1f} messages/s")
    print(f"  through the notifier (event -> sent): {members / notifier_s:8.1f} messages/s")
    print(f"  ratio notifier/raw time per message: {notifier_s / raw_s:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=500)
    parser.add_argument("--postgres", help="postgresql+asyncpg://... (default: SQLite files)")
    arguments = parser.parse_args()
    asyncio.run(main(arguments.members, arguments.postgres))
