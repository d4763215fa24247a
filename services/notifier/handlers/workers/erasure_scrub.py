"""After an erasure, delete the member's messages from the JetStream streams.

Streams keep events for days (RITUALS and PROMPTS 14, RESPONSES and DEADLETTERS 30): long enough
for consumers to catch up and for replays. An erased member's prompts, answers-given markers and
anonymised facts must not wait that long. Each erasure queues a scrub (``erasure_scrubs``: the
member id and every respondent key they had); once ``erasure_scrub_delay_minutes`` has passed
(events still in flight have landed), this job reads each stream once for all pending erasures and
deletes, by sequence, every message that names one of those ids or keys. JetStream overwrites a
deleted message's bytes on disk (its default secure erase). The ERASURES stream is left alone:
it is the record of the erasure itself and holds nothing the person said or did.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError
from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import erasure_scrubs
from shared.clock import Clock
from shared.messaging.stream_scan import scan_stream
from shared.streams import DEAD_LETTERS, PROMPTS, RESPONSES, RITUALS, StreamSpec

log = logging.getLogger(__name__)

SCRUBBED_STREAMS: tuple[StreamSpec, ...] = (RITUALS, PROMPTS, RESPONSES, DEAD_LETTERS)
# The shapes of the ids and keys an event can carry (shared.contracts.base).
_IDS = re.compile(rb"mbr_[A-Za-z0-9]{12,40}|rk_[A-Za-z0-9]{16,64}")
MAX_ERASURES_PER_SCRUB = 1000


@dataclass
class ScrubResult:
    erasures: int = 0
    scanned: int = 0
    deleted: int = 0


def _names_one_of(data: bytes, headers: dict[str, str], ids: set[bytes]) -> bool:
    found = set(_IDS.findall(data))
    for value in headers.values():
        found.update(_IDS.findall(value.encode()))
    return not found.isdisjoint(ids)


async def scrub_erased_members(
    sessions: async_sessionmaker[AsyncSession],
    jetstream: Callable[[], JetStreamContext],
    clock: Clock,
) -> ScrubResult:
    """Scrub the streams of every erasure that is due; returns what it did."""
    result = ScrubResult()
    async with sessions() as session:
        due = (
            await session.execute(
                select(erasure_scrubs)
                .where(erasure_scrubs.c.scrub_after <= clock.now())
                .order_by(erasure_scrubs.c.id)
                .limit(MAX_ERASURES_PER_SCRUB)
            )
        ).all()
    if not due:
        return result
    ids: set[bytes] = set()
    for row in due:
        ids.add(row.member_id.encode())
        ids.update(key.encode() for key in json.loads(row.respondent_keys))
    js = jetstream()
    for stream in SCRUBBED_STREAMS:
        doomed = []
        async for message in scan_stream(js, stream):
            result.scanned += 1
            if _names_one_of(message.data, message.headers, ids):
                doomed.append(message.sequence)
        for sequence in doomed:
            try:
                await js.delete_msg(stream.name, sequence)
            except NotFoundError:
                continue  # expired or deleted meanwhile: gone either way
            result.deleted += 1
    async with sessions() as session, session.begin():
        await session.execute(
            delete(erasure_scrubs).where(erasure_scrubs.c.id.in_([row.id for row in due]))
        )
    result.erasures = len(due)
    log.info(
        "erasure scrub: erasures=%s scanned=%s deleted=%s",
        result.erasures,
        result.scanned,
        result.deleted,
    )
    return result
