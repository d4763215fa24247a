"""What the notifier's delivery guarantees cost: prompts per second through the whole notifier,
against bare sends to the same provider in the same run.

E-mail: a RitualDue per member on JetStream -> the consumer records the sends (a batch a
transaction) -> the dispatcher claims a batch, checks consent and quiet hours, renders, hands
the messages to the SMTP pool concurrently (at most ``max_in_doubt`` uncommitted) and commits
their outcomes with their PromptSent events in groups. The baseline hands the same rendered
message to the same SMTP server over as many reused aiosmtplib connections as the notifier's
pool holds, nothing else.

SMS: the same path through the Twilio adapter to a Twilio-like server in another process
(``bench/twilio_like.py``) that posts two signed status callbacks per message (sent,
delivered) back to the notifier while it sends; rate limit off. Measured to every message
recorded as sent, and to every ``delivered`` callback applied. The baseline is a naive loop:
one request per message on a new connection, one at a time.

Everything else runs on the local system of ``make run`` (embedded nats-server, the aiosmtpd
sink in its own thread, all three services in this process), on SQLite or, with ``--postgres
URL``, on PostgreSQL (fresh schemas, dropped afterwards). Each measurement runs ``--runs``
times on a fresh system; medians are printed. Not a test: run it by hand.

    .venv/bin/python bench/notifier_dispatch.py [--emails 1500] [--sms 1500] [--postgres URL]
"""

from __future__ import annotations

import argparse
import asyncio
import platform
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from asyncio.subprocess import Process
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import nats
from sqlalchemy import func, select, text

from services.demo.system import DatabaseFor, LocalSystem, sqlite_databases
from services.notifier.adapters.tables import deliveries
from shared.clock import ManualClock
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id
from shared.db import create_engine
from shared.messaging.publisher import encode_event
from shared.natsdev import free_port

NOON = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # outside everyone's quiet hours
ACCOUNT = "AC" + "1" * 32
UNLIMITED: dict[str, Any] = {
    "rate_limit_scope": "replica",
    "email_rate_per_s": 1e9,
    "email_burst": 10**9,
    "sms_rate_per_s": 1e9,
    "sms_burst": 10**9,
}


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


async def _members(system: LocalSystem, count: int, channel: str) -> list[str]:
    notifier = system.clients["notifier"]

    async def one(n: int) -> str:
        created = await notifier.post(
            "/v1/members",
            {
                "email": f"member{n}@bench.example",
                "phone": f"+4479{n:08d}",
                "preferred_channel": channel,
                "quiet_hours": {"start": "00:00", "end": "00:00"},
                "prompt_consent": {"given": True, "source": "bench"},
                "insights_consent": {"given": False, "source": "bench"},
            },
        )
        return str(created["id"])

    ids: list[str] = []
    for start in range(0, count, 50):
        ids += await asyncio.gather(*(one(n) for n in range(start, min(count, start + 50))))
    return ids


async def _publish_due(system: LocalSystem, member_ids: list[str]) -> None:
    client = await nats.connect(system.nats.url)
    js = client.jetstream()
    for start in range(0, len(member_ids), 500):
        await asyncio.gather(
            *(
                js.publish(
                    *encode_event(_due(member_id))[:2], headers=encode_event(_due(member_id))[2]
                )
                for member_id in member_ids[start : start + 500]
            )
        )
    await client.close()


async def _count(system: LocalSystem, condition: Any) -> int:
    sessions = system.runtimes["notifier"].plumbing.sessions
    async with sessions() as session:
        return int(
            (
                await session.execute(select(func.count()).select_from(deliveries).where(condition))
            ).scalar_one()
        )


async def _until(probe: Callable[[], Awaitable[bool]], timeout_s: float = 600) -> None:
    deadline = time.perf_counter() + timeout_s
    while not await probe():
        if time.perf_counter() > deadline:
            raise TimeoutError("the notifier did not finish")
        await asyncio.sleep(0.05)


