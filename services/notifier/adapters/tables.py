"""The notifier's tables: the only place contact data lives."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from shared.db import UtcDateTime
from shared.outbox import outbox_table

metadata = MetaData()

contacts = Table(
    "contacts",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("email", String(320), nullable=True),
    # E.164; unique so that an inbound SMS belongs to one member.
    Column("phone", String(20), nullable=True, unique=True),
    Column("locale", String(16), nullable=False),
    Column("preferred_channel", String(8), nullable=False, default="email"),
    Column("fallback_channel", String(8), nullable=True),
    # Local wall-clock "HH:MM" in the member's zone; both null: no quiet hours.
    Column("quiet_start", String(5), nullable=True),
    Column("quiet_end", String(5), nullable=True),
    Column("sms_opted_out_at", UtcDateTime(), nullable=True),
    Column("email_opted_out_at", UtcDateTime(), nullable=True),
    Column("prompt_consent", Boolean, nullable=False),
    Column("prompt_consent_at", UtcDateTime(), nullable=True),
    Column("prompt_consent_source", String(64), nullable=True),
    Column("insights_consent", Boolean, nullable=False),
    Column("insights_consent_at", UtcDateTime(), nullable=True),
    Column("insights_consent_source", String(64), nullable=True),
    # Random, per member, never leaves this table: the key of their weekly respondent keys.
    # Erasure deletes it, so nothing left anywhere can be tied to them again (crypto-shredding).
    Column("pseudonym_seed", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=True),
    # The member list's order (newest first) and its creation-time filters: a page is read
    # from the index, not by sorting every contact.
    Index("ix_contacts_created", "created_at", "member_id"),
)

# Every consent given or withdrawn, with when and where: the audit trail behind the flags above.
consent_records = Table(
    "consent_records",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False, index=True),
    # prompts | insights | sms | email (consents); ritual (a choice per ritual); channel |
    # quiet_hours | locale | time_slot (preferences the member changed on their page)
    Column("kind", String(16), nullable=False),
    Column("given", Boolean, nullable=False),
    Column("source", String(64), nullable=False),
    Column("recorded_at", UtcDateTime(), nullable=False),
    Column("ritual_id", String(64), nullable=True),  # kind ritual: which one
    # What was chosen: active | paused | stopped (ritual), sms | email, "22:00-07:00", "es",
    # "18:00" | default (time_slot).
    Column("detail", String(64), nullable=True),
)

# The member's own choice per ritual (preferences page), set only through
# ``Contacts.record_consent``: while paused or stopped the dispatcher sends none of its prompts
# (the scheduler, told by a MemberRitualChoice event, stops emitting them too).
ritual_choices = Table(
    "ritual_choices",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("ritual_id", String(64), primary_key=True),
    Column("choice", String(16), nullable=False),
    Column("chosen_at", UtcDateTime(), nullable=False),
    # The local time of day chosen among the ritual's slots (set by ``choose_time_slot``, the
    # trail's kind time_slot); null: the ritual's default.
    Column("time_slot", String(5), nullable=True),
)

# The time slots each ritual offers, as its latest RitualDue said (the notifier knows rituals
# only from their events): what the preferences page lets a member choose among.
ritual_time_slots = Table(
    "ritual_time_slots",
    metadata,
    Column("ritual_id", String(64), primary_key=True),
    Column("time_slots", String(32), nullable=False),  # "09:00,18:00", the default first
    Column("ritual_version", Integer, nullable=False),  # the newest version's slots win
    Column("learned_at", UtcDateTime(), nullable=False),
)

# One row per (due event, channel): a redelivered RitualDue finds its row and sends nothing.
deliveries = Table(
    "deliveries",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("due_event_id", String(36), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("member_id", String(64), nullable=False, index=True),
    Column("community_id", String(64), nullable=False),
    Column("ritual_id", String(64), nullable=False),
    Column("ritual_kind", String(32), nullable=False),
    Column("template_key", String(64), nullable=False),
    Column("item_key", String(64), nullable=True),
    Column("occurrence_at", UtcDateTime(), nullable=False),
    Column("occurrence_local_date", Date, nullable=False),
    Column("respond_by", UtcDateTime(), nullable=False),
    Column("timezone", String(64), nullable=False, default="UTC"),
    # 0 for the prompt itself; n for its n-th nudge, whose links answer the original delivery.
    Column("nudge_number", Integer, nullable=False, default=0),
    Column("answers_delivery_id", String(36), nullable=True),
    Column("status", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("failure_reason", String(32), nullable=True),
    Column("provider_status", Integer, nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("sent_at", UtcDateTime(), nullable=True),
    # The dispatcher's queue: send when not_before has passed (quiet hours, backoff); a
    # claimed row is leased so a crashed sender's work is picked up again.
    Column("not_before", UtcDateTime(), nullable=True),
    Column("lease_until", UtcDateTime(), nullable=True),
    # The claim's fencing token: a renewal moves lease_until, never this.
    Column("lease_token", String(32), nullable=True),
    # What the provider says after accepting (status callbacks), ranked so that a late
    # callback never moves a status backwards.
    Column("provider_message_id", String(64), nullable=True, index=True),
    Column("provider_state", String(16), nullable=True),
    Column("provider_state_rank", Integer, nullable=False, default=0),
    Column("delivered_at", UtcDateTime(), nullable=True),
    # The event as received, for the dead letters if every attempt fails.
    Column("source_event", Text, nullable=True),
    UniqueConstraint("due_event_id", "channel", name="uq_deliveries_due_channel"),
    Index("ix_deliveries_queue", "status", "not_before"),
    Index("ix_deliveries_created_at", "created_at"),  # retention
    Index("ix_deliveries_occurrence_local_date", "occurrence_local_date"),  # weekly release
    Index("ix_deliveries_log", "created_at", "id"),  # the delivery log's pages
    Index("ix_deliveries_ritual_log", "ritual_id", "created_at"),  # ... of one ritual
)

# Status callbacks that arrived before the send that caused them was recorded (the provider
# can call back faster than we commit): applied as soon as the message id is known.
provider_status_backlog = Table(
    "provider_status_backlog",
    metadata,
    Column("provider_message_id", String(64), primary_key=True),
    Column("state", String(16), primary_key=True),
    Column("error_code", Integer, nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
)

# Replies that came by SMS. Free text stays here and is erased with the member.
inbound_messages = Table(
    "inbound_messages",
    metadata,
    Column("provider_message_id", String(64), primary_key=True),
    Column("member_id", String(64), nullable=True, index=True),
    Column("kind", String(16), nullable=False),
    Column("delivery_id", String(36), nullable=True),
    Column("free_text", Text, nullable=True),
    Column("received_at", UtcDateTime(), nullable=False, index=True),  # retention
)

# Operators' templates, validated when saved; packaged defaults apply where none is stored.
prompt_templates = Table(
    "prompt_templates",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("locale", String(16), primary_key=True),
    Column("channel", String(8), primary_key=True),  # email | sms
    Column("subject", Text, nullable=True),  # e-mail only
    Column("text_body", Text, nullable=False),
    Column("html_body", Text, nullable=True),  # e-mail only; autoescaped
    Column("version", Integer, nullable=False, default=1),
    Column("updated_at", UtcDateTime(), nullable=False),
)

answers = Table(
    "answers",
    metadata,
    Column(
        "delivery_id",
        String(36),
        ForeignKey("deliveries.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("item_key", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("answered_at", UtcDateTime(), nullable=False),
)

# Members erased here, by a keyed hash of their id (no id kept): an event about one of them that
# arrives later (a lagging scheduler, a replayed dead letter) is dropped without a trace.
erased_members = Table(
    "erased_members",
    metadata,
    Column("member_hash", String(64), primary_key=True),
    Column("erased_at", UtcDateTime(), nullable=False),
)

# Respondent keys of erased members, waiting for the next daily batch of tombstones: all the
# day's erasures leave together, keys sorted, so no event holds one person's keys alone.
pending_tombstones = Table(
    "pending_tombstones",
    metadata,
    Column("respondent_key", String(80), primary_key=True),
    Column("release_at", UtcDateTime(), nullable=False, index=True),
)

# Support messages sent (the distress rule matched), per member, community and week: for the
# week's release to insights (consenting members only) and the member's own export.
signposts = Table(
    "signposts",
    metadata,
    Column("member_id", String(64), primary_key=True),
    Column("community_id", String(64), primary_key=True),
    Column("iso_week", String(8), primary_key=True),
    Column("recorded_at", UtcDateTime(), nullable=False, index=True),  # retention
)

# ISO weeks whose facts have been published to insights (each exactly once; see
# handlers/insights_release.py).
insights_weeks = Table(
    "insights_weeks",
    metadata,
    Column("iso_week", String(8), primary_key=True),
    Column("released_at", UtcDateTime(), nullable=False),
    Column("facts", Integer, nullable=False),
    # WeekClosed published (after the facts were acknowledged by the stream).
    Column("announced", Boolean, nullable=False),
)

# Erasures whose ids are still to be deleted from the JetStream streams (see erasure_scrub);
# the row goes once that is done.
erasure_scrubs = Table(
    "erasure_scrubs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("member_id", String(64), nullable=False),
    Column("respondent_keys", Text, nullable=False),  # JSON list
    Column("erased_at", UtcDateTime(), nullable=False),
    Column("scrub_after", UtcDateTime(), nullable=False, index=True),
)

# A provider's token bucket shared by every replica, one row per limit ("email", "sms"): the
# level at the latest instant any replica recorded (see adapters/rate_limit_store.py).
rate_limits = Table(
    "rate_limits",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("tokens", Float, nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
)

outbox = outbox_table(metadata)
