from __future__ import annotations

from typing import ClassVar, Literal

from shared import subjects
from shared.contracts.base import Event, MemberId


class MemberErasedV1(Event):
    """A member's contact data was erased in the notifier; other services drop what they hold
    under this pseudonymous id (enrolments, timers).

    Kept for good on the ERASURES stream, so that a service restored from a backup can apply
    every erasure again before it serves.
    """

    subject: ClassVar[str] = subjects.MEMBER_ERASED

    type: Literal["member.erased"] = "member.erased"
    version: Literal[1] = 1
    member_id: MemberId
