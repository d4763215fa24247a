"""JetStream stream definitions and an idempotent declaration of them.

JetStream carries events; each service's database is the record. Every stream has a
``duplicate_window`` so that a republished ``Nats-Msg-Id`` is dropped by the server: the second
line of defence behind idempotent consumers.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from nats.js import JetStreamContext
from nats.js.api import RetentionPolicy, StorageType, StreamConfig
from nats.js.errors import BadRequestError

from shared import subjects

DAY = 24 * 3600.0
FOREVER = 0.0  # JetStream's max_age 0: no age limit
# Our events are a few hundred bytes. A stream refuses anything bigger than this at publish (the
# publisher gets an error, nothing is stored), and what it does accept still fits in a dead
# letter with its headers under the server's 1 MiB max_payload.
MAX_EVENT_BYTES = 64 * 1024


@dataclass(frozen=True)
class StreamSpec:
    name: str
    subjects: tuple[str, ...]
    duplicate_window_s: float
    max_age_s: float
    retention: RetentionPolicy = RetentionPolicy.LIMITS
    storage: StorageType = StorageType.FILE
    max_msg_bytes: int = MAX_EVENT_BYTES

    def config(self, replicas: int) -> StreamConfig:
        return StreamConfig(
            name=self.name,
            subjects=list(self.subjects),
            retention=self.retention,
            storage=self.storage,
            duplicate_window=self.duplicate_window_s,
            max_age=self.max_age_s,
            max_msg_size=self.max_msg_bytes,
            num_replicas=replicas,
        )


# Limits retention: several services read the same events (the notifier and, later, the
# scheduler's nudges both read prompts), each through its own durable consumer.
RITUALS = StreamSpec("RITUALS", ("rituals.>",), duplicate_window_s=3600, max_age_s=14 * DAY)
PROMPTS = StreamSpec("PROMPTS", ("prompts.>",), duplicate_window_s=3600, max_age_s=14 * DAY)
# Anonymised facts: 90 days, so a rebuild by replay restores the current period and the three
# before it (older facts live in insights' database and its backups).
RESPONSES = StreamSpec("RESPONSES", ("responses.>",), duplicate_window_s=3600, max_age_s=90 * DAY)
# Erasures never expire: a consumer rebuilt from a replay, or a database restored from a backup,
# applies every erasure again before it serves. They carry pseudonyms only (a member id, or the
# respondent keys of insights), never anything the person said.
ERASURES = StreamSpec("ERASURES", ("erasures.>",), duplicate_window_s=3600, max_age_s=FOREVER)
# The communities' public facts, kept for good: insights rebuilt from a replay still knows every
# area it ever released.
COMMUNITIES = StreamSpec(
    "COMMUNITIES", ("communities.>",), duplicate_window_s=3600, max_age_s=FOREVER
)
DEAD_LETTERS = StreamSpec(
    "DEADLETTERS",
    (f"{subjects.DEAD_LETTER_PREFIX}.>",),
    duplicate_window_s=3600,
    max_age_s=30 * DAY,
    max_msg_bytes=-1,  # the server's max_payload: an event plus the dead-letter headers fits
)

ALL_STREAMS: tuple[StreamSpec, ...] = (
    RITUALS,
    PROMPTS,
    RESPONSES,
    ERASURES,
    COMMUNITIES,
    DEAD_LETTERS,
)


@functools.lru_cache(maxsize=1024)  # subjects are a short fixed list; asked per publish
def stream_for_subject(subject: str) -> StreamSpec:
    for spec in ALL_STREAMS:
        for pattern in spec.subjects:
            if _matches(pattern, subject):
                return spec
    raise LookupError(f"no stream captures subject {subject!r}")


def _matches(pattern: str, subject: str) -> bool:
    pattern_tokens = pattern.split(".")
    subject_tokens = subject.split(".")
    for index, piece in enumerate(pattern_tokens):
        if piece == ">":
            return len(subject_tokens) > index
        if index >= len(subject_tokens):
            return False
        if piece not in ("*", subject_tokens[index]):
            return False
    return len(pattern_tokens) == len(subject_tokens)


async def ensure_streams(
    js: JetStreamContext, replicas: int = 1, specs: tuple[StreamSpec, ...] = ALL_STREAMS
) -> None:
    """Create each stream, or bring an existing one to this configuration. Safe to repeat."""
    for spec in specs:
        config = spec.config(replicas)
        try:
            # Adding an identical stream is a no-op on the server; replicas race here safely.
            await js.add_stream(config)
        except BadRequestError:
            # It exists with another configuration (an older release of ours): converge.
            await js.update_stream(config)
