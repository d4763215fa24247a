"""Members' contact points, preferences and consents: the one place that reads and writes the
``contacts`` table and its consent trail (``consent_records``), inside the caller's transaction
(a repository never begins, commits or rolls back).

Consent and opt-out state changes in one method only, ``record_consent``, which appends to the
trail in the same statement sequence: no other method writes those columns after a member is
added (``change_details`` takes a ``ContactChanges``, which has no consent field). A member's
choice per ritual (``ritual_choices``: paused, stopped, active) is consent to one kind of
message and changes there too; preferences a member changes themselves (channel, quiet hours,
language) go through ``change_own_preferences``, which leaves a row on the same trail.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any, Literal, TypedDict

from sqlalchemy import ColumnElement, delete, exists, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.tables import consent_records, contacts, deliveries, ritual_choices
from services.notifier.domain.contact import Contact
from services.notifier.domain.quiet_hours import QuietHours
from shared.contracts import RitualChoice
from shared.db import insert_ignoring_duplicates
from shared.http.pagination import KeyValue, SortKey, keyset_fetch

_CHUNK = 500


@dataclass(frozen=True)
class ContactRecord:
    """A ``contacts`` row as stored (quiet hours as "HH:MM" text, instants of consent): what
    the members API shows, the export holds and erasure derives keys from. For sending, see
    ``Contact`` (the service's default quiet hours applied, opt-outs as flags)."""

    member_id: str
    email: str | None
    phone: str | None
    locale: str
    preferred_channel: str
    fallback_channel: str | None
    quiet_start: str | None
    quiet_end: str | None
    sms_opted_out_at: datetime | None
    email_opted_out_at: datetime | None
    prompt_consent: bool
    prompt_consent_at: datetime | None
    prompt_consent_source: str | None
    insights_consent: bool
    insights_consent_at: datetime | None
    insights_consent_source: str | None
    pseudonym_seed: str
    created_at: datetime
    updated_at: datetime | None

    @classmethod
    def from_row(cls, row: Any) -> ContactRecord:
        return cls(**{field.name: getattr(row, field.name) for field in fields(cls)})


class ContactChanges(TypedDict, total=False):
    """What an operator may change of a member's contact points and preferences; a key
    present with None clears the column. Consent is not here: see ``record_consent``."""

    email: str | None
    phone: str | None
    locale: str
    preferred_channel: str
    fallback_channel: str | None
    quiet_start: str | None
    quiet_end: str | None


@dataclass(frozen=True)
class ConsentEntry:
    kind: str  # prompts | insights | sms | email | ritual | channel | quiet_hours | locale
    given: bool
    source: str
    recorded_at: datetime
    ritual_id: str | None = None
    detail: str | None = None

    @classmethod
    def from_row(cls, row: Any) -> ConsentEntry:
        return cls(row.kind, row.given, row.source, row.recorded_at, row.ritual_id, row.detail)


# The orders of the operators' lists (``api/member_search.py``, ``api/members.py``).
NEWEST_MEMBERS_FIRST = SortKey((contacts.c.created_at, contacts.c.member_id), descending=True)
CONSENTS_IN_ORDER_RECORDED = SortKey((consent_records.c.id,))
ConsentKind = Literal["prompts", "insights"]


@dataclass(frozen=True)
class MemberSearch:
    """Members matching every field given (None: any)."""

    community_id: str | None = None  # prompted for it (a delivery names it)
    channel: str | None = None  # preferred
    consent_given: ConsentKind | None = None
    consent_withheld: ConsentKind | None = None
    opted_out_of: str | None = None  # sms | email
    created_since: datetime | None = None
    created_until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        table = contacts.c
        found: list[ColumnElement[bool]] = []
        if self.community_id is not None:
            found.append(
                exists().where(
                    (deliveries.c.member_id == table.member_id)
                    & (deliveries.c.community_id == self.community_id)
                )
            )
        if self.channel is not None:
            found.append(table.preferred_channel == self.channel)
        consent = {"prompts": table.prompt_consent, "insights": table.insights_consent}
        if self.consent_given is not None:
            found.append(consent[self.consent_given].is_(True))
        if self.consent_withheld is not None:
            found.append(consent[self.consent_withheld].is_(False))
        if self.opted_out_of is not None:
            opted = {"sms": table.sms_opted_out_at, "email": table.email_opted_out_at}
            found.append(opted[self.opted_out_of].is_not(None))
        if self.created_since is not None:
            found.append(table.created_at >= self.created_since)
        if self.created_until is not None:
            found.append(table.created_at < self.created_until)
        return found


class Contacts:
    def __init__(self, session: AsyncSession, default_quiet_hours: QuietHours | None) -> None:
        """``default_quiet_hours``: what ``get``/``get_many`` apply to a member who set none
        (the other methods return rows as stored and ignore it)."""
        self._session = session
        self._default_quiet_hours = default_quiet_hours

    # -- for sending ----------------------------------------------------------------------

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

    # -- records as stored ----------------------------------------------------------------

    async def record(self, member_id: str) -> ContactRecord | None:
        row = (
            await self._session.execute(select(contacts).where(contacts.c.member_id == member_id))
        ).first()
        return ContactRecord.from_row(row) if row is not None else None

    async def lock(self, member_id: str) -> ContactRecord | None:
        """The member's row, locked (FOR UPDATE) until the caller's transaction ends."""
        row = (
            await self._session.execute(
                select(contacts).where(contacts.c.member_id == member_id).with_for_update()
            )
        ).first()
        return ContactRecord.from_row(row) if row is not None else None

    async def by_phone(self, phone: str) -> ContactRecord | None:
        """The member with this E.164 number (unique), if any."""
        row = (
            await self._session.execute(select(contacts).where(contacts.c.phone == phone))
        ).first()
        return ContactRecord.from_row(row) if row is not None else None

    async def phone_taken(self, phone: str, except_member: str | None = None) -> bool:
        """Whether a member (other than ``except_member``) has this number."""
        return bool(await self.phones_taken([phone], except_member))

    async def consenting_seeds(self, member_ids: Collection[str]) -> dict[str, str]:
        """member id -> pseudonym seed, for those of ``member_ids`` who consent to contribute
        to insights now."""
        ids = sorted(set(member_ids))
        if not ids:
            return {}
        rows = await self._session.execute(
            select(contacts.c.member_id, contacts.c.pseudonym_seed).where(
                contacts.c.member_id.in_(ids) & contacts.c.insights_consent.is_(True)
            )
        )
        return {row.member_id: row.pseudonym_seed for row in rows}

    async def search(
        self, search: MemberSearch, after: Sequence[KeyValue] | None, limit: int
    ) -> tuple[list[ContactRecord], list[KeyValue] | None]:
        """A page of members, ``NEWEST_MEMBERS_FIRST``, and the key of its last one if more
        follow."""
        query = select(contacts).where(*search.conditions())
        rows, last = await keyset_fetch(self._session, query, NEWEST_MEMBERS_FIRST, after, limit)
        return [ContactRecord.from_row(row) for row in rows], last

    async def consent_page(
        self, member_id: str, after: Sequence[KeyValue] | None, limit: int
    ) -> tuple[list[ConsentEntry], list[KeyValue] | None]:
        """A page of the consent trail, in the order recorded."""
        query = select(consent_records).where(consent_records.c.member_id == member_id)
        rows, last = await keyset_fetch(
            self._session, query, CONSENTS_IN_ORDER_RECORDED, after, limit
        )
        return [ConsentEntry.from_row(row) for row in rows], last

    async def consent_trail(self, member_id: str) -> list[ConsentEntry]:
        """Every consent given or withdrawn, in the order recorded."""
        rows = await self._session.execute(
            select(consent_records)
            .where(consent_records.c.member_id == member_id)
            .order_by(consent_records.c.id)
        )
        return [ConsentEntry.from_row(row) for row in rows]

    async def ritual_choices(self, member_id: str) -> dict[str, RitualChoice]:
        """ritual id -> the member's own choice, for the rituals they ever chose about."""
        rows = await self._session.execute(
            select(ritual_choices.c.ritual_id, ritual_choices.c.choice).where(
                ritual_choices.c.member_id == member_id
            )
        )
        return {row.ritual_id: RitualChoice(row.choice) for row in rows}

    async def chosen_time_slots(self, member_id: str) -> dict[str, str]:
        """ritual id -> the time slot the member chose, for the rituals where they chose one."""
        rows = await self._session.execute(
            select(ritual_choices.c.ritual_id, ritual_choices.c.time_slot).where(
                (ritual_choices.c.member_id == member_id) & ritual_choices.c.time_slot.is_not(None)
            )
        )
        return {row.ritual_id: row.time_slot for row in rows}

    async def held_rituals(self, pairs: Collection[tuple[str, str]]) -> set[tuple[str, str]]:
        """Which (member, ritual) pairs the member has paused or stopped."""
        wanted = sorted(set(pairs))
        held: set[tuple[str, str]] = set()
        for start in range(0, len(wanted), _CHUNK):
            rows = await self._session.execute(
                select(ritual_choices.c.member_id, ritual_choices.c.ritual_id).where(
                    tuple_(ritual_choices.c.member_id, ritual_choices.c.ritual_id).in_(
                        wanted[start : start + _CHUNK]
                    )
                    & (ritual_choices.c.choice != RitualChoice.active.value)
                )
            )
            held.update((row.member_id, row.ritual_id) for row in rows)
        return held

    # -- changes --------------------------------------------------------------------------

    async def phones_taken(
        self, phones: Collection[str], except_member: str | None = None
    ) -> set[str]:
        """Which of ``phones`` a member (other than ``except_member``) has already."""
        wanted = sorted(set(phones))
        if not wanted:
            return set()
        query = select(contacts.c.phone).where(contacts.c.phone.in_(wanted))
        if except_member is not None:
            query = query.where(contacts.c.member_id != except_member)
        return {str(phone) for phone in (await self._session.execute(query)).scalars()}

    async def add(self, records: Sequence[ContactRecord]) -> None:
        """Insert new members' rows, each with its two consents (prompts, insights) on the
        trail as given at registration: one statement per table whatever the count (an import
        brings thousands)."""
        if not records:
            return
        await self._session.execute(contacts.insert(), [asdict(record) for record in records])
        await self._session.execute(
            consent_records.insert(),
            [
                {
                    "member_id": record.member_id,
                    "kind": kind,
                    "given": given,
                    "source": source,
                    "recorded_at": record.created_at,
                    "ritual_id": None,
                    "detail": None,
                }
                for record in records
                for kind, given, source in (
                    ("prompts", record.prompt_consent, record.prompt_consent_source),
                    ("insights", record.insights_consent, record.insights_consent_source),
                )
            ],
        )

    async def change_details(self, member_id: str, changes: ContactChanges, now: datetime) -> None:
        await self._session.execute(
            update(contacts)
            .where(contacts.c.member_id == member_id)
            .values(**changes, updated_at=now)
        )

    async def change_own_preferences(
        self, member_id: str, changes: ContactChanges, source: str, now: datetime
    ) -> None:
        """Preferences the member changed themselves (preferences page): applied, and each on
        the consent trail (kind channel, quiet_hours or locale; ``detail`` the new value)."""
        if "preferred_channel" in changes:
            channel = changes["preferred_channel"]
            await self._trail(member_id, "channel", True, source, now, None, channel)
        if "locale" in changes:
            await self._trail(member_id, "locale", True, source, now, None, changes["locale"])
        if "quiet_start" in changes or "quiet_end" in changes:
            start, end = changes.get("quiet_start"), changes.get("quiet_end")
            hours = f"{start}-{end}" if start and end else None
            # given: the member has quiet hours of their own (False: none, the default applies)
            await self._trail(member_id, "quiet_hours", hours is not None, source, now, None, hours)
        await self.change_details(member_id, changes, now)

    async def _trail(
        self,
        member_id: str,
        kind: str,
        given: bool,
        source: str,
        now: datetime,
        ritual_id: str | None,
        detail: str | None,
    ) -> None:
        await self._session.execute(
            consent_records.insert().values(
                member_id=member_id,
                kind=kind,
                given=given,
                source=source,
                recorded_at=now,
                ritual_id=ritual_id,
                detail=detail,
            )
        )

    async def record_consent(
        self,
        member_id: str,
        kind: str,
        given: bool,
        source: str,
        now: datetime,
        *,
        ritual: tuple[str, RitualChoice] | None = None,
    ) -> None:
        """Append to the consent trail and set the member's current state to match: the only
        statement that changes consent or an opt-out. ``kind``: prompts, insights, sms or
        email (a channel: given False is an opt-out), or ritual (with ``ritual``: which one
        and the member's choice; given is whether it may be sent)."""
        if kind == "ritual":
            if ritual is None:
                raise ValueError("a ritual consent names the ritual and the choice")
            ritual_id, choice = ritual
            if given is choice.holds:
                raise ValueError("given must say whether the choice lets the ritual be sent")
            await self._trail(member_id, kind, given, source, now, ritual_id, choice.value)
            await self._choose(member_id, ritual_id, choice, now)
            return
        await self._trail(member_id, kind, given, source, now, None, None)
        state: dict[str, object]
        if kind == "prompts":
            state = {
                "prompt_consent": given,
                "prompt_consent_at": now,
                "prompt_consent_source": source,
            }
        elif kind == "insights":
            state = {
                "insights_consent": given,
                "insights_consent_at": now,
                "insights_consent_source": source,
            }
        elif kind == "sms":
            state = {"sms_opted_out_at": None if given else now}
        else:
            state = {"email_opted_out_at": None if given else now}
        await self._session.execute(
            update(contacts)
            .where(contacts.c.member_id == member_id)
            .values(**state, updated_at=now)
        )

    async def choose_time_slot(
        self, member_id: str, ritual_id: str, time_slot: str | None, source: str, now: datetime
    ) -> None:
        """The member's time slot for a ritual (None: its default), on the trail (kind
        time_slot, ``detail`` the local time or "default") and as their current choice."""
        await self._trail(
            member_id, "time_slot", True, source, now, ritual_id, time_slot or "default"
        )
        # A first choice of a slot leaves the ritual received; a later one changes the slot only.
        await self._set_choice(
            member_id, ritual_id, {"time_slot": time_slot, "chosen_at": now}, RitualChoice.active
        )

    async def _choose(
        self, member_id: str, ritual_id: str, choice: RitualChoice, now: datetime
    ) -> None:
        await self._set_choice(member_id, ritual_id, {"choice": choice.value, "chosen_at": now})

    async def _set_choice(
        self,
        member_id: str,
        ritual_id: str,
        values: dict[str, object],
        first_choice: RitualChoice | None = None,
    ) -> None:
        """The member's current choice about a ritual: ``values`` written, the row created if
        there is none yet (with ``first_choice`` as its choice, when ``values`` has none)."""
        row = {"member_id": member_id, "ritual_id": ritual_id, **values}
        if first_choice is not None:
            row["choice"] = first_choice.value
        inserted = await insert_ignoring_duplicates(self._session, ritual_choices, [row])
        if not inserted:
            await self._session.execute(
                update(ritual_choices)
                .where(
                    (ritual_choices.c.member_id == member_id)
                    & (ritual_choices.c.ritual_id == ritual_id)
                )
                .values(**values)
            )

    async def erase(self, member_id: str) -> None:
        """Delete the member's consent trail, ritual choices and their row (with it the
        pseudonym seed)."""
        await self._session.execute(
            delete(consent_records).where(consent_records.c.member_id == member_id)
        )
        await self._session.execute(
            delete(ritual_choices).where(ritual_choices.c.member_id == member_id)
        )
        await self._session.execute(delete(contacts).where(contacts.c.member_id == member_id))
