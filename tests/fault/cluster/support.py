"""What the cluster fault test needs beyond tests/fault/support.py: PostgreSQL schemas that must
exist, rituals that fall due in waves, notifier members and processes, JetStream leader moves,
and a clock on the SMTP sink's arrivals."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from nats.aio.client import Client
from nats.js import JetStreamContext
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from services.notifier.adapters.tables import consent_records, contacts
from services.notifier.domain.pseudonyms import new_pseudonym_seed
from services.scheduler.adapters.tables import communities, enrolments, rituals, schedule_cursors
from shared.db import create_engine
from shared.devsmtp import SmtpSink
from shared.streams import ALL_STREAMS
from tests.conftest import postgres_url
from tests.fault.support import daily_ritual, member_id

NOTIFIER_MIGRATIONS = Path(__file__).resolve().parents[3] / "services" / "notifier" / "migrations"


@asynccontextmanager
async def postgres_schemas(*services: str) -> AsyncIterator[tuple[str, dict[str, str]]]:
    """A fresh schema per service on PostgreSQL, dropped afterwards. Replicas share their work
    only on PostgreSQL (SKIP LOCKED), so this test has no SQLite variant: without PostgreSQL it
    fails, here and in CI alike, rather than skip and prove nothing."""
    url = postgres_url()
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:
            await connection.execute(text("SELECT 1"))
    except OSError as error:
        await engine.dispose()
        raise AssertionError(
            f"the cluster fault test needs PostgreSQL at {url} (TEST_DATABASE_URL): {error}"
        ) from error
    run = uuid.uuid4().hex[:10]
    schemas = {service: f"t_{run}_{service}" for service in services}
    try:
        yield url, schemas
    finally:
        async with engine.begin() as connection:
            for schema in schemas.values():
                await connection.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await engine.dispose()


async def seed_community(engine: AsyncEngine, community: str, members: int, at: datetime) -> None:
    """A community and its members, enrolled in UTC (the scheduler's side)."""
    async with engine.begin() as connection:
        await connection.execute(
            communities.insert().values(
                id=community,
                name=community,
                timezone="UTC",
                region_code="X",
                locale="en",
                created_at=at,
            )
        )
        await connection.execute(
            enrolments.insert(),
            [
                {
                    "community_id": community,
                    "member_id": member_id(community, m),
                    "timezone": "UTC",
                    "created_at": at,
                }
                for m in range(members)
            ],
        )


async def seed_wave(
    engine: AsyncEngine, community: str, members: int, ritual_ids: list[str], due_at: datetime
) -> dict[str, int]:
    """Daily check-ins whose first occurrence is already due (``due_at``, in the past: the
    scheduler runs on the real clock, and nothing here waits for a schedule). Returns the
    RitualDue ids the scheduler must emit for them, each with its member's number."""
    local = due_at.replace(tzinfo=None).isoformat(timespec="seconds")
    async with engine.begin() as connection:
        await connection.execute(
            rituals.insert(),
            [
                {
                    "id": ritual_id,
                    "community_id": community,
                    "kind": "check_in",
                    "title": "t",
                    "rrule": "FREQ=DAILY",
                    "dtstart_local": local,
                    "exdates": "",
                    "pinned_to_community_zone": False,
                    "template_key": "check_in",
                    "response_window_s": 3600,
                    "misfire_grace_s": 3600,
                    "nudge_after_s": None,
                    "max_nudges": 0,
                    "version": 1,
                    "active": True,
                    "created_at": due_at,
                    "updated_at": due_at,
                }
                for ritual_id in ritual_ids
            ],
        )
        await connection.execute(
            schedule_cursors.insert(),
            [
                {"ritual_id": ritual_id, "timezone": "UTC", "next_due_at": due_at}
                for ritual_id in ritual_ids
            ],
        )
    return {
        daily_ritual(ritual_id, local, community)
        .due_event(member_id(community, m), "UTC", due_at, due_at, False)
        .event_id: m
        for ritual_id in ritual_ids
        for m in range(members)
    }


def address(community: str, n: int) -> str:
    return f"member{n:04d}@{community}.example"


async def seed_contacts(engine: AsyncEngine, community: str, members: int, at: datetime) -> None:
    """The same members on the notifier's side: e-mail, consent with its trail, and quiet
    hours start = end ("none": the real clock decides when this runs, and the default night
    window must not defer the prompts)."""
    async with engine.begin() as connection:
        await connection.execute(
            contacts.insert(),
            [
                {
                    "member_id": member_id(community, n),
                    "email": address(community, n),
                    "phone": None,
                    "locale": "en",
                    "preferred_channel": "email",
                    "fallback_channel": None,
                    "quiet_start": "00:00",
                    "quiet_end": "00:00",
                    "prompt_consent": True,
                    "prompt_consent_at": at,
                    "prompt_consent_source": "cluster-test",
                    "insights_consent": False,
                    "insights_consent_at": at,
                    "insights_consent_source": "cluster-test",
                    "pseudonym_seed": new_pseudonym_seed(),
                    "created_at": at,
                    "updated_at": at,
                }
                for n in range(members)
            ],
        )
        await connection.execute(
            consent_records.insert(),
            [
                {
                    "member_id": member_id(community, n),
                    "kind": kind,
                    "given": kind == "prompts",
                    "source": "cluster-test",
                    "recorded_at": at,
                }
                for n in range(members)
                for kind in ("prompts", "insights")
            ],
        )


def notifier_env(
    nats_url: str,
    database_url: str,
    schema: str,
    http_port: int,
    public_port: int,
    smtp: SmtpSink,
    message_id_domain: str,
) -> dict[str, str]:
    return {
        **os.environ,
        "NOTIFIER_ENVIRONMENT": "dev",
        "NOTIFIER_NATS_URL": nats_url,
        "NOTIFIER_DATABASE_URL": database_url,
        "NOTIFIER_DATABASE_SCHEMA": schema,
        "NOTIFIER_HTTP_HOST": "127.0.0.1",
        "NOTIFIER_HTTP_PORT": str(http_port),
        "NOTIFIER_PUBLIC_HTTP_PORT": str(public_port),  # never the default: others may hold it
        "NOTIFIER_PUBLIC_BASE_URL": f"http://127.0.0.1:{public_port}",
        "NOTIFIER_LOG_LEVEL": "WARNING",
        "NOTIFIER_SMTP_HOST": smtp.host,
        "NOTIFIER_SMTP_PORT": str(smtp.port),
        "NOTIFIER_SMTP_SECURITY": "none",
        "NOTIFIER_SMTP_TIMEOUT_S": "10",
        "NOTIFIER_MESSAGE_ID_DOMAIN": message_id_domain,
        # The provider's limit is not what this test is about: high enough never to pace.
        "NOTIFIER_EMAIL_RATE_PER_S": "1000",
        "NOTIFIER_EMAIL_BURST": "200",
        "NOTIFIER_DISPATCH_INTERVAL_S": "0.2",
    }


# JetStream leaders -----------------------------------------------------------------------------


@dataclass(frozen=True)
class RaftGroup:
    """A stream, or a consumer of one: each is its own Raft group with its own leader."""

    stream: str
    consumer: str | None = None

    def __str__(self) -> str:
        return self.stream if self.consumer is None else f"{self.stream}/{self.consumer}"

    @property
    def stepdown_subject(self) -> str:
        if self.consumer is None:
            return f"$JS.API.STREAM.LEADER.STEPDOWN.{self.stream}"
        return f"$JS.API.CONSUMER.LEADER.STEPDOWN.{self.stream}.{self.consumer}"

    async def leader(self, js: JetStreamContext, timeout_s: float = 2.0) -> str | None:
        """The node that leads the group now; None while it has none (an election), or when the
        question found no answer in time (the leader that would answer it just died)."""
        try:
            if self.consumer is None:
                info = await asyncio.wait_for(js.stream_info(self.stream), timeout_s)
            else:
                info = await asyncio.wait_for(
                    js.consumer_info(self.stream, self.consumer), timeout_s
                )
        except Exception:  # no leader to answer is the answer
            return None
        return info.cluster.leader if info.cluster is not None else None

    async def replicas(self, js: JetStreamContext) -> int:
        """How many nodes hold the group: the leader and its peers."""
        if self.consumer is None:
            info = await js.stream_info(self.stream)
        else:
            info = await js.consumer_info(self.stream, self.consumer)
        assert info.cluster is not None, f"{self}: not clustered"
        return 1 + len(info.cluster.replicas or [])


async def raft_groups(js: JetStreamContext) -> list[RaftGroup]:
    """Every stream of ours and every consumer on them, as the services have declared them."""
    groups: list[RaftGroup] = []
    for spec in ALL_STREAMS:
        groups.append(RaftGroup(spec.name))
        for consumer in await js.consumers_info(spec.name):
            groups.append(RaftGroup(spec.name, consumer.name))
    return groups


async def move_leader(client: Client, group: RaftGroup, target: str, timeout_s: float) -> int:
    """Step the group's leader down until ``target`` leads it; returns the step-downs it took.

    Each step-down names ``target`` as the preferred successor (nats-server >= 2.11 honours it
    when that peer is current); when it is not (a follower still catching up), another node
    wins and the loop asks again."""
    js = client.jetstream()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout_s
    stepdowns = 0
    while (leader := await group.leader(js)) != target:
        assert loop.time() < deadline, f"{group}: still led by {leader}, not {target}"
        if leader is not None:
            request = json.dumps({"placement": {"preferred": target}}).encode()
            try:
                answer = json.loads((await client.request(group.stepdown_subject, request, 5)).data)
            except Exception:  # a request lost in the election: ask again
                answer = {}
            stepdowns += 1
            if "error" not in answer:
                # Bounded: should the old leader win again, the loop asks again.
                await _until_led_by_other_than(js, group, leader, min(deadline, loop.time() + 10))
        await asyncio.sleep(0.05)
    return stepdowns


async def _until_led_by_other_than(
    js: JetStreamContext, group: RaftGroup, previous: str, deadline: float
) -> None:
    loop = asyncio.get_running_loop()
    while loop.time() < deadline:
        leader = await group.leader(js)
        if leader is not None and leader != previous:
            return
        await asyncio.sleep(0.05)


async def leaders(js: JetStreamContext, groups: list[RaftGroup]) -> dict[str, str | None]:
    return {str(group): await group.leader(js) for group in groups}


# The sink's clock ------------------------------------------------------------------------------


class ArrivalClock:
    """When each message reached the SMTP sink (loop time, by polling every few milliseconds:
    the sink records order, not time), for the recovery figures."""

    def __init__(self, sink: SmtpSink, every_s: float = 0.005) -> None:
        self._sink = sink
        self._every_s = every_s
        self.at: list[float] = []  # at[i]: when message i had arrived

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            count = len(self._sink.messages)
            if count > len(self.at):
                now = loop.time()
                self.at.extend([now] * (count - len(self.at)))
            await asyncio.sleep(self._every_s)
