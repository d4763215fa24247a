"""Delivery log: indexes for its newest-first pages, overall and per ritual

Revision ID: 0008
Revises: 0007
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Pages are ordered on (created_at, id) and start after the previous page's last row; a
    # ritual's log is most of a community's rows, worth its own index (a member's is a few
    # rows a week: ix_deliveries_member_id serves it).
    op.create_index("ix_deliveries_log", "deliveries", ["created_at", "id"])
    op.create_index("ix_deliveries_ritual_log", "deliveries", ["ritual_id", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_deliveries_ritual_log", table_name="deliveries")
    op.drop_index("ix_deliveries_log", table_name="deliveries")
