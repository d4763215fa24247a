"""A flood of malformed messages: every one is dead-lettered with a reason, the 1,000 valid
events behind them are all handled, memory does not keep what went by, and a payload bigger than
any event is refused at publish (nothing stored, so nothing to lose).

Figures (publish and drain times, resident memory) are printed for the notes.
"""

from __future__ import annotations

import json
import logging
import random
import resource
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import ConsumerConfig
from nats.js.errors import APIError
from pydantic import ValidationError

from services.demo.scenario import Person, set_up_weekly_check_in
from services.demo.system import LocalSystem
from shared.contracts import RitualDueV1, RitualKind, deterministic_event_id
from shared.messaging.consumer import REASON_HEADER
from shared.streams import MAX_EVENT_BYTES, RITUALS
from shared.subjects import RITUAL_DUE, dead_letter_subject
from tests.support import eventually

ANA = Person("Ana", "ana@riverside.example", "Europe/London", shares_answers=True)
BAD = 2000
VALID = 1000
ROUNDS = 5
WARM_UP_ROUNDS = 2  # allocator arenas and caches reach their working size
FIRST = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)


def _valid(ritual_id: str, community_id: str, member_id: str, n: int) -> RitualDueV1:
    occurrence = FIRST + timedelta(minutes=n)
    return RitualDueV1(
        event_id=deterministic_event_id("ritual.due", "flood", occurrence),
        occurred_at=occurrence,
        ritual_id=ritual_id,
        ritual_version=1,
        ritual_kind=RitualKind.check_in,
        community_id=community_id,
        member_id=member_id,
        template_key="check_in",
        timezone="Europe/London",
        occurrence_at=occurrence,
        occurrence_local_date=occurrence.date(),
        respond_by=occurrence + timedelta(days=2),
    )


async def _publish(js: JetStreamContext, event: RitualDueV1) -> None:
    await js.publish(
        RITUAL_DUE, event.model_dump_json().encode(), headers={"Nats-Msg-Id": event.event_id}
    )


def _wrong_value(rng: random.Random) -> Any:
    choices: list[Callable[[], Any]] = [
        lambda: rng.randint(-(2**70), 2**70),
        lambda: None,
        lambda: [1, "two", {"three": 3}],
        lambda: {"nested": {"deeper": []}},
        lambda: "x" * rng.randint(5_000, 40_000),
        lambda: "\u202e\u0000\ud7ff emoji \U0001f600",
        lambda: rng.random(),
        lambda: True,
        lambda: "2027-02-30T25:61:00Z",
    ]
    return rng.choice(choices)()


def _malformed(rng: random.Random, template: dict[str, Any]) -> bytes:
    """One generated payload of a random kind; the caller keeps only those that do not validate."""
    kind = rng.randrange(8)
    if kind == 0:
        return rng.randbytes(rng.randint(0, 32_768))
    if kind == 1:
        return json.dumps(rng.choice([[], [template], 42, "a string", None, 3.14])).encode()
    if kind == 2:
        gone = rng.choice(sorted(template))
        return json.dumps({k: v for k, v in template.items() if k != gone}).encode()
    if kind == 3:
        field = rng.choice(sorted(template))
        return json.dumps(template | {field: _wrong_value(rng)}).encode()
    if kind == 4:
        whole = json.dumps(template).encode()
        return whole[: rng.randint(1, len(whole) - 1)]
    if kind == 5:
        depth = rng.randint(300, 3000)  # deeper than any parser's recursion limit
        return b"[" * depth + b"]" * depth
    if kind == 6:  # just under the stream's limit: accepted by JetStream, refused by the schema
        return b'{"padding": "' + b"z" * (MAX_EVENT_BYTES - 2048) + b'"}'
    return json.dumps(template | {"occurrence_at": "not a time", "member_id": 7}).encode()


def _generated(count: int, template: dict[str, Any]) -> list[bytes]:
    rng = random.Random(20261125)
    payloads: list[bytes] = []
    while len(payloads) < count:
        payload = _malformed(rng, template)
        try:
            RitualDueV1.model_validate_json(payload)
        except ValidationError:
            payloads.append(payload)
    return payloads


