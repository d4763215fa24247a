"""What insights keeps: anonymised facts, and the tombstones of erased respondents.

A fact is (respondent key, community, ISO week, item, value): no member id, no event id of
anyone's, no ritual, no time of day, no free text. The respondent key is a pseudonym for one
person in one week, made by the notifier with a key only it holds.
"""

from __future__ import annotations

from sqlalchemy import Column, Index, Integer, MetaData, String, Table

metadata = MetaData()

response_facts = Table(
    "response_facts",
    metadata,
    # One answer per person, community, week and item (the notifier sends the latest): a
    # redelivered or replayed fact inserts nothing.
    Column("respondent_key", String(80), primary_key=True),
    Column("community_id", String(64), primary_key=True),
    Column("iso_week", String(8), primary_key=True),
    Column("item", String(64), primary_key=True),
    Column("value", Integer, nullable=False),
    Index("ix_response_facts_community_week", "community_id", "iso_week"),
)

# Professional-support signposting: once per person, community and week.
signposting_facts = Table(
    "signposting_facts",
    metadata,
    Column("respondent_key", String(80), primary_key=True),
    Column("community_id", String(64), primary_key=True),
    Column("iso_week", String(8), primary_key=True),
    Index("ix_signposting_facts_community_week", "community_id", "iso_week"),
)

# Respondent keys of erased members, kept for good: a fact under one of them is never stored
# again, whether it comes from a redelivery, a replay, a rebuild or a restored backup.
erased_respondents = Table(
    "erased_respondents",
    metadata,
    Column("respondent_key", String(80), primary_key=True),
)
