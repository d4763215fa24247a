"""A member's own preferences (the preferences page): what they can choose, and saving a choice.

Every change goes to the consent trail (``Contacts.record_consent`` for a ritual's pause, stop
or resume; ``Contacts.choose_time_slot`` for a ritual's time slot;
``Contacts.change_own_preferences`` for channel, quiet hours and language) and a ritual's
change also to the scheduler, as a MemberRitualChoice staged in the outbox in the same
transaction, carrying the member's whole choice about the ritual (receive, pause or stop, and
the slot). Its id is keyed with the notifier's secret over member, ritual, choice, slot and the
change's place in that ritual's trail (so pausing again after a resume, even within the same
second, is a new event, and a retried save of the same change is the same one).

A ritual's slots are those its latest RitualDue listed (``adapters/ritual_slots``), local
times in the zone its prompts were read in.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.contacts import ContactChanges, ContactRecord, Contacts
from services.notifier.adapters.deliveries import Deliveries
from services.notifier.adapters.ritual_slots import time_slots_of
from services.notifier.adapters.tables import outbox
from services.notifier.handlers.use_cases.members import record_consent
from shared.contracts import Channel, MemberRitualChoiceV1, RitualChoice, keyed_event_id
from shared.outbox import stage_events

SOURCE = "preferences page"
# The languages prompts are written in (packaged templates); a member's regional locale
# (es-MX) is kept as long as they keep its language.
LANGUAGES = {"en": "English", "es": "Español"}


class InvalidPreferences(ValueError):
    """What the member sent cannot be saved. ``code`` says what is wrong (the page words it in
    the member's language); the message, in English, never echoes what was sent."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class RitualPreference:
    ritual_id: str
    kind: str
    choice: RitualChoice
    time_slots: tuple[str, ...] = ()  # offered, the default first; empty: no choice
    chosen_time_slot: str | None = None  # as the member chose it (None: the default)
    zone: str | None = None  # where the slots are local times

    @property
    def time_slot(self) -> str | None:
        """The slot the member has: the one they chose while it is offered, else the default
        (as the scheduler reads it)."""
        if self.chosen_time_slot in self.time_slots:
            return self.chosen_time_slot
        return self.time_slots[0] if self.time_slots else None


@dataclass(frozen=True)
class MemberPreferences:
    rituals: tuple[RitualPreference, ...]
    channels: tuple[Channel, ...]  # those the member has a contact point for
    preferred_channel: Channel
    fallback_channel: Channel | None
    quiet_start: str | None
    quiet_end: str | None
    locale: str

    @property
    def language(self) -> str:
        return self.locale.split("-")[0]


@dataclass(frozen=True)
class ChosenPreferences:
    """What the form sent, read but not yet checked against the member."""

    rituals: Mapping[str, RitualChoice] = field(default_factory=dict)
    time_slots: Mapping[str, str] = field(default_factory=dict)  # ritual id -> "18:00"
    channel: Channel | None = None
    # Whether the form had the quiet-hours fields at all: both empty then means "none".
    quiet_hours_sent: bool = False
    quiet_start: str | None = None
    quiet_end: str | None = None
    language: str | None = None


def available_channels(record: ContactRecord) -> tuple[Channel, ...]:
    found = []
    if record.email:
        found.append(Channel.email)
    if record.phone:
        found.append(Channel.sms)
    return tuple(found)


async def load_preferences(session: AsyncSession, member_id: str) -> MemberPreferences | None:
    contacts = Contacts(session, default_quiet_hours=None)
    record = await contacts.record(member_id)
    if record is None:
        return None
    choices = await contacts.ritual_choices(member_id)
    chosen_slots = await contacts.chosen_time_slots(member_id)
    kinds = await Deliveries(session).rituals_of_member(member_id)
    offered = await time_slots_of(session, kinds)
    zones = await Deliveries(session).ritual_zones_of_member(member_id) if offered else {}
    return MemberPreferences(
        rituals=tuple(
            RitualPreference(
                ritual_id,
                kind,
                choices.get(ritual_id, RitualChoice.active),
                offered.get(ritual_id, ()),
                chosen_slots.get(ritual_id),
                zones.get(ritual_id),
            )
            for ritual_id, kind in sorted(kinds.items())
        ),
        channels=available_channels(record),
        preferred_channel=Channel(record.preferred_channel),
        fallback_channel=Channel(record.fallback_channel) if record.fallback_channel else None,
        quiet_start=record.quiet_start,
        quiet_end=record.quiet_end,
        locale=record.locale,
    )


def parse_local_time(text: str | None, edge: Literal["start", "end"]) -> str | None:
    """``"22:00"`` (or ``"22:00:00"``, as some browsers send) -> ``"22:00"``; empty -> None.
    ``edge``: which end of the quiet hours it is."""
    if text is None or not text.strip():
        return None
    try:
        parsed = time.fromisoformat(text.strip())
    except ValueError as error:
        raise InvalidPreferences(
            f"{edge}_time", f"the {edge} of quiet hours must be a time of day such as 22:00"
        ) from error
    return parsed.strftime("%H:%M")


def check_quiet_hours(start: str | None, end: str | None) -> None:
    if (start is None) != (end is None):
        raise InvalidPreferences(
            "quiet_half", "quiet hours need both a start and an end (or neither)"
        )
    if start is not None and start == end:
        raise InvalidPreferences("quiet_same", "quiet hours must start and end at different times")


def _changes(current: MemberPreferences, chosen: ChosenPreferences) -> ContactChanges:
    changes: ContactChanges = {}
    if chosen.channel is not None and chosen.channel is not current.preferred_channel:
        if chosen.channel not in current.channels:
            missing = "phone number" if chosen.channel is Channel.sms else "e-mail address"
            raise InvalidPreferences(
                "no_phone" if chosen.channel is Channel.sms else "no_email",
                f"we have no {missing} for you, so {chosen.channel.value} cannot be chosen",
            )
        changes["preferred_channel"] = chosen.channel.value
        if current.fallback_channel is chosen.channel:
            # The old fallback is now the first choice: the old first choice becomes the
            # fallback, so the member keeps two ways to be reached.
            changes["fallback_channel"] = current.preferred_channel.value
    if chosen.quiet_hours_sent:
        check_quiet_hours(chosen.quiet_start, chosen.quiet_end)
        if (chosen.quiet_start, chosen.quiet_end) != (current.quiet_start, current.quiet_end):
            changes["quiet_start"] = chosen.quiet_start
            changes["quiet_end"] = chosen.quiet_end
    if chosen.language is not None and chosen.language != current.language:
        if chosen.language not in LANGUAGES:
            raise InvalidPreferences("language", f"language must be one of {', '.join(LANGUAGES)}")
        changes["locale"] = chosen.language
    return changes


def ritual_choice_event(
    secret: bytes,
    member_id: str,
    ritual_id: str,
    choice: RitualChoice,
    sequence: int,
    now: datetime,
    time_slot: str | None = None,
) -> MemberRitualChoiceV1:
    """``sequence``: how many choices about this ritual the member made before this one.
    The slot joins the id's parts only when there is one, so the ids of choices made before
    slots existed stay what they were."""
    slot_part = () if time_slot is None else (time_slot,)
    return MemberRitualChoiceV1(
        event_id=keyed_event_id(
            secret, "ritual.member-choice", member_id, ritual_id, choice.value, sequence, *slot_part
        ),
        occurred_at=now,
        member_id=member_id,
        ritual_id=ritual_id,
        choice=choice,
        sequence=sequence,
        time_slot=time_slot,
    )


async def save_preferences(
    session: AsyncSession,
    member_id: str,
    chosen: ChosenPreferences,
    secret: bytes,
    now: datetime,
) -> list[str]:
    """Apply what changed, inside the caller's transaction; returns what changed (kinds of the
    trail rows written). Raises ``InvalidPreferences`` before writing anything."""
    await Contacts(session, default_quiet_hours=None).lock(member_id)
    current = await load_preferences(session, member_id)
    if current is None:
        raise LookupError("no such member")
    known = {ritual.ritual_id: ritual for ritual in current.rituals}
    unknown = (set(chosen.rituals) | set(chosen.time_slots)) - set(known)
    if unknown:
        raise InvalidPreferences("unknown_ritual", "a ritual on the form is not one of yours")
    for ritual_id, offered in chosen.time_slots.items():
        if offered not in known[ritual_id].time_slots:
            raise InvalidPreferences("time_slot", "choose one of the times a ritual offers")
    changes = _changes(current, chosen)
    changed: list[str] = []
    events = []
    contacts = Contacts(session, default_quiet_hours=None)
    trail = await contacts.consent_trail(member_id)
    for ritual_id in sorted(set(chosen.rituals) | set(chosen.time_slots)):
        ritual = known[ritual_id]
        choice = chosen.rituals.get(ritual_id, ritual.choice)
        slot = ritual.time_slot
        if ritual_id in chosen.time_slots:
            slot = chosen.time_slots[ritual_id]
        slot_changed = slot != ritual.time_slot
        if choice is ritual.choice and not slot_changed:
            continue
        if choice is not ritual.choice:
            await record_consent(
                session,
                member_id,
                "ritual",
                not choice.holds,
                f"{SOURCE}: {choice.value}",
                now,
                ritual=(ritual_id, choice),
            )
        if slot_changed:
            await contacts.choose_time_slot(member_id, ritual_id, slot, SOURCE, now)
        sequence = sum(1 for entry in trail if entry.ritual_id == ritual_id)
        kept_slot = slot if slot_changed else ritual.chosen_time_slot
        events.append(
            ritual_choice_event(secret, member_id, ritual_id, choice, sequence, now, kept_slot)
        )
        changed.append(f"ritual:{ritual_id}")
    if changes:
        await contacts.change_own_preferences(member_id, changes, SOURCE, now)
        changed.extend(sorted(changes))
    await stage_events(session, outbox, list(events), now)
    return changed
