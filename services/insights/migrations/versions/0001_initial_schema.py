"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-25 18:40:04.660668
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:

    op.create_table(
        "response_facts",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("respondent_key", sa.String(length=64), nullable=False),
        sa.Column("ritual_id", sa.String(length=64), nullable=False),
        sa.Column("ritual_kind", sa.String(length=32), nullable=False),
        sa.Column("item", sa.String(length=64), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("on_time", sa.Boolean(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    with op.batch_alter_table("response_facts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_response_facts_community_week", ["community_id", "iso_week"], unique=False
        )


def downgrade() -> None:

    with op.batch_alter_table("response_facts", schema=None) as batch_op:
        batch_op.drop_index("ix_response_facts_community_week")

    op.drop_table("response_facts")
