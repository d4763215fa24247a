"""``GET /v1/members``: list and find members by community, channel, consent and creation time.

A member is found by what the notifier knows about them, never by a contact value: the query
takes no e-mail address or phone number (an unknown parameter is refused, so ``?email=…`` is
a 422, not a filter silently ignored), because a query string ends up in proxies' and
browsers' logs. Answers carry the members' contact points, as ``GET /v1/members/{id}`` does;
nothing here is logged.

"In a community" means the notifier has prompted the member for it (a delivery names the
community): enrolments themselves live in the scheduler, which never holds contact data.
"""

from __future__ import annotations

from datetime import UTC
from typing import Annotated

from fastapi import APIRouter, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator

from services.notifier.adapters.contacts import (
    NEWEST_MEMBERS_FIRST,
    ConsentKind,
    Contacts,
    MemberSearch,
)
from services.notifier.api.deliveries import Instant
from services.notifier.api.members import Context, MemberOut, member_out
from shared.contracts import Channel
from shared.contracts.base import CommunityId
from shared.http.pagination import DEFAULT_LIMIT, MAX_LIMIT, Page, next_cursor, read_cursor

router = APIRouter(prefix="/v1/members", tags=["members"])


class MemberQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    community_id: CommunityId | None = Field(
        default=None, description="Members the notifier has prompted for this community."
    )
    channel: Channel | None = Field(default=None, description="Preferred channel.")
    consent_given: ConsentKind | None = Field(
        default=None, description="Members who gave this consent (and have not withdrawn it)."
    )
    consent_withheld: ConsentKind | None = Field(
        default=None, description="Members who did not give, or withdrew, this consent."
    )
    opted_out_of: Channel | None = Field(
        default=None, description="Members who opted out of this channel (STOP, unsubscribe)."
    )
    created_since: Instant | None = Field(
        default=None, description="Registered at or after this instant (RFC 3339, offset)."
    )
    created_until: Instant | None = Field(
        default=None, description="Registered before this instant (RFC 3339, with offset)."
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(
        default=None, description="next_cursor of the previous page, with the same filters."
    )

    @model_validator(mode="after")
    def _coherent(self) -> MemberQuery:
        if (
            self.created_since is not None
            and self.created_until is not None
            and self.created_since >= self.created_until
        ):
            raise ValueError("created_since must be before created_until")
        if self.consent_given is not None and self.consent_given == self.consent_withheld:
            raise ValueError("a consent cannot be both given and withheld")
        return self

    def search(self) -> MemberSearch:
        return MemberSearch(
            community_id=self.community_id,
            channel=self.channel.value if self.channel else None,
            consent_given=self.consent_given,
            consent_withheld=self.consent_withheld,
            opted_out_of=self.opted_out_of.value if self.opted_out_of else None,
            created_since=self.created_since,
            created_until=self.created_until,
        )

    def filters_for_cursor(self) -> dict[str, str | None]:
        """The filters a cursor is bound to, normalised (the same instant however written)."""
        return {
            "community_id": self.community_id,
            "channel": self.channel.value if self.channel else None,
            "consent_given": self.consent_given,
            "consent_withheld": self.consent_withheld,
            "opted_out_of": self.opted_out_of.value if self.opted_out_of else None,
            "created_since": (
                self.created_since.astimezone(UTC).isoformat() if self.created_since else None
            ),
            "created_until": (
                self.created_until.astimezone(UTC).isoformat() if self.created_until else None
            ),
        }


@router.get("", response_model=Page[MemberOut], summary="Members, newest first, by filters")
async def list_members(
    query: Annotated[MemberQuery, Query()],
    context: Context,
    request: Request,
    response: Response,
) -> Page[MemberOut]:
    """Members matching every filter given, newest first, with their contact points (this is
    the notifier). There is deliberately no filter by e-mail or phone."""
    filters = query.filters_for_cursor()
    after = read_cursor(query.cursor, NEWEST_MEMBERS_FIRST.kinds(), filters)
    async with context.answers.sessions() as session:
        records, last = await Contacts(session, default_quiet_hours=None).search(
            query.search(), after, query.limit
        )
    return Page[MemberOut](
        items=[member_out(record) for record in records],
        next_cursor=next_cursor(last, filters, request, response),
    )