def _rss_mib() -> float:
    with open("/proc/self/statm") as statm:
        resident_pages = int(statm.read().split()[1])
    return resident_pages * resource.getpagesize() / 2**20


@pytest.mark.timeout(300)
async def test_a_flood_of_malformed_messages_is_dead_lettered_and_the_valid_ones_all_go_out(
    system: LocalSystem, caplog: pytest.LogCaptureFixture
) -> None:
    # The test's log capture keeps every record it sees; 2,000 dead-letter warnings would be
    # the test's memory, not the service's.
    for noisy in ("shared.messaging.consumer", "faststream"):
        caplog.set_level(logging.ERROR, logger=noisy)
    community = await set_up_weekly_check_in(system, (ANA,))
    member_id = community.member_ids[ANA.email]
    valid = [_valid(community.ritual_id, community.id, member_id, n) for n in range(VALID)]
    bad = _generated(BAD, valid[0].model_dump(mode="json"))
    client = await nats.connect(system.nats.url)
    js = client.jetstream()

    # Bigger than any event: JetStream refuses it at publish with a clear error; nothing stored.
    with pytest.raises(APIError, match="message size exceeds maximum allowed"):
        await js.publish(RITUAL_DUE, b"{" + b" " * (1024 * 1024 - 4096) + b"}")

    # The flood comes in rounds, each closed by one valid event: when its prompt has arrived,
    # the round's bad payloads have been handled, and memory is read.
    rss: list[float] = []
    per_round = BAD // ROUNDS
    for round_ in range(ROUNDS):
        for index in range(round_ * per_round, (round_ + 1) * per_round):
            await js.publish(RITUAL_DUE, bad[index], headers={"Nats-Msg-Id": f"flood-{index}"})
        await _publish(js, valid[round_])
        await system.smtp.wait_for(round_ + 1, timeout_s=120)
        rss.append(_rss_mib())
    for event in valid[ROUNDS:]:
        await _publish(js, event)

    mails = await system.smtp.wait_for(VALID, timeout_s=240)
    assert len(mails) == VALID  # every valid event behind the flood is sent, once
    assert len({m.message["Message-ID"] for m in mails}) == VALID

    dead = await js.pull_subscribe(
        dead_letter_subject(RITUAL_DUE), durable="test-flood-dlq", config=ConsumerConfig()
    )
    dead_letters: list[tuple[bytes, str]] = []

    async def drained() -> bool:
        try:
            batch = await dead.fetch(500, timeout=1)
        except TimeoutError:
            return len(dead_letters) >= BAD
        for message in batch:
            assert message.headers is not None
            dead_letters.append((message.data, message.headers[REASON_HEADER]))
            await message.ack()
        return len(dead_letters) >= BAD

    await eventually(drained, timeout_s=120)
    assert sorted(data for data, _ in dead_letters) == sorted(bad)  # each, once
    for _, reason in dead_letters:
        assert reason.startswith("invalid payload: "), reason
        assert len(reason) <= 400  # bounded, whatever was sent
        assert "z" * 50 not in reason  # names the problem, never repeats the data
        assert "x" * 50 not in reason
    info = await js.stream_info(RITUALS.name)
    assert info.state.messages == BAD + VALID  # the oversized one was never stored
    await client.close()

    after_warm_up_mib = sum(len(p) for p in bad[WARM_UP_ROUNDS * per_round :]) / 2**20
    print(
        f"\nMalformed flood: bad={BAD} valid={VALID} bad_mib_after_warm_up="
        f"{after_warm_up_mib:.1f} rss_mib_after_each_round={[round(r, 1) for r in rss]}"
    )
    # Memory stable: after the warm-up, the payloads that went by did not stay in memory. The
    # bound is a share of those bytes (keeping each payload would exceed it), not a tuned constant.
    assert rss[-1] - rss[WARM_UP_ROUNDS - 1] < after_warm_up_mib / 4
