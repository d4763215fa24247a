"""The notifier's tables: the only place contact data lives."""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    String,
    Table,
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
    Column("locale", String(16), nullable=False),
    Column("prompt_consent", Boolean, nullable=False),
    Column("prompt_consent_at", UtcDateTime(), nullable=True),
    Column("prompt_consent_source", String(64), nullable=True),
    Column("insights_consent", Boolean, nullable=False),
    Column("insights_consent_at", UtcDateTime(), nullable=True),
    Column("insights_consent_source", String(64), nullable=True),
    Column("created_at", UtcDateTime(), nullable=False),
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
    UniqueConstraint("due_event_id", "channel", name="uq_deliveries_due_channel"),
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

outbox = outbox_table(metadata)
