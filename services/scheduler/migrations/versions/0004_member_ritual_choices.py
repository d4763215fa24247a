"""Members' own choices per ritual (paused, stopped, active), from the notifier's preferences page

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
        "member_ritual_choices",
        sa.Column("member_id", sa.String(length=64), primary_key=True),
        sa.Column("ritual_id", sa.String(length=64), primary_key=True),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sequence", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
    )
    op.create_index("ix_member_ritual_choices_ritual", "member_ritual_choices", ["ritual_id"])


def downgrade() -> None:
    op.drop_index("ix_member_ritual_choices_ritual", table_name="member_ritual_choices")
    op.drop_table("member_ritual_choices")
