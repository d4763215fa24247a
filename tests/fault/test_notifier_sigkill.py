"""SIGKILL the notifier process 12 times while it sends 1,000 e-mail prompts to a real SMTP
server, restart it each time, and count at the sink: 0 missed, duplicates per kill ≤ the
notifier's ``max_in_doubt`` (hand-overs whose outcome is not committed yet).

Exactly-once to an external SMTP server is impossible: a message the server has taken (the
final "." sent) whose 250 reply or whose recorded outcome is lost with the process is sent again
by the next lease holder. So duplicates are bounded and reported, not forbidden; each one is
recognisable by its stable Message-ID. PromptSent, in contrast, must be exactly one per
delivery: its id is deterministic and JetStream drops a republished one.

Figures (kills, duplicates, attempts at the sink, catch-up time) are printed for the notes.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import os
import random
import signal
import sys
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig, DeliverPolicy
from sqlalchemy import func, select

from services.demo.system import DatabaseFor
from services.notifier.adapters.tables import consent_records, contacts, deliveries
from services.notifier.domain.delivery import DeliveryStatus
from services.notifier.domain.prompt_job import delivery_id_for
from services.notifier.domain.pseudonyms import new_pseudonym_seed
from shared.contracts import Channel, PromptSentV1, RitualDueV1
from shared.db import create_engine
from shared.devsmtp import SmtpSink
from shared.messaging.publisher import encode_event
from shared.migrations import upgrade_to_head
from shared.natsdev import EmbeddedNatsServer, free_port
from shared.streams import ensure_streams
from shared.subjects import PROMPT_SENT
from tests.fault.support import daily_ritual
from tests.support import eventually

MEMBERS = 1000
KILLS = 8  # 20, then 12, before CI neared its 30 minutes; each kill costs a restart and a catch-up
MIGRATIONS = Path(__file__).resolve().parents[2] / "services" / "notifier" / "migrations"
MESSAGE_ID_DOMAIN = "fault.rituals.localhost"
MAX_IN_DOUBT = 8


def _member(n: int) -> str:
    return f"mbr_faultmember{n:06d}"


def _address(n: int) -> str:
    return f"member{n:04d}@fault.example"


def _due_events(due_at: datetime) -> list[RitualDueV1]:
    """What the scheduler would emit for one ritual with 1,000 enrolled members, due now."""
    ritual = daily_ritual(
        "fault-check-in", due_at.replace(tzinfo=None).isoformat(timespec="seconds"), "fault"
    )
    return [ritual.due_event(_member(n), "UTC", due_at, due_at, False) for n in range(MEMBERS)]


async def _seed_members(url: str, schema: str | None, now: datetime) -> None:
    """Members as the notifier's API stores them: e-mail, consent (with its trail), and quiet
    hours start = end, which the API documents as "none" (the real clock decides when this
    test runs, so the service's default night window must not defer the prompts)."""
    engine = create_engine(url, schema)
    await upgrade_to_head(engine, MIGRATIONS, schema)
    async with engine.begin() as connection:
        await connection.execute(
            contacts.insert(),
            [
                {
                    "member_id": _member(n),
                    "email": _address(n),
                    "phone": None,
                    "locale": "en",
                    "preferred_channel": "email",
                    "fallback_channel": None,
                    "quiet_start": "00:00",
                    "quiet_end": "00:00",
                    "prompt_consent": True,
                    "prompt_consent_at": now,
                    "prompt_consent_source": "fault-test",
                    "insights_consent": False,
                    "insights_consent_at": now,
                    "insights_consent_source": "fault-test",
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
                    "member_id": _member(n),
                    "kind": kind,
                    "given": kind == "prompts",
                    "source": "fault-test",
                    "recorded_at": now,
                }
                for n in range(MEMBERS)
                for kind in ("prompts", "insights")
            ],
        )
    await engine.dispose()


async def _delivery_statuses(url: str, schema: str | None) -> dict[str, int]:
    engine = create_engine(url, schema)
    try:
        async with engine.connect() as connection:
            rows = (
                await connection.execute(
                    select(deliveries.c.status, func.count()).group_by(deliveries.c.status)
                )
            ).all()
    finally:
        await engine.dispose()
    return {status: int(count) for status, count in rows}


async def _publish(js: JetStreamContext, events: list[RitualDueV1]) -> None:
    for event in events:
        subject, body, headers = encode_event(event)
        await js.publish(subject, body, headers=headers)


# Typically 40-70 s; the headroom is for a loaded machine, and for a broken build to reach its
# assertions (a life that sends nothing waits a few seconds before its kill).
@pytest.mark.timeout(240)
async def test_sigkill_during_sends_misses_nothing_and_duplicates_at_most_once_per_kill(
    nats_server: EmbeddedNatsServer,
    database_for: DatabaseFor,
    smtp_sink: SmtpSink,
    tmp_path: Path,
) -> None:
    url, schema = database_for("notifier")
    now = datetime.now(UTC).replace(microsecond=0)
    await _seed_members(url, schema, now)
    events = _due_events(now - timedelta(minutes=1))
    expected = {
        f"<{delivery_id_for(event.event_id, Channel.email)}@{MESSAGE_ID_DOMAIN}>": _address(n)
        for n, event in enumerate(events)
    }

    client = await nats.connect(nats_server.url)
    js = client.jetstream()
    await ensure_streams(js)
    await _publish(js, events)

    sent_events: list[PromptSentV1] = []
    sent_publications = 0

    async def count_publication(_msg: object) -> None:
        nonlocal sent_publications
        sent_publications += 1

    await client.subscribe(PROMPT_SENT, cb=count_publication)  # every publish attempt
    sent_consumer = await js.pull_subscribe(
        PROMPT_SENT,
        durable="fault-sent-counter",
        config=ConsumerConfig(deliver_policy=DeliverPolicy.ALL, max_ack_pending=20_000),
    )

    async def drain_sent() -> int:
        try:
            batch = await sent_consumer.fetch(1000, timeout=0.2)
        except TimeoutError:
            return len(sent_events)
        for msg in batch:
            sent_events.append(PromptSentV1.model_validate_json(msg.data))
            await msg.ack()
        return len(sent_events)

    def delivered() -> set[str]:
        return {str(m.message["Message-ID"]) for m in smtp_sink.messages}

    async def enqueued() -> bool:
        info = await js.consumer_info("RITUALS", "notifier-ritual-due")
        return bool(info.num_pending == 0 and info.num_ack_pending == 0)

    port = free_port()
    env = {
        **os.environ,
        "NOTIFIER_ENVIRONMENT": "dev",
        "NOTIFIER_NATS_URL": nats_server.url,
        "NOTIFIER_DATABASE_URL": url,
        "NOTIFIER_HTTP_HOST": "127.0.0.1",
        "NOTIFIER_HTTP_PORT": str(port),
        "NOTIFIER_PUBLIC_HTTP_PORT": str(free_port()),  # never the default: others may hold it
        "NOTIFIER_LOG_LEVEL": "WARNING",
        "NOTIFIER_SMTP_HOST": smtp_sink.host,
        "NOTIFIER_SMTP_PORT": str(smtp_sink.port),
        "NOTIFIER_SMTP_SECURITY": "none",
        "NOTIFIER_SMTP_TIMEOUT_S": "10",
        "NOTIFIER_MESSAGE_ID_DOMAIN": MESSAGE_ID_DOMAIN,
        # The provider limit paces the sends so that the 20 kills land among them (a life
        # sends for a fraction of a second here); the last life is not paced (see below).
        "NOTIFIER_EMAIL_RATE_PER_S": "60",  # 12 lives send about what 20 did at 40/s
        "NOTIFIER_EMAIL_BURST": "10",
        "NOTIFIER_DISPATCH_INTERVAL_S": "0.2",
        "NOTIFIER_DISPATCH_BATCH_SIZE": "50",
        "NOTIFIER_MAX_IN_DOUBT": str(MAX_IN_DOUBT),
        # A killed process's claims come back after the lease: short, so the test waits little.
        "NOTIFIER_DISPATCH_LEASE_S": "2",
        "NOTIFIER_RETRY_BASE_DELAY_S": "1",
        "NOTIFIER_RETRY_MAX_DELAY_S": "2",
    }
    if schema:
        env["NOTIFIER_DATABASE_SCHEMA"] = schema
    rng = random.Random(20261126)
    kills = 0
    kills_while_sending = 0

    alive: list[asyncio.subprocess.Process] = []

    async def start() -> asyncio.subprocess.Process:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "services.notifier",
            cwd=tmp_path,
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        alive.append(process)
        async with aiohttp.ClientSession() as http:

            async def up() -> bool:
                try:
                    async with http.get(f"http://127.0.0.1:{port}/health/live") as response:
                        return response.status == 200
                except aiohttp.ClientError:
                    return process.returncode is not None

            await eventually(up, timeout_s=60, interval_s=0.01)
        assert process.returncode is None, "the notifier did not start"
        return process

    async def sigkill(process: asyncio.subprocess.Process) -> None:
        if process.returncode is None:
            process.send_signal(signal.SIGKILL)
        await process.wait()
        alive.remove(process)

    loop = asyncio.get_running_loop()
    started = loop.time()
    # The sink's messages in arrival order; life_ends[i]: how many had arrived by kill i.
    life_ends: list[int] = []
    recovering = started
    try:
        process = await start()
        # The events are in the send queue before the first kill: this test is about sends (a
        # kill while consuming only delays the unacknowledged events by the consumer's ack
        # wait).
        await eventually(enqueued, timeout_s=60, interval_s=0.05)
        while kills < KILLS:
            before = len(smtp_sink.messages)
            # A random point while this life is sending (its first sweep follows start-up).
            with contextlib.suppress(TimeoutError):
                await smtp_sink.wait_for(before + 1, timeout_s=5)
            await asyncio.sleep(rng.uniform(0.0, 0.6))
            await sigkill(process)
            kills += 1
            # A message whose "." left before the kill may still be in the sink's socket buffer.
            await _quiet(smtp_sink)
            life_ends.append(len(smtp_sink.messages))
            if life_ends[-1] > before:
                kills_while_sending += 1
            if kills == KILLS:
                # Pacing mattered only while killing: the last life sends at full speed.
                recovering = loop.time()
                env["NOTIFIER_EMAIL_RATE_PER_S"] = "1000"
                env["NOTIFIER_EMAIL_BURST"] = "100"
            process = await start()
        try:
            # What the kills left is sent by the last life, at full speed: time enough for a
            # loaded machine (it is waited for, not timed).
            await eventually(lambda: len(delivered()) >= MEMBERS, timeout_s=90, interval_s=0.05)
        except AssertionError:
            statuses = await _delivery_statuses(url, schema)
            missing = MEMBERS - len(delivered())
            raise AssertionError(
                f"{missing} prompts never arrived; deliveries: {statuses}"
            ) from None
        await eventually(lambda: _at_least(drain_sent, MEMBERS), timeout_s=20, interval_s=0.05)
        process.send_signal(signal.SIGTERM)
        await process.wait()
        alive.remove(process)
    finally:
        for leftover in list(alive):  # a failure above must not leave a notifier running
            await sigkill(leftover)
    catch_up_s = loop.time() - recovering
    total_s = loop.time() - started
    await drain_sent()
    statuses = await _delivery_statuses(url, schema)
    await client.close()

    mails = smtp_sink.messages
    received = Counter(str(m.message["Message-ID"]) for m in mails)
    duplicates = sum(count - 1 for count in received.values())
    # Every copy of a message but its last was sent and never recorded: it was in doubt when
    # the kill that ended its life landed.
    last_copy = {str(mail.message["Message-ID"]): position for position, mail in enumerate(mails)}
    per_kill = Counter(
        bisect.bisect_right(life_ends, position)
        for position, mail in enumerate(mails)
        if last_copy[str(mail.message["Message-ID"])] != position
    )
    attempts = sum(smtp_sink.attempts(address) for address in expected.values())
    sent_ids = [event.event_id for event in sent_events]
    print(
        f"\nNotifier SIGKILL fault: kills={kills} kills_while_sending={kills_while_sending} "
        f"members={MEMBERS} delivered={len(received)} duplicates={duplicates} "
        f"max_duplicates_per_kill={max(per_kill.values(), default=0)} max_in_doubt={MAX_IN_DOUBT} "
        f"smtp_attempts={attempts} prompt_sent_publishes={sent_publications} "
        f"prompt_sent_events={len(sent_ids)} catch_up_s={catch_up_s:.1f} total_s={total_s:.1f}"
    )
    assert kills == KILLS
    # Most kills hit the sends, or the bound below would prove little.
    assert kills_while_sending >= KILLS // 2
    assert set(received) == set(expected)  # 0 missed, nothing unexpected
    for mail in mails:
        assert mail.envelope_to == (expected[str(mail.message["Message-ID"])],)
    assert duplicates <= kills * MAX_IN_DOUBT
    # The bound holds kill by kill: at most max_in_doubt messages were in doubt at each kill.
    assert max(per_kill.values(), default=0) <= MAX_IN_DOUBT, f"duplicates: {dict(per_kill)}"
    assert len(sent_ids) == len(set(sent_ids)) == MEMBERS  # one PromptSent per delivery
    assert {e.member_id for e in sent_events} == {_member(n) for n in range(MEMBERS)}
    assert statuses == {
        DeliveryStatus.sent.value: MEMBERS
    }  # no lease left stranded, nothing failed


async def _quiet(sink: SmtpSink) -> None:
    """Until the sink has taken nothing new for a moment."""
    seen = -1
    while (now := len(sink.messages)) != seen:
        seen = now
        await asyncio.sleep(0.15)


async def _at_least(drain: object, target: int) -> bool:
    assert callable(drain)
    return bool(await drain() >= target)
