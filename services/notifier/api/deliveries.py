"""``GET /v1/deliveries``: the delivery log for operators (what was sent, how it went).

Filtered by member, ritual, status, channel and creation time; newest first, a page at a time
behind an opaque cursor (``shared.http.pagination``). Items carry pseudonymous ids, statuses,
attempts and failure codes: never an address, a phone number, the message or the stored event.
Nothing here is logged: a member id in a log line would outlive the member's erasure.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, model_validator

from services.notifier.adapters.deliveries import Deliveries, DeliveryFilter, Position
from services.notifier.api.dependencies import ApiContext, api_context
from services.notifier.domain.delivery import DeliveryStatus
from shared.contracts import Channel
from shared.http.errors import UNPROCESSABLE
from shared.http.pagination import (
    InvalidCursor,
    cursor_problem,
    decode_cursor,
    encode_cursor,
    next_page_link,
)
from shared.http.problems import ProblemDetail

router = APIRouter(prefix="/v1/deliveries", tags=["deliveries"])
Context = Annotated[ApiContext, Depends(api_context)]
DEFAULT_LIMIT = 50
MAX_LIMIT = 500
MAX_ID_LENGTH = 64  # the longest id the table holds (member, community, ritual)

_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$"
)
_PLUS_DECODED_AS_SPACE = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)? \d{2}:\d{2}$")


def _rfc3339(value: object) -> object:
    """An instant with its offset (RFC 3339); a naive time is refused, not guessed at."""
    if not isinstance(value, str):
        return value
    if _PLUS_DECODED_AS_SPACE.match(value):
        raise ValueError("a '+' in a query string is read as a space: send the offset as %2B")
    if not _RFC3339.match(value):
        # Described, not exemplified: an example could share digits with the value sent, and
        # the problem handlers drop a message that seems to repeat the value.
        raise ValueError(
            "expected an RFC 3339 instant with a UTC offset: YYYY-MM-DDThh:mm:ss[.fff] then Z "
            "or ±hh:mm"
        )
    # Beyond microseconds, digits are cut (not rounded); lower-case t and z are RFC 3339 too.
    return datetime.fromisoformat(value.upper())


Instant = Annotated[datetime, BeforeValidator(_rfc3339)]


class DeliveryQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    member_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    ritual_id: str | None = Field(default=None, min_length=1, max_length=MAX_ID_LENGTH)
    status: DeliveryStatus | None = None
    channel: Channel | None = None
    since: Instant | None = Field(
        default=None, description="Created at or after this instant (RFC 3339, with offset)."
    )
    until: Instant | None = Field(
        default=None, description="Created before this instant (RFC 3339, with offset)."
    )
    limit: int = Field(default=DEFAULT_LIMIT, ge=1, le=MAX_LIMIT)
    cursor: str | None = Field(
        default=None, description="next_cursor of the previous page, with the same filters."
    )

    @model_validator(mode="after")
    def _window_is_not_empty(self) -> DeliveryQuery:
        if self.since is not None and self.until is not None and self.since >= self.until:
            raise ValueError("since must be before until")
        return self

    def log_filter(self) -> DeliveryFilter:
        return DeliveryFilter(
            member_id=self.member_id,
            ritual_id=self.ritual_id,
            status=self.status,
            channel=self.channel.value if self.channel else None,
            since=self.since,
            until=self.until,
        )

    def filters_for_cursor(self) -> dict[str, str | None]:
        """The filters a cursor is bound to, normalised (the same instant however written)."""
        return {
            "member_id": self.member_id,
            "ritual_id": self.ritual_id,
            "status": self.status.value if self.status else None,
            "channel": self.channel.value if self.channel else None,
            "since": self.since.astimezone(UTC).isoformat() if self.since else None,
            "until": self.until.astimezone(UTC).isoformat() if self.until else None,
        }


class DeliveryOut(BaseModel):
    id: str
    member_id: str
    community_id: str
    ritual_id: str
    ritual_kind: str
    channel: str
    status: str
    attempts: int
    failure_reason: str | None = Field(description="A code (no_contact, bounced…), never text.")
    provider_status: int | None = Field(description="The SMS provider's error code, if any.")
    provider_state: str | None = Field(description="The latest state the provider reported.")
    created_at: datetime
    not_before: datetime | None = Field(description="Queued: not sent before this instant.")
    sent_at: datetime | None
    delivered_at: datetime | None
    nudge_number: int = Field(description="0 for the prompt, n for its n-th nudge.")


class DeliveryPageOut(BaseModel):
    items: list[DeliveryOut]
    next_cursor: str | None = Field(
        description="Pass as cursor (with the same filters) for the next page; null: no more."
    )


def _position(cursor: str, query: DeliveryQuery) -> Position:
    created_at, delivery_id = decode_cursor(cursor, query.filters_for_cursor(), key_length=2)
    if not isinstance(created_at, str) or not isinstance(delivery_id, str):
        raise InvalidCursor("the cursor was not issued by this endpoint (or was altered)")
    try:
        instant = datetime.fromisoformat(created_at)
    except ValueError:
        raise InvalidCursor("the cursor was not issued by this endpoint (or was altered)") from None
    if instant.tzinfo is None or not 0 < len(delivery_id) <= MAX_ID_LENGTH:
        raise InvalidCursor("the cursor was not issued by this endpoint (or was altered)")
    return Position(instant, delivery_id)


@router.get(
    "",
    response_model=DeliveryPageOut,
    summary="The delivery log, newest first",
    responses={
        400: {"model": ProblemDetail, "description": "The cursor is not valid."},
        **UNPROCESSABLE,
    },
)
async def list_deliveries(
    query: Annotated[DeliveryQuery, Query()],
    context: Context,
    request: Request,
    response: Response,
) -> DeliveryPageOut:
    """Deliveries (one per prompt or nudge and channel) with their attempts and failure codes.
    When there are more, ``next_cursor`` is set and a ``Link: <…>; rel="next"`` header points
    at the next page."""
    try:
        after = _position(query.cursor, query) if query.cursor is not None else None
    except InvalidCursor as error:
        raise cursor_problem(error) from None
    async with context.answers.sessions() as session:
        page = await Deliveries(session).log_page(query.log_filter(), query.limit, after)
    next_cursor = None
    if page.next_position is not None:
        position = page.next_position
        next_cursor = encode_cursor(
            [position.created_at.astimezone(UTC).isoformat(), position.delivery_id],
            query.filters_for_cursor(),
        )
        response.headers["Link"] = next_page_link(request.url, next_cursor)
    response.headers["Cache-Control"] = "no-store"
    return DeliveryPageOut(
        items=[DeliveryOut.model_validate(row) for row in page.rows], next_cursor=next_cursor
    )
