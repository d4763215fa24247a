"""Keyset pagination for any service's list endpoint: an opaque cursor and the ``Link`` header.

Every list answers the same shape, :class:`Page` (``items`` and ``next_cursor``), takes
``limit`` (1 to ``MAX_LIMIT``, default ``DEFAULT_LIMIT``) and ``cursor``, and sets
``Link: <…>; rel="next"`` when there is more. :func:`keyset_page` does all of it for a
SQLAlchemy query and a :class:`SortKey`; :func:`list_page` for a list already in memory.

A page ends at some row; the cursor names that row's sort key (say its ``created_at`` and
``id``), so the next page starts strictly after it whatever was inserted meanwhile: no row is
listed twice or skipped, as ``OFFSET`` would do while rows arrive. The cursor is URL-safe
base64 of a small JSON document holding that key and a digest of the filters it was issued for:
a cursor replayed with other filters is refused rather than silently giving an odd page.

A cursor is opaque, not secret: it carries a position, never a right. Decoding checks its shape
and raises :class:`InvalidCursor` with a sentence a client can act on (which
:func:`cursor_problem` turns into a 400); what each key part means (an instant, an id) is the
caller's to check.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from fastapi import Depends, HTTPException, Query, Request, Response, status
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, Select, TypeDecorator, and_, or_
from sqlalchemy.ext.asyncio import AsyncSession
from starlette.datastructures import URL

CURSOR_PARAMETER = "cursor"
MAX_CURSOR_LENGTH = 512  # a key of a few short values: anything longer was not issued by us
_VERSION = 1
_URLSAFE_BASE64 = re.compile(r"^[A-Za-z0-9_-]+$")

KeyPart = str | int


class InvalidCursor(ValueError):
    """The cursor was not issued by this endpoint for these filters (or was altered)."""


def _filters_digest(filters: Mapping[str, str | None]) -> str:
    # Only the filters that were given; sorted, so the order of query parameters is irrelevant.
    given = {name: value for name, value in filters.items() if value is not None}
    canonical = json.dumps(given, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def encode_cursor(after: Sequence[KeyPart], filters: Mapping[str, str | None]) -> str:
    """The cursor of the page that starts after the row whose sort key is ``after``."""
    document = {"v": _VERSION, "after": list(after), "filters": _filters_digest(filters)}
    raw = json.dumps(document, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_cursor(cursor: str, filters: Mapping[str, str | None], key_length: int) -> list[KeyPart]:
    """The sort key a cursor holds, after checking it is one of ours, for these ``filters``."""
    if len(cursor) > MAX_CURSOR_LENGTH or not _URLSAFE_BASE64.match(cursor):
        raise InvalidCursor("the cursor is malformed: pass next_cursor exactly as it was given")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        document = json.loads(raw)
    except (binascii.Error, ValueError):
        raise InvalidCursor(
            "the cursor is malformed: pass next_cursor exactly as it was given"
        ) from None
    if (
        not isinstance(document, dict)
        or set(document) != {"v", "after", "filters"}
        or document["v"] != _VERSION
        or not isinstance(document["after"], list)
        or len(document["after"]) != key_length
        or not all(
            isinstance(part, str | int) and not isinstance(part, bool) for part in document["after"]
        )
    ):
        raise InvalidCursor("the cursor was not issued by this endpoint (or was altered)")
    if document["filters"] != _filters_digest(filters):
        raise InvalidCursor(
            "the cursor belongs to a query with other filters: repeat that query's filters, "
            "or start again without a cursor"
        )
    return list(document["after"])


def cursor_problem(error: InvalidCursor) -> HTTPException:
    """A 400 (as application/problem+json, by the shared handlers) that says what is wrong."""
    return HTTPException(status.HTTP_400_BAD_REQUEST, f"{CURSOR_PARAMETER}: {error}")


def next_page_link(url: URL, cursor: str) -> str:
    """A ``Link`` header value pointing at the next page: this request's path and query, with
    ``cursor`` set. Relative (RFC 8288 resolves it against the request), so it stays right
    behind a proxy that rewrites the host."""
    following = url.include_query_params(**{CURSOR_PARAMETER: cursor})
    return f'<{following.path}?{following.query}>; rel="next"'


# --- one shape for every list --------------------------------------------------------------------

DEFAULT_LIMIT = 50
MAX_LIMIT = 500
T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """A page of a list, in a stable order."""

    items: list[T]
    next_cursor: str | None = Field(
        description="Pass as cursor (with the same filters) for the next page; null: no more."
    )


@dataclass(frozen=True)
class PageParams:
    limit: int
    cursor: str | None


def page_params(
    limit: Annotated[
        int, Query(ge=1, le=MAX_LIMIT, description=f"Items per page (1 to {MAX_LIMIT}).")
    ] = DEFAULT_LIMIT,
    cursor: Annotated[
        str | None,
        Query(description="next_cursor of the previous page, with the same filters."),
    ] = None,
) -> PageParams:
    return PageParams(limit, cursor)


PageQuery = Annotated[PageParams, Depends(page_params)]
KeyValue = str | int | datetime


@dataclass(frozen=True)
class SortKey:
    """The order of a list: columns whose values together name one row (end with a unique
    one), all ascending or all descending."""

    columns: tuple[Any, ...]
    descending: bool = False

    def order_by(self) -> list[Any]:
        return [column.desc() if self.descending else column.asc() for column in self.columns]

    def after(self, values: Sequence[KeyValue]) -> ColumnElement[bool]:
        """Rows strictly after ``values`` in this order. Spelled out rather than a row-value
        comparison, which binds its parameters without the columns' types (UTC on SQLite)."""
        alternatives = []
        for depth, (column, value) in enumerate(zip(self.columns, values, strict=True)):
            equal_before = [self.columns[i] == values[i] for i in range(depth)]
            beyond = column < value if self.descending else column > value
            alternatives.append(and_(*equal_before, beyond))
        return or_(*alternatives)

    def kinds(self) -> tuple[type, ...]:
        """The Python type of each column's values (a decorated type's, e.g. UtcDateTime)."""
        return tuple(_python_type(column.type) for column in self.columns)


