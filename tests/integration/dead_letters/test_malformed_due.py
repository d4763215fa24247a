"""A malformed message on the due subject goes to the dead letters with a reason; the notifier
keeps consuming and handles the next valid one."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import nats
from nats.js.api import ConsumerConfig

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id
from shared.messaging.consumer import REASON_HEADER
from shared.subjects import RITUAL_DUE, dead_letter_subject

ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)


async def test_malformed_messages_are_dead_lettered_and_the_next_valid_one_is_sent(
    system: LocalSystem,
) -> None:
    community = await set_up_weekly_check_in(system, (ANA,))
    occurrence = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    valid = RitualDueV1(
        event_id=deterministic_event_id("ritual.due", "manual", occurrence),
        occurred_at=occurrence,
        ritual_id=community.ritual_id,
        ritual_version=1,
        ritual_kind=RitualKind.check_in,
        community_id=community.id,
        member_id=community.member_ids[ANA.email],
        template_key="check_in",
        timezone="Europe/London",
        occurrence_at=occurrence,
        occurrence_local_date=occurrence.date(),
        respond_by=occurrence + timedelta(days=2),
    )
    schema_violation = valid.model_dump(mode="json") | {"member_id": "ana@riverside.example"}
    missing_field = {k: v for k, v in valid.model_dump(mode="json").items() if k != "ritual_id"}
    bad_payloads = [
        b"this is not json",
        b"",
        json.dumps(schema_violation).encode(),
        json.dumps(missing_field).encode(),
        b"\xff\xfe\x00binary",
    ]

    client = await nats.connect(system.nats.url)
    js = client.jetstream()
    for index, payload in enumerate(bad_payloads):
        await js.publish(RITUAL_DUE, payload, headers={"Nats-Msg-Id": f"bad-{index}"})
    await js.publish(
        RITUAL_DUE, valid.model_dump_json().encode(), headers={"Nats-Msg-Id": valid.event_id}
    )

    # The valid event behind five bad ones is still sent.
    mails = await system.smtp.wait_for(1)
    assert [m.envelope_to[0] for m in mails] == [ANA.email]

    dead = await js.pull_subscribe(
        dead_letter_subject(RITUAL_DUE), durable="test-dlq", config=ConsumerConfig()
    )
    messages = await dead.fetch(len(bad_payloads), timeout=10)
    assert sorted(m.data for m in messages) == sorted(bad_payloads)
    reasons = {m.data: m.headers[REASON_HEADER] for m in messages if m.headers}
    assert reasons[b"this is not json"].startswith("invalid payload: (body): Invalid JSON")
    assert "member_id" in reasons[json.dumps(schema_violation).encode()]
    assert "ritual_id: Field required" in reasons[json.dumps(missing_field).encode()]
    for message in messages:
        assert message.headers is not None
        assert message.headers["Dead-Letter-Consumer"] == "notifier-ritual-due"
        # The reason names the problem without repeating what was sent.
        assert "ana@riverside.example" not in message.headers[REASON_HEADER]
    await client.close()
