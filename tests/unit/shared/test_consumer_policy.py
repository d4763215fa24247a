from __future__ import annotations

import random

from pydantic import ValidationError

from shared.contracts import RitualDueV1
from shared.messaging.consumer import RetryPolicy, describe_validation_error, safe_header_value


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
