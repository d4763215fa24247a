"""Indicators: prompted and period facts, communities, closed weeks, stored releases, the budget
ledger

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "prompted_facts",
        sa.Column("respondent_key", sa.String(length=80), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key", "community_id", "iso_week"),
    )
    op.create_index(
        "ix_prompted_facts_community_week", "prompted_facts", ["community_id", "iso_week"]
    )
    op.create_table(
        "period_facts",
        sa.Column("respondent_key", sa.String(length=80), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("anchor_value", sa.Integer(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=False),
        sa.Column("signposted", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key", "community_id", "period"),
    )
    op.create_index("ix_period_facts_community_period", "period_facts", ["community_id", "period"])
    op.create_table(
        "communities",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("region_code", sa.String(length=32), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("community_id"),
    )
    op.create_index("ix_communities_region_code", "communities", ["region_code"])
    op.create_table(
        "closed_weeks",
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("period_closed", sa.String(length=8), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("iso_week"),
    )
    op.create_table(
        "releases",
        sa.Column("release_id", sa.String(length=32), nullable=False),
        sa.Column("cadence", sa.String(length=8), nullable=False),
        sa.Column("period", sa.String(length=8), nullable=False),
        sa.Column("computed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("rho", sa.Float(), nullable=False),
        sa.Column("method_version", sa.String(length=16), nullable=False),
        sa.Column("refused", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("release_id"),
    )
    op.create_table(
        "release_values",
        sa.Column("release_id", sa.String(length=32), nullable=False),
        sa.Column("area_type", sa.String(length=16), nullable=False),
        sa.Column("area_id", sa.String(length=64), nullable=False),
        sa.Column("indicator", sa.String(length=48), nullable=False),
        sa.Column("noisy_numerator", sa.Float(), nullable=False),
        sa.Column("noisy_denominator", sa.Float(), nullable=True),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("lower", sa.Float(), nullable=True),
        sa.Column("upper", sa.Float(), nullable=True),
        sa.Column("flag", sa.String(length=1), nullable=True),
        sa.PrimaryKeyConstraint("release_id", "area_type", "area_id", "indicator"),
    )
    op.create_index(
        "ix_release_values_area", "release_values", ["area_type", "area_id", "indicator"]
    )
    op.create_table(
        "budget_ledger",
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("release_id", sa.String(length=32), nullable=False),
        sa.Column("rho", sa.Float(), nullable=False),
        sa.Column("spent_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("community_id", "release_id"),
    )


def downgrade() -> None:
    op.drop_table("budget_ledger")
    op.drop_index("ix_release_values_area", "release_values")
    op.drop_table("release_values")
    op.drop_table("releases")
    op.drop_table("closed_weeks")
    op.drop_index("ix_communities_region_code", "communities")
    op.drop_table("communities")
    op.drop_index("ix_period_facts_community_period", "period_facts")
    op.drop_table("period_facts")
    op.drop_index("ix_prompted_facts_community_week", "prompted_facts")
    op.drop_table("prompted_facts")
