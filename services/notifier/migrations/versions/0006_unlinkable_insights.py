"""Unlinkable insights: a pseudonym seed per member, weekly releases, support messages sent,
erased members, daily tombstone batches, stream scrubs, retention indexes

Revision ID: 0006
Revises: 0005
"""

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("pseudonym_seed", sa.String(length=64), nullable=True))
    contacts = sa.table(
        "contacts", sa.column("member_id", sa.String()), sa.column("pseudonym_seed", sa.String())
    )
    connection = op.get_bind()
    member_ids = connection.execute(sa.select(contacts.c.member_id)).scalars().all()
    for member_id in member_ids:  # a random seed each: nothing derivable from the id
        connection.execute(
            contacts.update()
            .where(contacts.c.member_id == member_id)
            .values(pseudonym_seed=secrets.token_hex(32))
        )
    with op.batch_alter_table("contacts") as batch:
        batch.alter_column("pseudonym_seed", existing_type=sa.String(length=64), nullable=False)
    op.create_table(
        "signposts",
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("community_id", sa.String(length=64), nullable=False),
        sa.Column("iso_week", sa.String(length=8), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("member_id", "community_id", "iso_week"),
    )
    op.create_index("ix_signposts_recorded_at", "signposts", ["recorded_at"])
    op.create_table(
        "insights_weeks",
        sa.Column("iso_week", sa.String(length=8), primary_key=True),
        sa.Column("released_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("facts", sa.Integer(), nullable=False),
        sa.Column("announced", sa.Boolean(), nullable=False),
    )
    op.create_table(
        "erased_members",
        sa.Column("member_hash", sa.String(length=64), primary_key=True),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "pending_tombstones",
        sa.Column("respondent_key", sa.String(length=80), primary_key=True),
        sa.Column("release_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_pending_tombstones_release_at", "pending_tombstones", ["release_at"])
    op.create_table(
        "erasure_scrubs",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("respondent_keys", sa.Text(), nullable=False),
        sa.Column("erased_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("scrub_after", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_erasure_scrubs_scrub_after", "erasure_scrubs", ["scrub_after"])
    op.create_index("ix_deliveries_created_at", "deliveries", ["created_at"])
    op.create_index("ix_deliveries_occurrence_local_date", "deliveries", ["occurrence_local_date"])
    op.create_index("ix_inbound_messages_received_at", "inbound_messages", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_received_at", "inbound_messages")
    op.drop_index("ix_deliveries_occurrence_local_date", "deliveries")
    op.drop_index("ix_deliveries_created_at", "deliveries")
    op.drop_index("ix_erasure_scrubs_scrub_after", "erasure_scrubs")
    op.drop_table("erasure_scrubs")
    op.drop_index("ix_pending_tombstones_release_at", "pending_tombstones")
    op.drop_table("pending_tombstones")
    op.drop_table("erased_members")
    op.drop_table("insights_weeks")
    op.drop_index("ix_signposts_recorded_at", "signposts")
    op.drop_table("signposts")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("pseudonym_seed")
