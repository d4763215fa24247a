from __future__ import annotations

import pytest

from shared import subjects
from shared.streams import (
    ALL_STREAMS,
    DEAD_LETTERS,
    MAX_EVENT_BYTES,
    PROMPTS,
    RESPONSES,
    RITUALS,
    StreamSpec,
    _matches,
    stream_for_subject,
)


@pytest.mark.parametrize(
    ("subject", "stream"),
    [
        (subjects.RITUAL_DUE, RITUALS),
        (subjects.PROMPT_SENT, PROMPTS),
        (subjects.PROMPT_FAILED, PROMPTS),
        (subjects.RESPONSE_RECEIVED, RESPONSES),
        (subjects.dead_letter_subject(subjects.RITUAL_DUE), DEAD_LETTERS),
    ],
)
def test_every_subject_is_captured_by_exactly_one_stream(subject: str, stream: StreamSpec) -> None:
    assert stream_for_subject(subject) is stream
    capturing = [s for s in ALL_STREAMS if any(_matches(p, subject) for p in s.subjects)]
    assert capturing == [stream]


@pytest.mark.parametrize(
    ("pattern", "subject", "expected"),
    [
        ("rituals.>", "rituals.due.v1", True),
        ("rituals.>", "rituals", False),
        ("rituals.*", "rituals.due", True),
        ("rituals.*", "rituals.due.v1", False),
        ("prompts.>", "rituals.due.v1", False),
    ],
)
def test_subject_matching_follows_nats_wildcards(
    pattern: str, subject: str, expected: bool
) -> None:
    assert _matches(pattern, subject) is expected


def test_unknown_subjects_are_refused() -> None:
    with pytest.raises(LookupError):
        stream_for_subject("something.else")


def test_every_stream_deduplicates_and_takes_its_replica_count() -> None:
    for spec in ALL_STREAMS:
        assert spec.duplicate_window_s >= 60, spec.name
        assert spec.config(replicas=3).num_replicas == 3


def test_event_streams_refuse_oversized_payloads_but_a_dead_letter_always_fits() -> None:
    for spec in ALL_STREAMS:
        limit = spec.config(replicas=1).max_msg_size
        if spec is DEAD_LETTERS:
            assert limit == -1  # the server's max_payload: any accepted event plus headers
        else:
            assert limit == MAX_EVENT_BYTES, spec.name
    assert MAX_EVENT_BYTES + 4096 < 1024 * 1024  # room for the dead-letter headers
