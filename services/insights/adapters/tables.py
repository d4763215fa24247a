"""What insights keeps: anonymised facts, and the tombstones of erased respondents.

A fact is (respondent key, community, ISO week, item, value): no member id, no event id of
anyone's, no ritual, no time of day, no free text. The respondent key is a pseudonym for one
person in one week, made by the notifier with a key only it holds.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, Float, Index, Integer, MetaData, String, Table, Text

from shared.db import UtcDateTime

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

# Consenting members sent at least one prompt that week: participation's denominator.
prompted_facts = Table(
    "prompted_facts",
    metadata,
    Column("respondent_key", String(80), primary_key=True),
    Column("community_id", String(64), primary_key=True),
    Column("iso_week", String(8), primary_key=True),
    Index("ix_prompted_facts_community_week", "community_id", "iso_week"),
)

# One summary per consenting member, community and 4-week period, under a key for that period.
period_facts = Table(
    "period_facts",
    metadata,
    Column("respondent_key", String(80), primary_key=True),
    Column("community_id", String(64), primary_key=True),
    Column("period", String(8), primary_key=True),
    Column("anchor_value", Integer, nullable=True),
    Column("answered", Boolean, nullable=False),
    Column("signposted", Boolean, nullable=False),
    Index("ix_period_facts_community_period", "community_id", "period"),
)

# Public facts about communities (from the scheduler): the areas releases are for.
communities = Table(
    "communities",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("region_code", String(32), nullable=False, index=True),
    Column("active", Boolean, nullable=False),
    Column("changed_at", UtcDateTime(), nullable=False),
)

# Weeks the notifier has published in full (its WeekClosed marker): ready to release.
closed_weeks = Table(
    "closed_weeks",
    metadata,
    Column("iso_week", String(8), primary_key=True),
    Column("period_closed", String(8), nullable=True),
    Column("received_at", UtcDateTime(), nullable=False),
)

# Releases: computed once, stored, served from here (asking again spends nothing).
releases = Table(
    "releases",
    metadata,
    Column("release_id", String(32), primary_key=True),  # "week:2027-W01", "period:2027-P01"
    Column("cadence", String(8), nullable=False),  # week | period
    Column("period", String(8), nullable=False),  # 2027-W01 | 2027-P01
    Column("computed_at", UtcDateTime(), nullable=False),
    Column("rho", Float, nullable=False),  # zCDP spent per community by this release
    Column("method_version", String(16), nullable=False),
    # Communities left out, and why (JSON {community: reason}): a budget the release would
    # have overdrawn.
    Column("refused", Text, nullable=True),
)

# One published value per release, area and indicator. Noisy counts are kept for every cell,
# withheld ones too (region figures sum them); the API serves a withheld cell's value as null.
release_values = Table(
    "release_values",
    metadata,
    Column("release_id", String(32), primary_key=True),
    Column("area_type", String(16), primary_key=True),  # community | region
    Column("area_id", String(64), primary_key=True),
    Column("indicator", String(48), primary_key=True),
    Column("noisy_numerator", Float, nullable=False),
    Column("noisy_denominator", Float, nullable=True),  # null for counts
    Column("value", Float, nullable=True),
    Column("lower", Float, nullable=True),
    Column("upper", Float, nullable=True),
    Column("flag", String(1), nullable=True),  # c withheld, u low reliability, null fine
    Index("ix_release_values_area", "area_type", "area_id", "indicator"),
)

# What each community's privacy budget has paid for: a release past the limit is refused.
budget_ledger = Table(
    "budget_ledger",
    metadata,
    Column("community_id", String(64), primary_key=True),
    Column("release_id", String(32), primary_key=True),
    Column("rho", Float, nullable=False),
    Column("spent_at", UtcDateTime(), nullable=False),
)

# Respondent keys of erased members, kept for good: a fact under one of them is never stored
# again, whether it comes from a redelivery, a replay, a rebuild or a restored backup.
erased_respondents = Table(
    "erased_respondents",
    metadata,
    Column("respondent_key", String(80), primary_key=True),
)
