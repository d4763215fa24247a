"""Replaying a malformed message through the running notifier: republished once, removed from
the dead letters, and dead-lettered again by its consumer (whose job that is)."""

from __future__ import annotations

import nats

from services.demo.system import LocalSystem
from shared.messaging.stream_scan import scan_stream
from shared.streams import DEAD_LETTERS, RITUALS
from shared.subjects import RITUAL_DUE, dead_letter_subject
from tests.integration.dead_letters.test_replay import rituals
from tests.support import eventually

MALFORMED = b"this is not json"


async def test_a_malformed_message_replayed_is_dead_lettered_again(system: LocalSystem) -> None:
    client = await nats.connect(system.nats.url)
    js = client.jetstream()

    async def held(subject: str) -> list[tuple[int, bytes]]:
        stream = DEAD_LETTERS if subject.startswith("deadletter.") else RITUALS
        return [(m.sequence, m.data) async for m in scan_stream(js, stream, subject, 5)]

    try:
        await js.publish(RITUAL_DUE, MALFORMED, headers={"Nats-Msg-Id": "bad-1"})
        ((first_seq, _),) = await eventually(lambda: held(dead_letter_subject(RITUAL_DUE)))

        listed = await rituals(system.nats.url, "list", RITUAL_DUE)
        assert listed.status == 0, listed.err
        assert "consumer=notifier-ritual-due" in listed.out
        assert "reason=invalid payload: (body): Invalid JSON" in listed.out

        replayed = await rituals(system.nats.url, "replay", RITUAL_DUE)
        assert replayed.status == 0, replayed.err
        assert "replayed 1 dead letter(s)" in replayed.out
        assert [data for _, data in await held(RITUAL_DUE)] == [MALFORMED, MALFORMED]
        # The replayed dead letter is gone; the consumer files a new one for the replay.
        (again,) = await eventually(lambda: held(dead_letter_subject(RITUAL_DUE)))
        assert again[0] != first_seq
        assert again[1] == MALFORMED
    finally:
        await client.close()
