"""SMS and channel preferences, quiet hours, consent records, the send queue, provider
states, inbound messages and operator templates

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("phone", sa.String(length=20), nullable=True))
        batch.add_column(
            sa.Column(
                "preferred_channel", sa.String(length=8), nullable=False, server_default="email"
            )
        )
        batch.add_column(sa.Column("fallback_channel", sa.String(length=8), nullable=True))
        batch.add_column(sa.Column("quiet_start", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("quiet_end", sa.String(length=5), nullable=True))
        batch.add_column(sa.Column("sms_opted_out_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("email_opted_out_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("updated_at", sa.DateTime(timezone=True), nullable=True))
        batch.create_unique_constraint("uq_contacts_phone", ["phone"])
    op.create_table(
        "consent_records",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("member_id", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("given", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=64), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_consent_records_member_id", "consent_records", ["member_id"])
    with op.batch_alter_table("deliveries") as batch:
        batch.add_column(sa.Column("not_before", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("lease_until", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("provider_message_id", sa.String(length=64), nullable=True))
        batch.add_column(sa.Column("provider_state", sa.String(length=16), nullable=True))
        batch.add_column(
            sa.Column("provider_state_rank", sa.Integer(), nullable=False, server_default="0")
        )
        batch.add_column(sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True))
        batch.add_column(sa.Column("source_event", sa.Text(), nullable=True))
    op.create_index("ix_deliveries_provider_message_id", "deliveries", ["provider_message_id"])
    op.create_index("ix_deliveries_queue", "deliveries", ["status", "not_before"])
    op.create_table(
        "inbound_messages",
        sa.Column("provider_message_id", sa.String(length=64), primary_key=True),
        sa.Column("member_id", sa.String(length=64), nullable=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("delivery_id", sa.String(length=36), nullable=True),
        sa.Column("free_text", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_inbound_messages_member_id", "inbound_messages", ["member_id"])
    op.create_table(
        "prompt_templates",
        sa.Column("key", sa.String(length=64), nullable=False),
        sa.Column("locale", sa.String(length=16), nullable=False),
        sa.Column("channel", sa.String(length=8), nullable=False),
        sa.Column("subject", sa.Text(), nullable=True),
        sa.Column("text_body", sa.Text(), nullable=False),
        sa.Column("html_body", sa.Text(), nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("key", "locale", "channel"),
    )


def downgrade() -> None:
    op.drop_table("prompt_templates")
    op.drop_table("inbound_messages")
    op.drop_index("ix_deliveries_queue", "deliveries")
    op.drop_index("ix_deliveries_provider_message_id", "deliveries")
    with op.batch_alter_table("deliveries") as batch:
        for column in (
            "source_event",
            "delivered_at",
            "provider_state_rank",
            "provider_state",
            "provider_message_id",
            "lease_until",
            "not_before",
        ):
            batch.drop_column(column)
    op.drop_table("consent_records")
    with op.batch_alter_table("contacts") as batch:
        batch.drop_constraint("uq_contacts_phone", type_="unique")
        for column in (
            "updated_at",
            "email_opted_out_at",
            "sms_opted_out_at",
            "quiet_end",
            "quiet_start",
            "fallback_channel",
            "preferred_channel",
            "phone",
        ):
            batch.drop_column(column)