def _python_type(column_type: Any) -> type:
    if isinstance(column_type, TypeDecorator):
        column_type = column_type.impl_instance
    kind: type = column_type.python_type
    if kind not in (str, int, datetime):
        raise TypeError(f"a sort key column holds str, int or datetime, not {kind}")
    return kind


_ALTERED = "the cursor was not issued by this endpoint (or was altered)"


def _to_part(value: KeyValue) -> KeyPart:
    if isinstance(value, datetime):
        return value.astimezone(UTC).isoformat()
    return value


def _from_part(part: KeyPart, kind: type) -> KeyValue:
    if kind is datetime:
        if not isinstance(part, str):
            raise InvalidCursor(_ALTERED)
        try:
            instant = datetime.fromisoformat(part)
        except ValueError:
            raise InvalidCursor(_ALTERED) from None
        if instant.tzinfo is None:
            raise InvalidCursor(_ALTERED)
        return instant
    if not isinstance(part, kind):
        raise InvalidCursor(_ALTERED)
    return part


def read_cursor(
    cursor: str | None, kinds: Sequence[type], filters: Mapping[str, str | None]
) -> list[KeyValue] | None:
    """The sort key a cursor names, typed as ``kinds``; a 400 problem if it is not ours."""
    if cursor is None:
        return None
    try:
        parts = decode_cursor(cursor, filters, key_length=len(kinds))
        return [_from_part(part, kind) for part, kind in zip(parts, kinds, strict=True)]
    except InvalidCursor as error:
        raise cursor_problem(error) from None


def next_cursor(
    last: Sequence[KeyValue] | None,
    filters: Mapping[str, str | None],
    request: Request,
    response: Response,
) -> str | None:
    """The cursor of the page after the row whose sort key is ``last`` (None when there is no
    next page), also set as the response's ``Link: <…>; rel="next"``."""
    if last is None:
        return None
    cursor = encode_cursor([_to_part(value) for value in last], filters)
    response.headers["Link"] = next_page_link(request.url, cursor)
    return cursor


async def keyset_fetch(
    session: AsyncSession,
    query: Select[Any],
    key: SortKey,
    after: Sequence[KeyValue] | None,
    limit: int,
) -> tuple[list[Any], list[KeyValue] | None]:
    """Up to ``limit`` rows of ``query`` in ``key``'s order, strictly after ``after``, and the
    sort key of the last one when more follow (None: this is the last page). ``query`` must
    select ``key``'s columns. For repositories, which own their tables' queries."""
    if after is not None:
        query = query.where(key.after(after))
    # One more than asked: whether a next page exists, without a count.
    query = query.order_by(*key.order_by()).limit(limit + 1)
    rows = list((await session.execute(query)).all())
    if len(rows) <= limit:
        return rows, None
    last = rows[limit - 1]._mapping
    return rows[:limit], [last[column] for column in key.columns]


async def keyset_rows(
    session: AsyncSession,
    query: Select[Any],
    key: SortKey,
    params: PageParams,
    filters: Mapping[str, str | None],
) -> tuple[list[Any], list[KeyValue] | None]:
    """``keyset_fetch`` after the position the request's cursor names (a 400 if it is not
    one of ours, for these ``filters``)."""
    after = read_cursor(params.cursor, key.kinds(), filters)
    return await keyset_fetch(session, query, key, after, params.limit)


def list_page(
    items: Sequence[T],
    key_of: Callable[[T], tuple[KeyValue, ...]],
    kinds: Sequence[type],
    params: PageParams,
    filters: Mapping[str, str | None],
) -> tuple[list[T], list[KeyValue] | None]:
    """The same for a short list already in memory, ordered by ``key_of`` (unique)."""
    after = read_cursor(params.cursor, kinds, filters)
    ordered = sorted(items, key=key_of)
    if after is not None:
        ordered = [item for item in ordered if key_of(item) > tuple(after)]
    if len(ordered) <= params.limit:
        return ordered, None
    return ordered[: params.limit], list(key_of(ordered[params.limit - 1]))
