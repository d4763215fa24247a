"""Members' contact points and preferences, read for sending (``contacts`` table)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import contacts
from services.notifier.domain.contact import Contact
from services.notifier.domain.quiet_hours import QuietHours

_CHUNK = 500


class Contacts:
    def __init__(self, session: AsyncSession, default_quiet_hours: QuietHours | None) -> None:
        self._session = session
        self._default_quiet_hours = default_quiet_hours

    async def get(self, member_id: str) -> Contact | None:
        return (await self.get_many([member_id])).get(member_id)

    async def get_many(self, member_ids: Collection[str]) -> dict[str, Contact]:
        """member id -> contact, for those that have one (an erased member has none)."""
        wanted = sorted(set(member_ids))
        found: dict[str, Contact] = {}
        for start in range(0, len(wanted), _CHUNK):
            rows = await self._session.execute(
                select(contacts).where(contacts.c.member_id.in_(wanted[start : start + _CHUNK]))
            )
            for row in rows:
                found[row.member_id] = Contact.from_row(row, self._default_quiet_hours)
        return found
