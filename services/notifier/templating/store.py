"""Operators' templates, kept per (key, locale, channel) with a version that counts saves.

``SqlStoredTemplates`` uses the notifier's ``prompt_templates`` table; ``InMemoryStoredTemplates``
behaves the same for tests and the preview command. Neither validates: the renderer's
``validate`` is the gate (the API calls it before ``put``). Locales are stored in one spelling
(``es-MX``), whatever the caller wrote.
"""

from __future__ import annotations

import asyncio
import builtins
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.notifier.adapters.tables import prompt_templates
from services.notifier.domain.questionnaire import canonical_locale
from services.notifier.templating.sources import TemplateSource

# Lookups remembered at most (a bound, not a tuning knob: keys are few).
_CACHE_SIZE = 4096


@dataclass(frozen=True)
class StoredTemplate:
    key: str
    locale: str
    channel: str
    subject: str | None
    text_body: str
    html_body: str | None
    version: int
    """1 when first saved, +1 on every save; a delete starts again from 1."""
    updated_at: datetime

    @property
    def source(self) -> TemplateSource:
        return TemplateSource(self.subject, self.text_body, self.html_body)


class StoredTemplates(Protocol):
    async def get(self, key: str, locale: str, channel: str) -> StoredTemplate | None: ...

    async def put(
        self,
        key: str,
        locale: str,
        channel: str,
        *,
        subject: str | None,
        text_body: str,
        html_body: str | None,
        now: datetime,
    ) -> StoredTemplate:
        """Create or replace; returns the row with its new version."""
        ...

    async def delete(self, key: str, locale: str, channel: str) -> bool:
        """True when there was a stored template to delete."""
        ...

    async def list(self) -> builtins.list[StoredTemplate]:
        """Every stored template, ordered by key, locale, channel."""
        ...


class InMemoryStoredTemplates:
    def __init__(self) -> None:
        self._rows: dict[tuple[str, str, str], StoredTemplate] = {}

    async def get(self, key: str, locale: str, channel: str) -> StoredTemplate | None:
        return self._rows.get((key, canonical_locale(locale), channel))

    async def put(
        self,
        key: str,
        locale: str,
        channel: str,
        *,
        subject: str | None,
        text_body: str,
        html_body: str | None,
        now: datetime,
    ) -> StoredTemplate:
        where = (key, canonical_locale(locale), channel)
        previous = self._rows.get(where)
        row = StoredTemplate(
            *where,
            subject=subject,
            text_body=text_body,
            html_body=html_body,
            version=previous.version + 1 if previous else 1,
            updated_at=now,
        )
        self._rows[where] = row
        return row

    async def delete(self, key: str, locale: str, channel: str) -> bool:
        return self._rows.pop((key, canonical_locale(locale), channel), None) is not None

    async def list(self) -> builtins.list[StoredTemplate]:
        return [self._rows[where] for where in sorted(self._rows)]


def _row(row: Any) -> StoredTemplate:
    return StoredTemplate(
        key=row.key,
        locale=row.locale,
        channel=row.channel,
        subject=row.subject,
        text_body=row.text_body,
        html_body=row.html_body,
        version=row.version,
        updated_at=row.updated_at,
    )


class SqlStoredTemplates:
    """Operators' templates in the database. Lookups for sending are remembered for
    ``cache_ttl_s`` (found or not: most sends use the packaged defaults, so "none stored" is
    the usual answer): a query per prompt was a good part of a send's cost. A save or delete
    through this store is seen at once; one through another replica within ``cache_ttl_s``
    (a process-local freshness, measured on the monotonic clock, not the business clock).

    A batch renders hundreds of prompts at once: when the entry is stale they all wait for
    the one query already under way instead of each sending its own."""

    def __init__(
        self, sessions: async_sessionmaker[AsyncSession], cache_ttl_s: float = 5.0
    ) -> None:
        self._sessions = sessions
        self._ttl_s = cache_ttl_s
        self._cache: dict[tuple[str, str, str], tuple[float, StoredTemplate | None]] = {}
        self._lookups: dict[tuple[str, str, str], asyncio.Task[StoredTemplate | None]] = {}

    async def get(self, key: str, locale: str, channel: str) -> StoredTemplate | None:
        where = (key, canonical_locale(locale), channel)
        cached = self._cache.get(where)
        if cached is not None and time.monotonic() - cached[0] < self._ttl_s:
            return cached[1]
        lookup = self._lookups.get(where)
        if lookup is None:
            lookup = asyncio.create_task(self._get(key, locale, channel))
            self._lookups[where] = lookup
            lookup.add_done_callback(lambda done: self._remember(where, done))
        # Shielded: one caller's cancellation must not cancel the others' lookup.
        return await asyncio.shield(lookup)

    def _remember(
        self, where: tuple[str, str, str], lookup: asyncio.Task[StoredTemplate | None]
    ) -> None:
        if self._lookups.get(where) is not lookup:
            return  # forgotten (saved or deleted) while under way: its answer may be stale
        del self._lookups[where]
        if lookup.cancelled() or lookup.exception() is not None:
            return
        if len(self._cache) >= _CACHE_SIZE:
            self._cache.clear()  # bounded: keys come from operators' saves and the packages
        self._cache[where] = (time.monotonic(), lookup.result())

    def _forget(self, key: str, locale: str, channel: str) -> None:
        where = (key, canonical_locale(locale), channel)
        self._cache.pop(where, None)
        self._lookups.pop(where, None)

    async def _get(self, key: str, locale: str, channel: str) -> StoredTemplate | None:
        table = prompt_templates
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(table).where(
                        table.c.key == key,
                        table.c.locale == canonical_locale(locale),
                        table.c.channel == channel,
                    )
                )
            ).first()
        return _row(row) if row is not None else None

    async def put(
        self,
        key: str,
        locale: str,
        channel: str,
        *,
        subject: str | None,
        text_body: str,
        html_body: str | None,
        now: datetime,
    ) -> StoredTemplate:
        # One statement, so two operators saving at once get versions n+1 and n+2, never both
        # n+1 (and never a duplicate-key error on the first save).
        table = prompt_templates
        values = {
            "key": key,
            "locale": canonical_locale(locale),
            "channel": channel,
            "subject": subject,
            "text_body": text_body,
            "html_body": html_body,
            "version": 1,
            "updated_at": now,
        }
        changes = {
            "subject": subject,
            "text_body": text_body,
            "html_body": html_body,
            "version": table.c.version + 1,
            "updated_at": now,
        }
        async with self._sessions() as session, session.begin():
            dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
            insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
            statement = (
                insert(table)
                .values(**values)
                .on_conflict_do_update(
                    index_elements=[table.c.key, table.c.locale, table.c.channel], set_=changes
                )
                .returning(*table.c)
            )
            row = (await session.execute(statement)).one()
        self._forget(key, locale, channel)
        return _row(row)

    async def delete(self, key: str, locale: str, channel: str) -> bool:
        table = prompt_templates
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                delete(table).where(
                    table.c.key == key,
                    table.c.locale == canonical_locale(locale),
                    table.c.channel == channel,
                )
            )
        self._forget(key, locale, channel)
        return bool(getattr(result, "rowcount", 0))

    async def list(self) -> builtins.list[StoredTemplate]:
        table = prompt_templates
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(table).order_by(table.c.key, table.c.locale, table.c.channel)
                )
            ).all()
        return [_row(row) for row in rows]
