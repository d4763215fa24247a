"""``notifier_email`` and ``notifier_sms``: what the notifier's delivery guarantees cost, in
prompts per second through the whole notifier, against bare sends to the same provider in the
same repetition.

E-mail: a RitualDue per member on JetStream -> the consumer records the sends (a batch a
transaction) -> the dispatcher claims a batch, checks consent and quiet hours, renders, hands
the messages to the SMTP pool concurrently (at most ``max_in_doubt`` uncommitted) and commits
their outcomes with their PromptSent events in groups. The baseline hands the same rendered
message to the same SMTP server (``bench/smtp_like.py``, a process of its own) over as many
reused aiosmtplib connections as the notifier's pool holds, nothing else.

SMS: the same path through the Twilio adapter to a Twilio-like server in another process
(``bench/twilio_like.py``) that posts two signed status callbacks per message (sent,
delivered) back to the notifier while it sends; rate limit off. The value is to every message
recorded as sent (the time to every ``delivered`` callback applied is kept in results.json).
The baseline is a naive loop: one request per message on a new connection, one at a time.

results.json also keeps the CPU time this process spent per prompt over the burst
(``cpu_ms_per_prompt``, ``cpu_ms_per_sms``): the notifier's cost per message, steadier from
run to run than a rate on a shared 2-core machine (the bench's own publishing of the due
events and its polling are included).

The notifier runs alone (as in production, where each service has its pods) on the local
system of ``make run`` (embedded nats-server), on PostgreSQL (fresh schemas, dropped
afterwards) and ``@sqlite``; a fresh system each repetition. 1,000 prompts (``--quick``: 300;
the scripts before `make bench` sent 1,500: four scenarios of three runs must fit its time).
"""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiohttp
import aiosmtplib
import nats
from aiohttp import web
from sqlalchemy import func, select

from bench.harness import Companion, Database, Options, Run, Scenario
from bench.support import (
    drop_schemas,
    finish,
    helper_process,
    new_schema,
    peak_rss_mb,
    read_line,
    reset_peak_rss,
    say,
    until,
)
from services.demo.system import DatabaseFor, LocalSystem, sqlite_databases
from services.notifier.adapters.sms.twilio.sender import TwilioConfig
from services.notifier.adapters.tables import deliveries
from services.notifier.metrics import NotifierMetrics
from shared.clock import ManualClock
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id
from shared.messaging.publisher import encode_event
from shared.natsdev import free_port

NOON = datetime(2027, 1, 4, 12, 0, tzinfo=UTC)  # outside everyone's quiet hours
TWILIO_ACCOUNT = "AC" + "0" * 32
UNLIMITED: dict[str, Any] = {
    "rate_limit_scope": "replica",
    "email_rate_per_s": 1e9,
    "email_burst": 10**9,
    "sms_rate_per_s": 1e9,
    "sms_burst": 10**9,
}
NAIVE_SMS = 500  # the naive loop's sample: a connection per message is slow
# The notifier against the ceiling of the HTTP exchange alone on this machine (``pooled_sms``).
POOLED = "notifier_sms_vs_pooled"


def due_event(member_id: str) -> RitualDueV1:
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


async def register_members(system: LocalSystem, count: int, channel: str) -> list[str]:
    """``count`` members with consent and no quiet hours, through the operators' bulk import
    (set-up, not measured: one request, a few statements per 200 members)."""
    rows = [
        "email,phone,preferred_channel,quiet_start,quiet_end,prompt_consent,insights_consent,"
        "consent_source"
    ] + [
        f"member{n}@bench.example,+4479{n:08d},{channel},00:00,00:00,yes,no,bench"
        for n in range(count)
    ]
    report = await system.clients["notifier"].post_csv("/v1/members/import", "\n".join(rows))
    if report["failed"]:
        raise RuntimeError(f"the import refused {report['failed']} members: {report['rows'][:3]}")
    return [str(row["member_id"]) for row in report["rows"]]


async def publish_due(nats_url: str, member_ids: list[str]) -> None:
    client = await nats.connect(nats_url)
    js = client.jetstream()
    for start in range(0, len(member_ids), 500):
        encoded = [encode_event(due_event(member)) for member in member_ids[start : start + 500]]
        await asyncio.gather(
            *(js.publish(subject, body, headers=headers) for subject, body, headers in encoded)
        )
    await client.close()


async def count_deliveries(system: LocalSystem, condition: Any) -> int:
    sessions = system.runtimes["notifier"].plumbing.sessions
    async with sessions() as session:
        query = select(func.count()).select_from(deliveries).where(condition)
        return int((await session.execute(query)).scalar_one())


