"""Unlinkable facts: no upstream ids, rituals or times; per-week respondent keys; tombstones

The facts stored before this revision carried the event id of each answer (computable from the
member's RitualDue), its ritual and its exact time: they cannot be made unlinkable, so they are
dropped, not converted (no release had been published from them).

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.drop_table("signposting_facts")
    op.drop_table("response_facts")
    op.create_table(
        "response_facts",
        sa.Column("respondent_key", sa.String(length=80), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key", "community_id", "iso_week", "item"),
    )
    op.create_index(
        "ix_response_facts_community_week", "response_facts", ["community_id", "iso_week"]
    )
    op.create_table(
        "signposting_facts",
        sa.Column("respondent_key", sa.String(length=80), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key", "community_id", "iso_week"),
    )
    op.create_index(
        "ix_signposting_facts_community_week", "signposting_facts", ["community_id", "iso_week"]
    )
    op.create_table(
        "erased_respondents",
        sa.Column("respondent_key", sa.String(length=80), nullable=False),
        sa.PrimaryKeyConstraint("respondent_key"),
    )


def downgrade() -> None:
    raise NotImplementedError("facts with upstream ids are not recreated")
