"""Members' own preferences: a choice per ritual, and what a consent-trail row was about

Revision ID: 0010
Revises: 0009
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("consent_records") as batch:
        batch.add_column(sa.Column("ritual_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("detail", sa.String(length=64), nullable=True))
    op.create_table(
        "ritual_choices",
        sa.Column("member_id", sa.String(length=64), primary_key=True),
        sa.Column("ritual_id", sa.String(length=64), primary_key=True),
        sa.Column("choice", sa.String(length=16), nullable=False),
        sa.Column("chosen_at", sa.DateTime(timezone=True), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("ritual_choices")
    with op.batch_alter_table("consent_records") as batch:
        batch.drop_column("detail")
        batch.drop_column("ritual_id")