@asynccontextmanager
async def notifier_alone(
    workdir: Path, database: Database, postgres: str, overrides: dict[str, Any]
) -> AsyncIterator[LocalSystem]:
    """The notifier alone on the local system (the PromptSent events wait in the stream for a
    scheduler that is not there), on fresh schemas or SQLite files."""
    schemas: list[str] = []

    def postgres_schema(service: str) -> tuple[str, str | None]:
        schemas.append(new_schema(f"bench_{service}"))
        return postgres, schemas[-1]

    databases: DatabaseFor = (
        postgres_schema if database == "postgresql" else sqlite_databases(workdir)
    )
    async with AsyncExitStack() as stack:
        if database == "postgresql":
            stack.push_async_callback(drop_schemas, postgres, schemas)
        system = LocalSystem(
            workdir,
            ManualClock(NOON),
            databases,
            notifier_overrides=overrides,
            services=("notifier",),
        )
        yield await stack.enter_async_context(system)


async def email_run(workdir: Path, database: Database, postgres: str, count: int) -> Run:
    async with helper_process("smtp_like.py", str(workdir / "sample.eml")) as sink:
        _, host, port = (await read_line(sink)).split()
        overrides = UNLIMITED | {"smtp_host": host, "smtp_port": int(port)}
        async with notifier_alone(workdir, database, postgres, overrides) as system:
            member_ids = await register_members(system, count, "email")
            reset_peak_rss()
            started, cpu_started = time.perf_counter(), time.process_time()
            await publish_due(system.nats.url, member_ids)
            await until(lambda: _sent(system, "email", count), "every e-mail sent")
            notifier_s = time.perf_counter() - started
            cpu_ms = (time.process_time() - cpu_started) * 1000 / count
            await _check_recorded(system, count)
            peak = peak_rss_mb()
            connections = system.notifier_settings.smtp_pool_size
        await say(sink, "sample")
        message = (workdir / "sample.eml").read_bytes()
        raw_s = await raw_smtp(host, int(port), count, message, connections)
        received = await finish(sink)
    if received != 2 * count:
        raise RuntimeError(f"the sink received {received} messages, expected {2 * count}")
    return Run(
        count / notifier_s,
        count / raw_s,
        rss_peak_mb={"notifier": peak},
        details={"cpu_ms_per_prompt": cpu_ms},
    )


async def _at_least(system: LocalSystem, condition: Any, count: int) -> bool:
    return await count_deliveries(system, condition) >= count


async def _sent(system: LocalSystem, channel: str, count: int) -> bool:
    """Read off the notifier's own counter of sends recorded (committed), in this process:
    polling the table instead, 20 times a second, took ~2% of the notifier's CPU (py-spy)."""
    metrics = system.runtimes["notifier"].plumbing.metrics
    assert isinstance(metrics, NotifierMetrics)
    # This one counter, not the registry (whose collection runs every sampler).
    (family,) = metrics.sent.collect()
    sent = sum(
        sample.value
        for sample in family.samples
        if sample.name.endswith("_total") and sample.labels["channel"] == channel
    )
    return sent >= count


async def _check_recorded(system: LocalSystem, count: int) -> None:
    recorded = await count_deliveries(system, deliveries.c.status == "sent")
    if recorded != count:
        raise RuntimeError(f"{recorded} deliveries recorded as sent, expected {count}")


async def raw_smtp(host: str, port: int, count: int, message: bytes, connections: int) -> float:
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


async def sms_run(workdir: Path, database: Database, postgres: str, count: int) -> Run:
    port, token = free_port(), secrets.token_urlsafe(24)
    async with helper_process("twilio_like.py", str(port), token) as twilio:
        await read_line(twilio)  # "ready"
        overrides = UNLIMITED | {
            "twilio_base_url": f"http://127.0.0.1:{port}",
            "twilio_auth_token": token,
            "twilio_account_sid": TWILIO_ACCOUNT,
        }
        async with notifier_alone(workdir, database, postgres, overrides) as system:
            member_ids = await register_members(system, count, "sms")
            reset_peak_rss()
            started, cpu_started = time.perf_counter(), time.process_time()
            await publish_due(system.nats.url, member_ids)
            await until(lambda: _sent(system, "sms", count), "every SMS sent")
            sent_s = time.perf_counter() - started
            await _check_recorded(system, count)
            await until(lambda: _delivered(system, count), "every delivered callback applied")
            delivered_s = time.perf_counter() - started
            cpu_ms = (time.process_time() - cpu_started) * 1000 / count
            peak = peak_rss_mb()
            system_in_doubt = system.notifier_settings.max_in_doubt
        naive_s = await naive_sms(port, token, min(count, NAIVE_SMS))
        pooled_s = await pooled_sms(port, token, count, system_in_doubt)
    return Run(
        count / sent_s,
        min(count, NAIVE_SMS) / naive_s,
        rss_peak_mb={"notifier": peak},
        details={"delivered_per_s": count / delivered_s, "cpu_ms_per_sms": cpu_ms},
        companions={POOLED: Run(count / sent_s, count / pooled_s)},
    )


