"""Time slots: the slots each ritual offers (from its RitualDue events), a member's choice

Revision ID: 0011
Revises: 0010
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("ritual_choices") as batch:
        batch.add_column(sa.Column("time_slot", sa.String(length=5), nullable=True))
    op.create_table(
        "ritual_time_slots",
        sa.Column("ritual_id", sa.String(length=64), primary_key=True),
        sa.Column("time_slots", sa.String(length=32), nullable=False),
        sa.Column("ritual_version", sa.Integer(), nullable=False),
        sa.Column("learned_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ritual_time_slots")
    with op.batch_alter_table("ritual_choices") as batch:
        batch.drop_column("time_slot")
