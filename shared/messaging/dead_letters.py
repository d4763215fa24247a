"""Dead letters, for operators: list what the ``DEADLETTERS`` stream holds, and replay it.

A dead letter is the original message's body, stored on ``deadletter.<original subject>`` with
headers saying why and where from (``shared.messaging.consumer`` and the notifier's dispatcher
write them). Replaying one publishes its body, byte for byte, to the original subject, waits
for that stream's acknowledgement, and only then deletes the dead letter. So:

* running a replay twice replays nothing the second time: the first one deleted what it
  replayed;
* a crash between publish and delete leaves the dead letter in place; the next replay publishes
  the same bytes with the same ``Nats-Msg-Id``, which the stream drops as a duplicate within
  its window (and after it, consumers are idempotent on the event id in the body).

The ``Nats-Msg-Id`` of a replay is derived from the dead letter (``replay-DEADLETTERS-<seq>``),
not the original message's id: the original is still in its stream, so within the duplicate
window (an hour) a publish under its id would be acknowledged as a duplicate and dropped, and
deleting the dead letter afterwards would lose the message.

Nothing here reads the body: it can be anything a producer sent (that may be why it is here).
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass
from datetime import datetime

from nats.js import JetStreamContext
from nats.js.errors import NotFoundError

from shared.messaging.publisher import MSG_ID_HEADER
from shared.messaging.stream_scan import StoredMessage, scan_stream
from shared.streams import DEAD_LETTERS, StreamSpec, stream_for_subject
from shared.subjects import DEAD_LETTER_PREFIX, dead_letter_subject

REASON_HEADER = "Dead-Letter-Reason"
CONSUMER_HEADER = "Dead-Letter-Consumer"
DELIVERIES_HEADER = "Dead-Letter-Deliveries"
ORIGINAL_MSG_ID_HEADER = "Dead-Letter-Original-Msg-Id"
# On a replayed message: which dead letter it came from (for whoever reads the stream later).
REPLAY_OF_HEADER = "Dead-Letter-Replay-Of"
PUBLISH_TIMEOUT_S = 5.0


class NotReplayable(ValueError):
    """The subject is not one a stream other than the dead letters' captures."""


@dataclass(frozen=True)
class DeadLetter:
    sequence: int  # in the DEADLETTERS stream
    stored_at: datetime
    original_subject: str
    consumer: str | None
    deliveries: int | None
    reason: str | None
    original_msg_id: str | None
    payload: bytes

    @property
    def replay_msg_id(self) -> str:
        """The same for every replay of this dead letter, and for no other message."""
        return f"replay-{DEAD_LETTERS.name}-{self.sequence}"

    def summary(self) -> dict[str, object]:
        """What an operator sees: everything but the body (of which only its size)."""
        return {
            "sequence": self.sequence,
            "stored_at": self.stored_at.isoformat(),
            "subject": self.original_subject,
            "consumer": self.consumer,
            "deliveries": self.deliveries,
            "reason": self.reason,
            "original_msg_id": self.original_msg_id,
            "bytes": len(self.payload),
        }


def _as_int(value: str | None) -> int | None:
    return int(value) if value is not None and value.isdigit() else None


def _dead_letter(stored: StoredMessage) -> DeadLetter:
    headers = stored.headers
    return DeadLetter(
        sequence=stored.sequence,
        stored_at=stored.stored_at,
        # Where the stream filed it is authoritative; the Dead-Letter-Subject header says the same.
        original_subject=stored.subject.removeprefix(f"{DEAD_LETTER_PREFIX}."),
        consumer=headers.get(CONSUMER_HEADER),
        deliveries=_as_int(headers.get(DELIVERIES_HEADER)),
        reason=headers.get(REASON_HEADER),
        original_msg_id=headers.get(ORIGINAL_MSG_ID_HEADER),
        payload=stored.data,
    )


async def dead_letters(
    js: JetStreamContext, original_subject: str | None = None
) -> AsyncGenerator[DeadLetter, None]:
    """The dead letters (of ``original_subject`` if given), oldest first."""
    subject = dead_letter_subject(original_subject) if original_subject else None
    # aclosing: a caller that stops early ends the scan's subscription now, not at some GC.
    async with aclosing(scan_stream(js, DEAD_LETTERS, subject, idle_timeout_s=5.0)) as stored:
        async for message in stored:
            yield _dead_letter(message)


def replay_target(original_subject: str) -> StreamSpec:
    """The stream a replay of ``original_subject`` goes to (not the dead letters' own)."""
    if not original_subject or any(token in original_subject for token in ("*", ">", " ")):
        raise NotReplayable("SUBJECT must be one subject, without wildcards")
    try:
        stream = stream_for_subject(original_subject)
    except LookupError:
        raise NotReplayable("no stream captures that subject (e.g. rituals.due.v1)") from None
    if stream.name == DEAD_LETTERS.name:
        raise NotReplayable("give the original subject, without the deadletter. prefix")
    return stream


@dataclass(frozen=True)
class Republished:
    stream_sequence: int
    duplicate: bool  # the stream already had it: a replay interrupted before its delete


async def republish(js: JetStreamContext, letter: DeadLetter) -> Republished:
    """Publish the dead letter's body to its original subject; returns once it is stored."""
    stream = replay_target(letter.original_subject)
    ack = await js.publish(
        letter.original_subject,
        letter.payload,
        timeout=PUBLISH_TIMEOUT_S,
        stream=stream.name,
        headers={
            MSG_ID_HEADER: letter.replay_msg_id,
            REPLAY_OF_HEADER: f"{DEAD_LETTERS.name}/{letter.sequence}",
        },
    )
    return Republished(ack.seq, bool(ack.duplicate))


async def forget(js: JetStreamContext, letter: DeadLetter) -> bool:
    """Delete the dead letter; False if it was gone already (another replay got there)."""
    try:
        return bool(await js.delete_msg(DEAD_LETTERS.name, letter.sequence))
    except NotFoundError:
        return False


@dataclass(frozen=True)
class Replayed:
    letter: DeadLetter
    republished: Republished | None  # None on a dry run


async def replay(
    js: JetStreamContext,
    original_subject: str,
    only_sequence: int | None = None,
    dry_run: bool = False,
) -> AsyncGenerator[Replayed, None]:
    """Replay the dead letters of ``original_subject`` (only ``only_sequence`` if given),
    oldest first, each published and acknowledged before it is deleted. Stops at the first
    failure (raised); what was replayed before it stays replayed, and running again is safe."""
    replay_target(original_subject)
    # Only what is there now: a replayed message its consumer dead-letters again (still
    # malformed, say) comes back behind this point, for a later replay, not for this loop.
    last_sequence = (await js.stream_info(DEAD_LETTERS.name)).state.last_seq
    async with aclosing(dead_letters(js, original_subject)) as letters:
        async for letter in letters:
            if letter.sequence > last_sequence:
                return
            if only_sequence is not None and letter.sequence != only_sequence:
                continue
            if dry_run:
                yield Replayed(letter, None)
                continue
            republished = await republish(js, letter)
            await forget(js, letter)
            yield Replayed(letter, republished)
