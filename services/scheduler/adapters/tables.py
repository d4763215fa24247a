"""The scheduler's tables. It alone owns communities, rituals and enrolments."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

from shared.db import UtcDateTime
from shared.outbox import outbox_table

metadata = MetaData()

communities = Table(
    "communities",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("timezone", String(64), nullable=False),
    Column("region_code", String(32), nullable=False),
    Column("locale", String(16), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
)

rituals = Table(
    "rituals",
    metadata,
    Column("id", String(64), primary_key=True),
    Column(
        "community_id",
        String(64),
        ForeignKey("communities.id", ondelete="CASCADE"),
        nullable=False,
        index=True,
    ),
    Column("kind", String(32), nullable=False),
    Column("title", String(200), nullable=False),
    Column("rrule", String(500), nullable=False),
    Column("dtstart_local", String(32), nullable=False),
    # RFC 5545 EXDATEs as local wall times, comma-separated ISO 8601 ("2027-12-27T09:00").
    Column("exdates", Text, nullable=False, default=""),
    Column("pinned_to_community_zone", Boolean, nullable=False, default=False),
    Column("template_key", String(64), nullable=False),
    Column("response_window_s", Integer, nullable=False),
    Column("misfire_grace_s", Integer, nullable=False),
    Column("nudge_after_s", Integer, nullable=True),
    Column("max_nudges", Integer, nullable=False, default=0),
    # Bumped on every schedule edit: part of each occurrence's event id, so an edit never
    # re-fires an occurrence already emitted under the old version.
    Column("version", Integer, nullable=False, default=1),
    Column("active", Boolean, nullable=False, default=True),
    # Local times of day members choose among, comma-separated ("09:00,18:00"), the default
    # first; empty: the one slot is DTSTART's time.
    Column("time_slots", String(32), nullable=False, default="", server_default=""),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

enrolments = Table(
    "enrolments",
    metadata,
    Column(
        "community_id",
        String(64),
        ForeignKey("communities.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("member_id", String(64), primary_key=True),
    Column("timezone", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Index("ix_enrolments_community_zone", "community_id", "timezone"),
)

# The next occurrence of each ritual in each zone its members live in, at each of its time
# slots (0: the default; the index into rituals.time_slots): a tick reads only the rows that
# are due (indexed by time), whatever the number of rituals stored.
schedule_cursors = Table(
    "schedule_cursors",
    metadata,
    Column(
        "ritual_id",
        String(64),
        ForeignKey("rituals.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("timezone", String(64), primary_key=True),
    Column("slot", Integer, primary_key=True, default=0, server_default="0"),
    Column("next_due_at", UtcDateTime(), nullable=False),
    Index("ix_schedule_cursors_next_due_at", "next_due_at"),
)

# Occurrences that came due while the scheduler was down for longer than the misfire grace:
# recorded, not sent in a burst.
missed_occurrences = Table(
    "missed_occurrences",
    metadata,
    Column("ritual_id", String(64), primary_key=True),
    Column("timezone", String(64), primary_key=True),
    Column("occurrence_at", UtcDateTime(), primary_key=True),
    Column("ritual_version", Integer, nullable=False),
    Column("members", Integer, nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
)

# One row per prompt sent for a ritual with a nudge policy. The timer starts when the prompt
# was actually sent (PromptSent), not when it was due; an answer (PromptAnswered) stops it.
nudge_timers = Table(
    "nudge_timers",
    metadata,
    Column("due_event_id", String(36), primary_key=True),
    Column("ritual_id", String(64), nullable=False, index=True),
    Column("community_id", String(64), nullable=False),
    Column("member_id", String(64), nullable=False, index=True),
    Column("respond_by", UtcDateTime(), nullable=True, index=True),
    Column("next_nudge_at", UtcDateTime(), nullable=True),
    Column("nudges_sent", Integer, nullable=False, default=0),
    Column("answered_at", UtcDateTime(), nullable=True),
    Index("ix_nudge_timers_next_nudge_at", "next_nudge_at"),
)

# A member's own choice per ritual, from the notifier's preferences page (MemberRitualChoice):
# while paused or stopped, no due event for that ritual is emitted for them. Keyed by member and
# ritual; the latest choice wins (the member's ``sequence`` of choices about the ritual),
# ``event_id`` is the event that set it.
member_ritual_choices = Table(
    "member_ritual_choices",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("ritual_id", String(64), primary_key=True),
    Column("choice", String(16), nullable=False),
    Column("chosen_at", UtcDateTime(), nullable=False),
    Column("sequence", Integer, nullable=False),
    Column("event_id", String(36), nullable=False),
    # The local time of day the member chose among the ritual's slots; null: the default.
    Column("time_slot", String(5), nullable=True),
    Index("ix_member_ritual_choices_ritual", "ritual_id"),
)

outbox = outbox_table(metadata)
