"""``rituals deadletters list|replay``, run as an operator runs it (a subprocess), against a
real nats-server: a replay republishes the original bytes to the original subject once, however
often it is run, and removes what it replayed from DEADLETTERS."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass

import nats
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from shared.messaging.dead_letters import DeadLetter, dead_letters, republish
from shared.messaging.stream_scan import StoredMessage, scan_stream
from shared.natsdev import EmbeddedNatsServer
from shared.streams import DEAD_LETTERS, RITUALS, ensure_streams
from shared.subjects import NUDGE_DUE, RITUAL_DUE, dead_letter_subject

BODY = b'{"event_id": "e-1", "type": "ritual.due"}'


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str


async def rituals(nats_url: str | None, *args: str) -> Run:
    """``rituals deadletters ARGS`` in a subprocess (NATS at ``nats_url`` through the env)."""
    env = {key: value for key, value in os.environ.items() if not key.endswith("NATS_URL")}
    if nats_url is not None:
        env["RITUALS_NATS_URL"] = nats_url
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "services.cli",
        "deadletters",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return Run(process.returncode, out.decode(), err.decode())


@pytest.fixture
async def js(nats_server: EmbeddedNatsServer) -> AsyncIterator[JetStreamContext]:
    client: Client = await nats.connect(nats_server.url)
    stream = client.jetstream()
    await ensure_streams(stream)
    yield stream
    await client.close()


async def dead_letter_as_the_consumer_does(
    js: JetStreamContext, subject: str, body: bytes, original_seq: int, reason: str
) -> None:
    """The original in its stream, and its dead letter with the headers EventConsumer sets."""
    await js.publish(subject, body, headers={"Nats-Msg-Id": f"original-{original_seq}"})
    await js.publish(
        dead_letter_subject(subject),
        body,
        headers={
            "Nats-Msg-Id": f"dl-{RITUALS.name}-{original_seq}",
            "Dead-Letter-Reason": reason,
            "Dead-Letter-Subject": subject,
            "Dead-Letter-Consumer": "notifier-ritual-due",
            "Dead-Letter-Stream": RITUALS.name,
            "Dead-Letter-Stream-Seq": str(original_seq),
            "Dead-Letter-Deliveries": "8",
            "Dead-Letter-Original-Msg-Id": f"original-{original_seq}",
        },
    )


async def stored(js: JetStreamContext, subject: str) -> list[StoredMessage]:
    stream = DEAD_LETTERS if subject.startswith("deadletter.") else RITUALS
    return [message async for message in scan_stream(js, stream, subject, idle_timeout_s=5)]


async def test_list_shows_each_dead_letter_with_its_reason(
    nats_server: EmbeddedNatsServer, js: JetStreamContext
) -> None:
    await dead_letter_as_the_consumer_does(js, RITUAL_DUE, BODY, 1, "retries exhausted: boom")
    await dead_letter_as_the_consumer_does(js, NUDGE_DUE, b"{}", 2, "invalid payload: x")

    everything = await rituals(nats_server.url, "list", "--json")
    assert everything.status == 0, everything.err
    listed = [json.loads(line) for line in everything.out.splitlines()]
    assert [(d["subject"], d["reason"]) for d in listed] == [
        (RITUAL_DUE, "retries exhausted: boom"),
        (NUDGE_DUE, "invalid payload: x"),
    ]
    assert listed[0]["consumer"] == "notifier-ritual-due"
    assert (listed[0]["deliveries"], listed[0]["bytes"]) == (8, len(BODY))
    assert listed[0]["original_msg_id"] == "original-1"
    assert "e-1" not in everything.out  # the body is not shown, only its size

    one_subject = await rituals(nats_server.url, "list", NUDGE_DUE)
    assert one_subject.status == 0, one_subject.err
    (line,) = one_subject.out.splitlines()
    assert line.split("\t")[2:] == [
        NUDGE_DUE,
        "consumer=notifier-ritual-due",
        "deliveries=8",
        "reason=invalid payload: x",
    ]
    assert "1 dead letter(s)" in one_subject.err


async def test_replay_publishes_the_original_once_even_when_run_twice(
    nats_server: EmbeddedNatsServer, js: JetStreamContext
) -> None:
    await dead_letter_as_the_consumer_does(js, RITUAL_DUE, BODY, 1, "retries exhausted: boom")
    await dead_letter_as_the_consumer_does(js, NUDGE_DUE, b"{}", 2, "invalid payload: x")

    dry = await rituals(nats_server.url, "replay", RITUAL_DUE, "--dry-run")
    assert dry.status == 0, dry.err
    assert "would replay 1 dead letter(s)" in dry.out
    assert len(await stored(js, RITUAL_DUE)) == 1

    first = await rituals(nats_server.url, "replay", RITUAL_DUE)
    second = await rituals(nats_server.url, "replay", RITUAL_DUE)
    assert (first.status, second.status) == (0, 0), (first.err, second.err)
    assert "replayed 1 dead letter(s) of rituals.due.v1 to RITUALS" in first.out
    assert "replayed 0 dead letter(s)" in second.out

    # The original (within its duplicate window: the replay is not mistaken for it) and one
    # replay, byte for byte.
    originals = await stored(js, RITUAL_DUE)
    assert [m.data for m in originals] == [BODY, BODY]
    assert originals[1].headers["Nats-Msg-Id"] == "replay-DEADLETTERS-1"
    # Gone from the dead letters; the other subject's are untouched.
    assert await stored(js, dead_letter_subject(RITUAL_DUE)) == []
    assert len(await stored(js, dead_letter_subject(NUDGE_DUE))) == 1


async def test_a_replay_interrupted_before_its_delete_is_not_published_twice(
    nats_server: EmbeddedNatsServer, js: JetStreamContext
) -> None:
    await dead_letter_as_the_consumer_does(js, RITUAL_DUE, BODY, 1, "retries exhausted: boom")
    (letter,) = [letter async for letter in dead_letters(js, RITUAL_DUE)]
    # What a replay that died between its publish and its delete leaves behind:
    assert isinstance(letter, DeadLetter)
    assert not (await republish(js, letter)).duplicate

    again = await rituals(nats_server.url, "replay", RITUAL_DUE)
    assert again.status == 0, again.err
    assert "1 were already there" in again.out
    assert [m.data for m in await stored(js, RITUAL_DUE)] == [BODY, BODY]
    assert await stored(js, dead_letter_subject(RITUAL_DUE)) == []


async def test_replay_of_one_sequence_leaves_the_others(
    nats_server: EmbeddedNatsServer, js: JetStreamContext
) -> None:
    for n in (1, 2, 3):
        await dead_letter_as_the_consumer_does(js, RITUAL_DUE, b"%d" % n, n, "rejected: no")
    letters = [letter async for letter in dead_letters(js, RITUAL_DUE)]
    middle = letters[1]

    run = await rituals(nats_server.url, "replay", RITUAL_DUE, "--seq", str(middle.sequence))
    assert run.status == 0, run.err
    assert [m.data for m in await stored(js, RITUAL_DUE)] == [b"1", b"2", b"3", b"2"]
    remaining = [m.data for m in await stored(js, dead_letter_subject(RITUAL_DUE))]
    assert remaining == [b"1", b"3"]

    gone = await rituals(nats_server.url, "replay", RITUAL_DUE, "--seq", str(middle.sequence))
    assert gone.status == 1
    assert f"no dead letter {middle.sequence} of that subject" in gone.err


async def test_failures_exit_non_zero_with_a_clear_message(nats_server: EmbeddedNatsServer) -> None:
    # A port held (bound, not listening): connections to it are refused, and nobody else's
    # server can take it meanwhile.
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as held:
        held.bind(("127.0.0.1", 0))
        nowhere = f"nats://operator:s3cret@127.0.0.1:{held.getsockname()[1]}"
        unreachable = await rituals(nowhere, "list")
    assert unreachable.status == 1
    assert "cannot reach NATS at 127.0.0.1:" in unreachable.err
    assert "s3cret" not in unreachable.err
    assert "Traceback" not in unreachable.err

    # A server where no service has declared the streams yet.
    no_stream = await rituals(nats_server.url, "list")
    assert no_stream.status == 1
    assert "no DEADLETTERS stream" in no_stream.err

    for subject, says in [
        ("rituals.>", "without wildcards"),
        ("nothing.here", "no stream captures that subject"),
        ("deadletter.rituals.due.v1", "without the deadletter. prefix"),
    ]:
        refused = await rituals(nats_server.url, "replay", subject)
        assert refused.status == 2
        assert says in refused.err
