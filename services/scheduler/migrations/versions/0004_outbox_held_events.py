"""Outbox rows may be held until a release time and retracted before it (shared outbox shape)

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
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("release_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("retract_key", sa.String(length=80), nullable=True))
        batch.create_index("ix_outbox_retract_key", ["retract_key"])


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_index("ix_outbox_retract_key")
        batch.drop_column("retract_key")
        batch.drop_column("release_at")