async def _delivered(system: LocalSystem, count: int) -> bool:
    """Every ``delivered`` callback applied. A callback that came before its send was recorded
    waits for the dispatcher's next sweep: time moves on (a second a poll) as it would in
    production, where the sweep runs every second."""
    if await _at_least(system, deliveries.c.provider_state == "delivered", count):
        return True
    system.clock.set(system.clock.now() + timedelta(seconds=1))
    return False


async def naive_sms(port: int, token: str, count: int) -> float:
    """One request per message on a new connection, one at a time, like a first script."""
    url = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages.json"
    auth = aiohttp.BasicAuth(TWILIO_ACCOUNT, token)
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
            if response.status != 201:
                raise RuntimeError(f"the Twilio-like server answered {response.status}")
    return time.perf_counter() - started


async def pooled_sms(port: int, token: str, count: int, in_flight: int) -> float:
    """The ceiling of this machine for what the notifier does per SMS at the HTTP level and
    nothing else: the same requests over a keep-alive pool as large as the notifier's, at most
    ``in_flight`` at a time (its ``max_in_doubt``), and both status callbacks taken by a bare
    aiohttp server in this process (read, counted, 200: no signature, no database). Seconds
    until every message is accepted and every ``delivered`` callback has arrived."""
    delivered = asyncio.Event()
    arrived = 0

    async def callback(request: web.Request) -> web.Response:
        nonlocal arrived
        form = await request.post()
        if form.get("MessageStatus") == "delivered":
            arrived += 1
            if arrived == count:
                delivered.set()
        return web.Response()

    app = web.Application()
    app.router.add_post("/status", callback)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    callback_port = free_port()
    await web.TCPSite(runner, "127.0.0.1", callback_port).start()
    url = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{TWILIO_ACCOUNT}/Messages.json"
    status_url = f"http://127.0.0.1:{callback_port}/status"
    slots = asyncio.Semaphore(in_flight)
    connector = aiohttp.TCPConnector(limit=TwilioConfig.connection_limit)
    try:
        async with aiohttp.ClientSession(
            connector=connector, auth=aiohttp.BasicAuth(TWILIO_ACCOUNT, token)
        ) as http:

            async def one(n: int) -> None:
                form = {
                    "To": f"+4479{n:08d}",
                    "From": "+447700900999",
                    "Body": "Hello",
                    "StatusCallback": status_url,
                }
                async with slots, http.post(url, data=form) as response:
                    await response.read()
                    if response.status != 201:
                        raise RuntimeError(f"the Twilio-like server answered {response.status}")

            started = time.perf_counter()
            await asyncio.gather(*(one(n) for n in range(count)))
            await asyncio.wait_for(delivered.wait(), 120)
            return time.perf_counter() - started
    finally:
        await runner.cleanup()


def scenarios(options: Options) -> list[Scenario]:
    count = 300 if options.quick else 1000

    def email(database: Database) -> Scenario:
        async def measure(_: None) -> Run:
            with tempfile.TemporaryDirectory(prefix="bench-email-") as workdir:
                return await email_run(Path(workdir), database, options.postgres_url, count)

        return Scenario(
            "notifier_email",
            "prompts/s",
            database,
            measure,
            note=f"{count} e-mail prompts through the notifier; baseline raw SMTP, same pool",
        )

    def sms(database: Database) -> Scenario:
        async def measure(_: None) -> Run:
            with tempfile.TemporaryDirectory(prefix="bench-sms-") as workdir:
                return await sms_run(Path(workdir), database, options.postgres_url, count)

        return Scenario(
            "notifier_sms",
            "sent/s",
            database,
            measure,
            note=f"{count} SMS through the Twilio adapter; baseline a naive loop",
            companions=(Companion(POOLED, "sent/s"),),
        )

    return [email("postgresql"), email("sqlite"), sms("postgresql"), sms("sqlite")]
