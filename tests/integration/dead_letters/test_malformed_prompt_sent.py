"""The scheduler takes PromptSent in batches (its nudge timers): malformed ones in a batch are
dead-lettered one by one with a reason, and the valid events of the same batches are handled
and acknowledged."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import nats
from nats.js.api import ConsumerConfig
from sqlalchemy import func, select

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import LocalSystem
from services.scheduler.adapters.tables import nudge_timers
from shared.contracts import Channel, PromptSentV1, deterministic_event_id
from shared.messaging.consumer import REASON_HEADER
from shared.streams import stream_for_subject
from shared.subjects import PROMPT_SENT, dead_letter_subject
from tests.support import eventually

ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
CONSUMER = "scheduler-prompt-sent"
MONDAY_0900 = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


async def test_malformed_prompts_sent_are_dead_lettered_among_valid_ones(
    system: LocalSystem,
) -> None:
    community = await set_up_weekly_check_in(system, (ANA,), nudge_after_minutes=60)
    valid = [
        PromptSentV1(
            event_id=deterministic_event_id("prompt.sent", "manual", n),
            occurred_at=MONDAY_0900,
            due_event_id=deterministic_event_id("ritual.due", "manual", n),
            ritual_id=community.ritual_id,
            community_id=community.id,
            member_id=community.member_ids[ANA.email],
            channel=Channel.email,
            attempts=1,
            nudge_number=0,
            occurrence_at=MONDAY_0900,
            respond_by=MONDAY_0900 + timedelta(days=2),
        )
        for n in range(20)
    ]
    template = valid[0].model_dump(mode="json")
    bad_payloads = [
        b"not json",
        b"",
        json.dumps(template | {"member_id": "ana@riverside.example"}).encode(),
        json.dumps({k: v for k, v in template.items() if k != "due_event_id"}).encode(),
        json.dumps(template | {"nudge_number": -1}).encode(),
        b"\xff\xfe\x00binary",
    ]

    client = await nats.connect(system.nats.url)
    js = client.jetstream()
    # Interleaved, so the bad ones arrive inside the same pulled batches as valid ones.
    for index, event in enumerate(valid):
        if index < len(bad_payloads):
            await js.publish(
                PROMPT_SENT, bad_payloads[index], headers={"Nats-Msg-Id": f"bad-{index}"}
            )
        await js.publish(
            PROMPT_SENT, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}
        )
    stream = stream_for_subject(PROMPT_SENT).name
    last_sequence = (await js.stream_info(stream)).state.last_seq

    async def all_settled() -> bool:
        info = await js.consumer_info(stream, CONSUMER)
        return bool(
            info.ack_floor.stream_seq >= last_sequence
            and info.num_pending == 0
            and info.num_ack_pending == 0
        )

    await eventually(all_settled, timeout_s=30)
    async with system.runtimes["scheduler"].plumbing.sessions() as session:
        timers = await session.scalar(
            select(func.count()).where(
                nudge_timers.c.due_event_id.in_([e.due_event_id for e in valid])
            )
        )
    assert timers == len(valid)  # every valid one started its nudge timer

    dead = await js.pull_subscribe(
        dead_letter_subject(PROMPT_SENT), durable="test-prompt-sent-dlq", config=ConsumerConfig()
    )
    # One more than expected may come: none must (a valid event dead-lettered would).
    messages = await dead.fetch(len(bad_payloads) + 1, timeout=5)
    ours = [m for m in messages if m.headers and m.headers["Dead-Letter-Consumer"] == CONSUMER]
    assert sorted(m.data for m in ours) == sorted(bad_payloads)  # each, once
    for message in ours:
        assert message.headers is not None
        reason = message.headers[REASON_HEADER]
        assert reason.startswith("invalid payload: "), reason
        assert "ana@riverside.example" not in reason  # names the problem, never the data
    await client.close()
