"""A member's own preferences (the preferences page): what they can choose, and saving a choice.

Every change goes to the consent trail (``Contacts.record_consent`` for a ritual's pause, stop
or resume; ``Contacts.change_own_preferences`` for channel, quiet hours and language) and a
ritual's change also to the scheduler, as a MemberRitualChoice staged in the outbox in the same
transaction. Its id is keyed with the notifier's secret over member, ritual, choice and the
change's place in that ritual's trail (so pausing again after a resume, even within the same
second, is a new event, and a retried save of the same change is the same one).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Literal

from sqlalchemy.ext.asyncio import AsyncSession

from services.notifier.adapters.contacts import ContactChanges, ContactRecord, Contacts
from services.notifier.adapters.deliveries import Deliveries
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
    kinds = await Deliveries(session).rituals_of_member(member_id)
    return MemberPreferences(
        rituals=tuple(
            RitualPreference(ritual_id, kind, choices.get(ritual_id, RitualChoice.active))
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
) -> MemberRitualChoiceV1:
    """``sequence``: how many choices about this ritual the member made before this one."""
    return MemberRitualChoiceV1(
        event_id=keyed_event_id(
            secret, "ritual.member-choice", member_id, ritual_id, choice.value, sequence
        ),
        occurred_at=now,
        member_id=member_id,
        ritual_id=ritual_id,
        choice=choice,
        sequence=sequence,
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
    known = {ritual.ritual_id: ritual.choice for ritual in current.rituals}
    unknown = set(chosen.rituals) - set(known)
    if unknown:
        raise InvalidPreferences("unknown_ritual", "a ritual on the form is not one of yours")
    changes = _changes(current, chosen)
    changed: list[str] = []
    events = []
    trail = await Contacts(session, default_quiet_hours=None).consent_trail(member_id)
    for ritual_id, choice in sorted(chosen.rituals.items()):
        if known[ritual_id] is choice:
            continue
        await record_consent(
            session,
            member_id,
            "ritual",
            not choice.holds,
            f"{SOURCE}: {choice.value}",
            now,
            ritual=(ritual_id, choice),
        )
        sequence = sum(1 for entry in trail if entry.ritual_id == ritual_id)
        events.append(ritual_choice_event(secret, member_id, ritual_id, choice, sequence, now))
        changed.append(f"ritual:{ritual_id}")
    if changes:
        await Contacts(session, default_quiet_hours=None).change_own_preferences(
            member_id, changes, SOURCE, now
        )
        changed.extend(sorted(changes))
    await stage_events(session, outbox, list(events), now)
    return changed
