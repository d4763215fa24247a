"""What insights keeps: one row per structured answer, keyed by a respondent key, nothing more.

No member id, contact point or free text ever reaches this database.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Index, Integer, MetaData, String, Table

from shared.db import UtcDateTime

metadata = MetaData()

response_facts = Table(
    "response_facts",
    metadata,
    # The event id makes the consumer idempotent: a redelivered event inserts nothing.
    Column("event_id", String(36), primary_key=True),
    Column("community_id", String(64), nullable=False),
    Column("iso_week", String(8), nullable=False),
    Column("respondent_key", String(64), nullable=False, index=True),
    Column("ritual_id", String(64), nullable=False),
    Column("ritual_kind", String(32), nullable=False),
    Column("item", String(64), nullable=False),
    Column("value", Integer, nullable=False),
    Column("on_time", Boolean, nullable=False),
    Column("answered_at", UtcDateTime(), nullable=False),
    Index("ix_response_facts_community_week", "community_id", "iso_week"),
)


# Professional-support signposting replies: a count per community and week, nothing more.
signposting_facts = Table(
    "signposting_facts",
    metadata,
    Column("event_id", String(36), primary_key=True),
    Column("community_id", String(64), nullable=False),
    Column("iso_week", String(8), nullable=False),
    Index("ix_signposting_facts_community_week", "community_id", "iso_week"),
)
