"""Signposting counts

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "signposting_facts",
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.PrimaryKeyConstraint("event_id"),
    )
    op.create_index(
        "ix_signposting_facts_community_week", "signposting_facts", ["community_id", "iso_week"]
    )
    op.create_index("ix_response_facts_respondent_key", "response_facts", ["respondent_key"])


def downgrade() -> None:
    op.drop_index("ix_response_facts_respondent_key", "response_facts")
    op.drop_table("signposting_facts")
