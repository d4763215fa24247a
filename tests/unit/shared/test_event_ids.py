"""The hand-computed event ids are exactly what the uuid module computes: ids already stored in
outboxes, streams and idempotency tables must not change with the implementation."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from shared.contracts.base import _EVENT_NAMESPACE, deterministic_event_id, keyed_event_id

parts = st.lists(
    st.one_of(
        st.text(max_size=40),
        st.integers(),
        st.datetimes(timezones=st.just(UTC)),
    ),
    max_size=5,
)


@given(event_type=st.text(max_size=20), parts=parts)
def test_deterministic_ids_are_uuid5_of_the_joined_parts(
    event_type: str, parts: list[object]
) -> None:
    name = "|".join(
        [
            event_type,
            *(
                part.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(part, datetime) else str(part)
                for part in parts
            ),
        ]
    )
    assert deterministic_event_id(event_type, *parts) == str(uuid.uuid5(_EVENT_NAMESPACE, name))


@given(secret=st.binary(min_size=16, max_size=64), event_type=st.text(max_size=20), parts=parts)
def test_keyed_ids_are_the_hmac_shaped_as_a_uuid(
    secret: bytes, event_type: str, parts: list[object]
) -> None:
    name = "|".join(
        [
            event_type,
            *(
                part.strftime("%Y-%m-%dT%H:%M:%SZ") if isinstance(part, datetime) else str(part)
                for part in parts
            ),
        ]
    )
    digest = hmac.new(secret, name.encode(), hashlib.sha256).digest()
    assert keyed_event_id(secret, event_type, *parts) == str(uuid.UUID(bytes=digest[:16]))


def test_a_known_id_stays_the_same() -> None:
    # Computed with uuid.uuid5 before the hand-written version replaced it.
    instant = datetime(2027, 1, 4, 9, 0, tzinfo=UTC)
    assert deterministic_event_id("ritual.due", "r1", "mbr_1", instant) == str(
        uuid.uuid5(_EVENT_NAMESPACE, "ritual.due|r1|mbr_1|2027-01-04T09:00:00Z")
    )
