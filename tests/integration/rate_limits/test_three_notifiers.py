"""End to end: three notifier runtimes (``wire_notifier``, each with its own engine, broker
connection and dispatcher) share the send queue and the e-mail limit; a real SMTP server counts
what arrives. By every instant of the ManualClock the sink has at most rate x elapsed + burst
messages (three per-replica buckets would allow three times that), and the queue drains at
the rate. On PostgreSQL always: replicas share the send queue only there (SKIP LOCKED; on SQLite
two dispatchers would claim the same rows)."""

from __future__ import annotations

import asyncio
import math
import secrets
from datetime import timedelta

import nats
from nats.js import JetStreamContext

from services.notifier.adapters.tables import consent_records, contacts
from services.notifier.domain.pseudonyms import new_pseudonym_seed
from services.notifier.main import wire_notifier
from services.notifier.settings import NotifierSettings, SmtpSecurity
from shared.clock import ManualClock
from shared.contracts import RitualDueV1
from shared.db import create_engine
from shared.devsmtp import SmtpSink
from shared.messaging.publisher import encode_event
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.runtime import ServiceRuntime
from shared.settings import Environment
from tests.fault.support import daily_ritual
from tests.integration.rate_limits.support import MIGRATIONS
from tests.support import eventually

MEMBERS = 30
RATE = 2.0  # e-mails a second, for the deployment
BURST = 4
STEP = timedelta(milliseconds=250)


def member(n: int) -> str:
    return f"mbr_ratelimit{n:06d}"


async def seed_members(url: str, schema: str | None, clock: ManualClock) -> None:
    now = clock.now()
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    async with engine.begin() as connection:
        await connection.execute(
            contacts.insert(),
            [
                {
                    "member_id": member(n),
                    "email": f"member{n}@limits.example",
                    "phone": None,
                    "locale": "en",
                    "preferred_channel": "email",
                    "fallback_channel": None,
                    "quiet_start": None,
                    "quiet_end": None,
                    "prompt_consent": True,
                    "prompt_consent_at": now,
                    "prompt_consent_source": "rate-limit-test",
                    "insights_consent": False,
                    "insights_consent_at": now,
                    "insights_consent_source": "rate-limit-test",
                    "pseudonym_seed": new_pseudonym_seed(),
                    "created_at": now,
                    "updated_at": now,
                }
                for n in range(MEMBERS)
            ],
        )
        await connection.execute(
            consent_records.insert(),
            [
                {
                    "member_id": member(n),
                    "kind": "prompts",
                    "given": True,
                    "source": "rate-limit-test",
                    "recorded_at": now,
                }
                for n in range(MEMBERS)
            ],
        )
    await engine.dispose()


async def publish_due(js: JetStreamContext, clock: ManualClock) -> None:
    due_at = clock.now() - timedelta(minutes=1)
    ritual = daily_ritual(
        "limits-check-in", due_at.replace(tzinfo=None).isoformat(timespec="seconds"), "limits"
    )
    for n in range(MEMBERS):
        event: RitualDueV1 = ritual.due_event(member(n), "UTC", due_at, due_at, False)
        subject, body, headers = encode_event(event)
        await js.publish(subject, body, headers=headers)


def notifier_settings(
    url: str, schema: str | None, nats_url: str, smtp: SmtpSink
) -> NotifierSettings:
    public_port = free_port()
    return NotifierSettings(
        environment=Environment.dev,
        nats_url=nats_url,
        database_url=url,
        database_schema=schema,
        http_host="127.0.0.1",
        http_port=free_port(),
        public_http_port=public_port,
        public_base_url=f"http://127.0.0.1:{public_port}",
        link_signing_key=secrets.token_urlsafe(32),
        respondent_key_secret="rate-limit-test-respondent-key-secret",
        smtp_host=smtp.host,
        smtp_port=smtp.port,
        smtp_security=SmtpSecurity.none,
        email_rate_per_s=RATE,
        email_burst=BURST,
        # Small batches, so that all three replicas hold rows of the queue at once.
        dispatch_batch_size=3,
    )


async def test_three_notifiers_send_at_the_deployment_rate(
    postgres_schema: tuple[str, str],
    nats_server: EmbeddedNatsServer,
    smtp_sink: SmtpSink,
    clock: ManualClock,
) -> None:
    url, schema = postgres_schema
    await seed_members(url, schema, clock)
    runtimes: list[ServiceRuntime] = []
    try:
        for _ in range(3):
            settings = notifier_settings(url, schema, nats_server.url, smtp_sink)
            runtime, _dispatcher = wire_notifier(settings, clock)
            await runtime.start()
            runtimes.append(runtime)
        client = await nats.connect(nats_server.url)
        try:
            await publish_due(client.jetstream(), clock)
        finally:
            await client.close()

        start = clock.now()
        # The burst leaves at once; then the sink must never run ahead of the shared bucket.
        await smtp_sink.wait_for(BURST, timeout_s=30)
        limit_reached_at = start
        while len(smtp_sink.messages) < MEMBERS:
            assert clock.now() - start < timedelta(minutes=2), "the queue stopped draining"
            clock.advance(STEP)
            elapsed = (clock.now() - start).total_seconds()
            allowed = min(MEMBERS, math.floor(RATE * elapsed + BURST + 1e-9))
            # Each step frees what the rate adds; wait (real time) for the replicas to send it.
            await eventually(lambda: len(smtp_sink.messages) >= allowed, timeout_s=30)  # noqa: B023
            await asyncio.sleep(0.02)  # and give any extra send the chance to show up
            assert len(smtp_sink.messages) <= allowed, (elapsed, len(smtp_sink.messages))
            limit_reached_at = clock.now()
        # Drained at the rate: the last message needed (MEMBERS - BURST) / RATE seconds.
        drained_after = (limit_reached_at - start).total_seconds()
        assert drained_after == (MEMBERS - BURST) / RATE
        assert len({m.envelope_to for m in smtp_sink.messages}) == MEMBERS
    finally:
        for runtime in reversed(runtimes):
            await runtime.stop()
