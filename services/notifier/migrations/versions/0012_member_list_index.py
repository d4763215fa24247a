"""The member list's pages read from an index on (created_at, member_id)

Revision ID: 0012
Revises: 0011
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0012"
down_revision: str | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_contacts_created", "contacts", ["created_at", "member_id"])


def downgrade() -> None:
    op.drop_index("ix_contacts_created", table_name="contacts")
