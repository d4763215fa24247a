"""Exception dates, nudge policy and nudge timers

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
    with op.batch_alter_table("rituals") as batch:
        batch.add_column(sa.Column("exdates", sa.Text(), nullable=False, server_default=""))
        batch.add_column(sa.Column("nudge_after_s", sa.Integer(), nullable=True))
        batch.add_column(sa.Column("max_nudges", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "nudge_timers",
        sa.Column("due_event_id", sa.String(length=36), nullable=False),
        sa.Column("ritual_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("respond_by", sa.DateTime(timezone=True), nullable=True),
        sa.Column("next_nudge_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("nudges_sent", sa.Integer(), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("due_event_id"),
    )
    op.create_index("ix_nudge_timers_next_nudge_at", "nudge_timers", ["next_nudge_at"])
    op.create_index("ix_nudge_timers_ritual_id", "nudge_timers", ["ritual_id"])
    op.create_index("ix_nudge_timers_member_id", "nudge_timers", ["member_id"])
    op.create_index("ix_nudge_timers_respond_by", "nudge_timers", ["respond_by"])


def downgrade() -> None:
    op.drop_table("nudge_timers")
    with op.batch_alter_table("rituals") as batch:
        batch.drop_column("max_nudges")
        batch.drop_column("nudge_after_s")
        batch.drop_column("exdates")