@asynccontextmanager
async def _system(
    workdir: Path, postgres: str | None, overrides: dict[str, Any]
) -> AsyncIterator[LocalSystem]:
    schemas: list[str] = []
    run = uuid.uuid4().hex[:8]

    def postgres_schema(service: str) -> tuple[str, str | None]:
        assert postgres is not None
        schemas.append(f"bench_{run}_{service}")
        return postgres, schemas[-1]

    databases: DatabaseFor = postgres_schema if postgres else sqlite_databases(workdir)
    async with AsyncExitStack() as stack:
        if postgres:
            stack.push_async_callback(_drop, postgres, schemas)
        # The notifier alone, as in production, where the scheduler and insights have pods
        # of their own (the PromptSent events wait in the stream for a scheduler).
        system = LocalSystem(
            workdir,
            ManualClock(NOON),
            databases,
            notifier_overrides=overrides,
            services=("notifier",),
        )
        yield await stack.enter_async_context(system)


async def _drop(url: str, schemas: list[str]) -> None:
    engine = create_engine(url)
    async with engine.begin() as connection:
        for schema in schemas:
            await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
    await engine.dispose()


async def email_run(workdir: Path, postgres: str | None, count: int) -> tuple[float, float]:
    """(notifier, raw) messages per second."""
    async with _helper_process("smtp_like.py", str(workdir / "sample.eml")) as sink:
        _, host, port = (await _line(sink)).split()
        overrides = UNLIMITED | {"smtp_host": host, "smtp_port": int(port)}
        async with _system(workdir, postgres, overrides) as system:
            member_ids = await _members(system, count, "email")
            print("  members registered; due events going out", file=sys.stderr, flush=True)
            started = time.perf_counter()
            await _publish_due(system, member_ids)
            await _until(lambda: _done(system, deliveries.c.status == "sent", count))
            notifier_s = time.perf_counter() - started
            connections = system.notifier_settings.smtp_pool_size
        await _say(sink, "sample")
        message = (workdir / "sample.eml").read_bytes()
        raw_s = await _raw_smtp(host, int(port), count, message, connections)
        received = await _finish(sink)
    if received != 2 * count:
        raise RuntimeError(f"the sink received {received} messages, expected {2 * count}")
    return count / notifier_s, count / raw_s


@asynccontextmanager
async def _helper_process(script: str, *arguments: str) -> AsyncIterator[Process]:
    """A bench/ script in a process of its own (a provider is never in the notifier's
    process); it serves until its stdin closes."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(Path(__file__).with_name(script)),
        *arguments,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        yield process
    finally:
        if process.returncode is None:
            await _finish(process)


async def _line(process: Process) -> str:
    assert process.stdout is not None
    return (await process.stdout.readline()).decode().strip()


async def _say(process: Process, line: str) -> str:
    assert process.stdin is not None
    process.stdin.write(f"{line}\n".encode())
    await process.stdin.drain()
    return await _line(process)


async def _finish(process: Process) -> int:
    """Close the helper's stdin; what it printed last (the sink: messages received)."""
    assert process.stdin is not None
    assert process.stdout is not None
    process.stdin.close()
    last = (await process.stdout.read()).decode().split()
    await process.wait()
    return int(last[-1]) if last and last[-1].isdigit() else 0


async def _raw_smtp(host: str, port: int, count: int, message: bytes, connections: int) -> float:
    clients = [
        aiosmtplib.SMTP(hostname=host, port=port, start_tls=False) for _ in range(connections)
    ]
    for client in clients:
        await client.connect()

    async def share(client: aiosmtplib.SMTP, numbers: range) -> None:
        for n in numbers:
            await client.sendmail("checkins@rituals.example", [f"raw{n}@bench.example"], message)

    started = time.perf_counter()
    await asyncio.gather(
        *(share(client, range(k, count, connections)) for k, client in enumerate(clients))
    )
    elapsed = time.perf_counter() - started
    for client in clients:
        await client.quit()
    return elapsed


async def sms_run(workdir: Path, postgres: str | None, count: int) -> tuple[float, float, float]:
    """(to every send recorded, to every delivered callback applied, naive loop) per second."""
    port, token = free_port(), secrets.token_urlsafe(24)
    async with _helper_process("twilio_like.py", str(port), token) as twilio:
        await _line(twilio)  # "ready"
        overrides = UNLIMITED | {
            "twilio_base_url": f"http://127.0.0.1:{port}",
            "twilio_auth_token": token,
            "twilio_account_sid": "AC" + "0" * 32,
        }
        async with _system(workdir, postgres, overrides) as system:
            member_ids = await _members(system, count, "sms")
            print("  members registered; due events going out", file=sys.stderr, flush=True)
            started = time.perf_counter()
            await _publish_due(system, member_ids)
            await _until(lambda: _done(system, deliveries.c.status == "sent", count))
            sent_s = time.perf_counter() - started
            await _until(lambda: _delivered(system, count))
            delivered_s = time.perf_counter() - started
            naive_s = await _naive_sms(port, token, min(count, 500))
    return count / sent_s, count / delivered_s, min(count, 500) / naive_s


