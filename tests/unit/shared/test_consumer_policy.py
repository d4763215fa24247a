from __future__ import annotations

import random

import pytest
from nats.aio.msg import Msg
from nats.errors import NotJSMessageError
from pydantic import ValidationError

from shared.contracts import RitualDueV1
from shared.messaging.consumer import (
    RetryPolicy,
    delivery_counts,
    describe_validation_error,
    safe_header_value,
)


def test_backoff_grows_exponentially_with_jitter_and_is_capped() -> None:
    policy = RetryPolicy(max_attempts=10, base_delay_s=2, max_delay_s=60)
    rng = random.Random(7)
    for attempt, ceiling in [(1, 2), (2, 4), (3, 8), (4, 16), (5, 32), (6, 60), (9, 60)]:
        delays = [policy.delay_s(attempt, rng) for _ in range(200)]
        assert min(delays) >= ceiling / 2
        assert max(delays) <= ceiling
        assert len({round(d, 6) for d in delays}) > 100  # jittered, not a fixed delay


def test_validation_reasons_never_echo_the_payload() -> None:
    payload = b'{"member_id": "ana@example.org", "timezone": "+447700900123"}'
    try:
        RitualDueV1.model_validate_json(payload)
    except ValidationError as error:
        reason = describe_validation_error(error)
    assert "member_id" in reason
    assert "ana@example.org" not in reason
    assert "447700900123" not in reason


def test_header_values_cannot_carry_a_line_break_or_grow_unbounded() -> None:
    value = safe_header_value("first\r\nBcc: someone@example.org\n" + "x" * 5000)
    assert "\r" not in value
    assert "\n" not in value
    assert len(value) <= 400


@pytest.mark.parametrize(
    "reply",
    [
        "$JS.ACK.RESPONSES.insights-responses-v2.3.1042.7.1700000000000000000.5",
        "$JS.ACK.hub.ACCOUNTHASH.RESPONSES.insights-responses-v2.3.1042.7.1700000000000000000.5",
        "$JS.ACK._.ACCOUNTHASH.RESPONSES.insights-responses-v2.1.7.7.1700000000000000000.0.x1",
    ],
)
def test_delivery_counts_read_the_ack_subject_as_nats_py_does(reply: str) -> None:
    msg = Msg(_client=None, subject="insights.x", reply=reply)  # type: ignore[arg-type]
    expected = (msg.metadata.num_delivered, msg.metadata.sequence.stream)
    assert delivery_counts(msg) == expected
    assert expected in ((3, 1042), (1, 7))


def test_a_message_not_from_jetstream_has_no_delivery_counts() -> None:
    with pytest.raises(NotJSMessageError):
        delivery_counts(Msg(_client=None, subject="x", reply="_INBOX.abc"))  # type: ignore[arg-type]
