"""The envelope every event shares, and the identifier types that keep personal data out.

Identifier fields are constrained so that a phone number or an e-mail address cannot pass for
one: a producer bug that puts contact data into an id fails validation instead of leaking.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime
from typing import Annotated, ClassVar

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints

# A namespace of our own, so that deterministic ids never collide with other uuid5 users.
_EVENT_NAMESPACE = uuid.UUID("6f1c1f0e-3d0a-5b7e-9a53-6c1d2b4e8f10")
_NAMESPACE_BYTES = _EVENT_NAMESPACE.bytes


def deterministic_event_id(event_type: str, *parts: object) -> str:
    """The same inputs always give the same id: redeliveries and replays dedupe on it.

    Anyone who knows the parts can compute it (the namespace is public): use it only for
    events whose parts are no secret to their readers. Ids of anything that crosses to insights
    are ``keyed_event_id``.
    """
    name = "|".join([event_type, *(_canonical(part) for part in parts)])
    # uuid.uuid5 computed by hand: the same UUID (SHA-1 of namespace and name, version 5,
    # RFC 4122 variant), without building a UUID object; a burst of 100,000 due events spent
    # a fifth of its tick in uuid5 (tests/unit/shared/test_event_ids.py checks they agree).
    digest = bytearray(
        hashlib.sha1(_NAMESPACE_BYTES + name.encode(), usedforsecurity=False).digest()[:16]
    )
    digest[6] = (digest[6] & 0x0F) | 0x50
    digest[8] = (digest[8] & 0x3F) | 0x80
    return _uuid_text(digest)


def keyed_event_id(secret: bytes, event_type: str, *parts: object) -> str:
    """A deterministic id that only the holder of ``secret`` can compute from its parts.

    HMAC-SHA256 of the parts, shaped as a UUID: the same inputs give the same id (dedup,
    idempotent consumers), and without the secret an id can neither be derived from the ids
    of the events it came from nor tested against a guess.
    """
    if len(secret) < 16:
        raise ValueError("the key of keyed event ids must be at least 16 bytes")
    name = "|".join([event_type, *(_canonical(part) for part in parts)])
    digest = hmac.new(secret, name.encode(), hashlib.sha256).digest()
    return _uuid_text(digest[:16])


def _uuid_text(sixteen: bytes | bytearray) -> str:
    """``str(uuid.UUID(bytes=sixteen))``, without the UUID object."""
    h = sixteen.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


def _canonical(part: object) -> str:
    if isinstance(part, datetime):
        return utc_iso(part)
    return str(part)


def utc_iso(instant: datetime) -> str:
    """An aware instant as RFC 3339 UTC with a Z suffix (``2027-03-14T13:00:00Z``)."""
    if instant.tzinfo is None:
        raise ValueError("naive datetimes are ambiguous; pass an aware instant")
    return instant.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _must_be_aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamps must carry a UTC offset")
    return value.astimezone(UTC)


UtcDatetime = Annotated[datetime, AfterValidator(_must_be_aware_utc)]

# Ids are opaque tokens: letters, digits, '_' and '-'. No '@', '+', spaces or dots, so an
# e-mail address or an E.164 number can never be mistaken for one.
MemberId = Annotated[str, StringConstraints(pattern=r"^mbr_[A-Za-z0-9]{12,40}$")]
RespondentKey = Annotated[str, StringConstraints(pattern=r"^rk_[A-Za-z0-9]{16,64}$")]
CommunityId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")]
RitualId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9_-]{1,63}$")]
EventId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{36}$")]
# A local wall-clock time of day, "18:00": a ritual's time slot.
TimeOfDay = Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")]


class Event(BaseModel):
    """Base of every event. ``event_id`` is deterministic and doubles as ``Nats-Msg-Id``."""

    model_config = ConfigDict(frozen=True, extra="ignore", str_strip_whitespace=True)

    subject: ClassVar[str]

    event_id: EventId
    occurred_at: UtcDatetime
