"""A member's contact points and preferences, and which channel a prompt may use now."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import time
from typing import Any

from sqlalchemy import Row

from services.notifier.domain.quiet_hours import QuietHours
from shared.contracts import Channel, FailureReason


def parse_quiet_hours(text: str | None) -> QuietHours | None:
    """``"22:00-08:00"`` -> QuietHours; empty or None -> None."""
    if not text:
        return None
    start, end = text.split("-")
    return QuietHours(time.fromisoformat(start), time.fromisoformat(end))


@dataclass(frozen=True)
class Contact:
    member_id: str
    email: str | None
    phone: str | None
    locale: str
    preferred_channel: Channel
    fallback_channel: Channel | None
    quiet_hours: QuietHours | None
    prompt_consent: bool
    insights_consent: bool
    sms_opted_out: bool
    email_opted_out: bool

    @classmethod
    def from_row(cls, row: Row[Any], default_quiet_hours: QuietHours | None) -> Contact:
        explicit = row.quiet_start is not None and row.quiet_end is not None
        return cls(
            member_id=row.member_id,
            email=row.email,
            phone=row.phone,
            locale=row.locale,
            preferred_channel=Channel(row.preferred_channel),
            fallback_channel=Channel(row.fallback_channel) if row.fallback_channel else None,
            quiet_hours=(
                parse_quiet_hours(f"{row.quiet_start}-{row.quiet_end}")
                if explicit
                else default_quiet_hours
            ),
            prompt_consent=row.prompt_consent,
            insights_consent=row.insights_consent,
            sms_opted_out=row.sms_opted_out_at is not None,
            email_opted_out=row.email_opted_out_at is not None,
        )

    def address(self, channel: Channel) -> str | None:
        return self.email if channel is Channel.email else self.phone

    def refusal(self, channel: Channel) -> FailureReason | None:
        """Why a prompt may not go to this member on ``channel`` now; None if it may."""
        if not self.prompt_consent:
            return FailureReason.no_consent
        if self.address(channel) is None:
            return FailureReason.no_contact
        opted_out = self.sms_opted_out if channel is Channel.sms else self.email_opted_out
        return FailureReason.opted_out if opted_out else None

    def channels(self) -> list[Channel]:
        """Preferred first, then the fallback."""
        ordered = [self.preferred_channel]
        if self.fallback_channel and self.fallback_channel is not self.preferred_channel:
            ordered.append(self.fallback_channel)
        return ordered

    def first_usable(self, after: Channel | None = None) -> tuple[Channel | None, FailureReason]:
        """The first channel (after ``after``, if given) that may be used, else the reason the
        first candidate may not."""
        candidates = self.channels()
        if after is not None:
            candidates = candidates[candidates.index(after) + 1 :] if after in candidates else []
        first_reason = FailureReason.no_contact
        for position, channel in enumerate(candidates):
            reason = self.refusal(channel)
            if reason is None:
                return channel, first_reason
            if position == 0:
                first_reason = reason
        return None, first_reason
