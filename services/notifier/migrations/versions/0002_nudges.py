"""Nudge deliveries: zone, nudge number and the delivery their links answer

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
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(
            sa.Column("timezone", sa.String(length=64), nullable=False, server_default="UTC")
        )
        batch.add_column(
            sa.Column("nudge_number", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("answers_delivery_id", sa.String(length=36), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("deliveries") as batch:
        batch.drop_column("answers_delivery_id")
        batch.drop_column("nudge_number")
        batch.drop_column("timezone")