async def _done(system: LocalSystem, condition: Any, count: int) -> bool:
    return await _count(system, condition) >= count


async def _delivered(system: LocalSystem, count: int) -> bool:
    """Every ``delivered`` callback applied. A callback that came before its send was
    recorded waits for the dispatcher's next sweep: time moves on (a second a poll) as it
    would in production, where the sweep runs every second."""
    if await _done(system, deliveries.c.provider_state == "delivered", count):
        return True
    system.clock.set(system.clock.now() + timedelta(seconds=1))
    return False


async def _naive_sms(port: int, token: str, count: int) -> float:
    """One request per message on a new connection, one at a time, like a first script."""
    url = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{'AC' + '0' * 32}/Messages.json"
    auth = aiohttp.BasicAuth("AC" + "0" * 32, token)
    started = time.perf_counter()
    for n in range(count):
        async with (
            aiohttp.ClientSession() as http,
            http.post(
                url,
                data={"To": f"+4479{n:08d}", "From": "+447700900999", "Body": "Hello"},
                auth=auth,
            ) as response,
        ):
            assert response.status == 201
    return time.perf_counter() - started


async def main(
    emails: int, sms: int, runs: int, postgres: str | None, max_in_doubt: int | None
) -> None:
    backend = "PostgreSQL" if postgres else "SQLite"
    if max_in_doubt is not None:
        UNLIMITED["max_in_doubt"] = max_in_doubt
    doubt = max_in_doubt or "default"
    print(f"Python {platform.python_version()} on {platform.machine()}, {backend}, {runs} runs")
    print(f"  max_in_doubt {doubt}")
    email_rates, sms_rates = [], []
    for _ in range(runs):
        with tempfile.TemporaryDirectory() as workdir:
            if emails:
                email_rates.append(await email_run(Path(workdir) / "email", postgres, emails))
                print("  e-mail run: notifier {:.0f}/s, raw {:.0f}/s".format(*email_rates[-1]))
            if sms:
                sms_rates.append(await sms_run(Path(workdir) / "sms", postgres, sms))
                print(
                    "  SMS run: sent {:.0f}/s, delivered {:.0f}/s, naive {:.0f}/s".format(
                        *sms_rates[-1]
                    )
                )
    if email_rates:
        notifier = statistics.median(r[0] for r in email_rates)
        raw = statistics.median(r[1] for r in email_rates)
        ratios = [r[0] / r[1] for r in email_rates]
        print(f"e-mail, {emails} prompts (medians):")
        print(f"  raw SMTP, same connections:      {raw:8.0f} messages/s")
        print(f"  through the notifier:            {notifier:8.0f} messages/s")
        print(
            f"  ratio notifier/raw:              {statistics.median(ratios):8.2f}"
            f"  (runs: {', '.join(f'{x:.2f}' for x in ratios)})"
        )
    if sms_rates:
        sent = statistics.median(r[0] for r in sms_rates)
        delivered = statistics.median(r[1] for r in sms_rates)
        naive = statistics.median(r[2] for r in sms_rates)
        print(f"SMS, {sms} prompts through the Twilio adapter, callbacks on (medians):")
        print(f"  naive loop (a connection each):  {naive:8.0f} messages/s")
        print(
            f"  through the notifier, sent:      {sent:8.0f} messages/s"
            f"  ({sent / naive:.1f}x naive; runs: {', '.join(f'{r[0]:.0f}' for r in sms_rates)})"
        )
        print(f"  ... and every delivery reported: {delivered:8.0f} messages/s")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--emails", type=int, default=1500)
    parser.add_argument("--sms", type=int, default=1500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--postgres", help="postgresql+asyncpg://... (default: SQLite files)")
    parser.add_argument("--max-in-doubt", type=int, help="NOTIFIER_MAX_IN_DOUBT (default: its)")
    arguments = parser.parse_args()
    asyncio.run(
        main(
            arguments.emails,
            arguments.sms,
            arguments.runs,
            arguments.postgres,
            arguments.max_in_doubt,
        )
    )
