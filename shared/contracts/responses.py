"""What crosses to insights: anonymised facts, never linkable to a member without the notifier.

Nothing here carries a member id, a ritual, a delivery or an exact time. ``respondent_key`` is a
keyed pseudonym for one person in one ISO week (``rk_week``): insights can tell the answers of
one person *within* a week apart from another's (distinct counts, multi-item scores), but not
follow anyone from week to week, so the pattern of weeks in which someone answered (which the
identity side sees) cannot be matched against insights' data. Event ids are keyed with a
notifier-only secret. The notifier publishes these in one batch per community and week, after
the week closes, never next to the identity events they came from.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from pydantic import Field

from shared import subjects
from shared.contracts.base import CommunityId, Event, RespondentKey

ISO_WEEK_PATTERN = r"^\d{4}-W(0[1-9]|[1-4]\d|5[0-3])$"
PERIOD_PATTERN = r"^\d{4}-P(0[1-9]|1[0-4])$"


class ResponseReceivedV2(Event):
    """One structured answer of a consenting member, for insights. The latest answer of the week
    to an item counts (one event per respondent key, community and item)."""

    subject: ClassVar[str] = subjects.RESPONSE_RECEIVED

    type: Literal["response.received"] = "response.received"
    version: Literal[2] = 2
    respondent_key: RespondentKey
    community_id: CommunityId
    iso_week: str = Field(pattern=ISO_WEEK_PATTERN, description="Week of the occurrence.")
    item: str = Field(pattern=r"^[a-z0-9_]{1,64}$", description="Question item key.")
    value: int = Field(ge=0, le=100)


class SignpostingSentV2(Event):
    """A consenting member was sent professional-support and crisis resources this week: which
    community and week, and the week's pseudonym (so one person counts once and an erasure
    reaches it); never what they wrote."""

    subject: ClassVar[str] = subjects.SIGNPOSTING_SENT

    type: Literal["signposting.sent"] = "signposting.sent"
    version: Literal[2] = 2
    respondent_key: RespondentKey
    community_id: CommunityId
    iso_week: str = Field(pattern=ISO_WEEK_PATTERN)


class PromptedV1(Event):
    """A consenting member was sent at least one prompt in this community this week: the
    denominator of participation. Under the same weekly key as their answers."""

    subject: ClassVar[str] = subjects.PROMPTED

    type: Literal["prompted"] = "prompted"
    version: Literal[1] = 1
    respondent_key: RespondentKey
    community_id: CommunityId
    iso_week: str = Field(pattern=ISO_WEEK_PATTERN)


class PeriodSummaryV1(Event):
    """One consenting member's 4-week period in one community, under a key for that period
    alone: what the period indicators need of a person who answered in several weeks (their
    latest anchor answer; whether they answered at all; whether they were sent support), and
    nothing that says which weeks."""

    subject: ClassVar[str] = subjects.PERIOD_SUMMARY

    type: Literal["period.summary"] = "period.summary"
    version: Literal[1] = 1
    respondent_key: RespondentKey
    community_id: CommunityId
    period: str = Field(pattern=PERIOD_PATTERN, description="2027-P01: ISO weeks 1-4 of 2027.")
    anchor_value: int | None = Field(
        default=None, ge=0, le=100, description="Their latest answer to the weekly anchor item."
    )
    answered: bool = Field(description="They answered at least one prompt in the period.")
    signposted: bool = Field(description="They were sent support resources in the period.")


class WeekClosedV1(Event):
    """Every fact of this week (and of its period, when the week ends one) has been published:
    insights may release it. Published after those facts were acknowledged by the stream."""

    subject: ClassVar[str] = subjects.WEEK_CLOSED

    type: Literal["week.closed"] = "week.closed"
    version: Literal[1] = 1
    iso_week: str = Field(pattern=ISO_WEEK_PATTERN)
    period_closed: str | None = Field(default=None, pattern=PERIOD_PATTERN)


MAX_KEYS_PER_ERASURE = 1000


class RespondentsErasedV2(Event):
    """A member was erased: insights deletes, and keeps tombstones of, every pseudonym they had.

    Published apart from MemberErasedV1 (in the next daily batch, not with it), so that no event
    and no timing joins a member id to these keys.
    """

    subject: ClassVar[str] = subjects.RESPONDENTS_ERASED

    type: Literal["respondents.erased"] = "respondents.erased"
    version: Literal[2] = 2
    respondent_keys: list[RespondentKey] = Field(min_length=1, max_length=MAX_KEYS_PER_ERASURE)
