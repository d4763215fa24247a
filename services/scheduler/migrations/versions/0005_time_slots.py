"""Time slots: a ritual's local times members choose among, a cursor per slot, a member's choice

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PRIMARY_KEY = "schedule_cursors_pkey"  # PostgreSQL's name for it (the table names none)


def upgrade() -> None:
    op.add_column(
        "rituals", sa.Column("time_slots", sa.String(length=32), nullable=False, server_default="")
    )
    op.add_column(
        "member_ritual_choices", sa.Column("time_slot", sa.String(length=5), nullable=True)
    )
    # Existing cursors are the default slot's (0); the slot joins the key.
    slot = sa.Column("slot", sa.Integer(), nullable=False, server_default="0")
    _set_cursor_key(slot, ["ritual_id", "timezone", "slot"])


def downgrade() -> None:
    op.execute("DELETE FROM schedule_cursors WHERE slot <> 0")
    _set_cursor_key(None, ["ritual_id", "timezone"])
    op.drop_column("member_ritual_choices", "time_slot")
    op.drop_column("rituals", "time_slots")


def _set_cursor_key(added: sa.Column[int] | None, key: list[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        _rebuild_cursors_on_sqlite(key)
        return
    if added is not None:
        op.add_column("schedule_cursors", added)
    op.drop_constraint(PRIMARY_KEY, "schedule_cursors", type_="primary")
    if added is None:
        op.drop_column("schedule_cursors", "slot")
    op.create_primary_key(PRIMARY_KEY, "schedule_cursors", key)


def _rebuild_cursors_on_sqlite(key: list[str]) -> None:
    """SQLite cannot alter a primary key (and alembic's batch mode keeps the reflected one):
    a new table with the new key, the rows copied, then renamed in place of the old."""
    columns: list[sa.schema.SchemaItem] = [
        sa.Column("ritual_id", sa.String(length=64), nullable=False),
        sa.Column("timezone", sa.String(length=64), nullable=False),
        sa.Column("next_due_at", sa.DateTime(timezone=True), nullable=False),
    ]
    if "slot" in key:
        columns.append(sa.Column("slot", sa.Integer(), nullable=False, server_default="0"))
    op.create_table(
        "schedule_cursors_rebuilt",
        *columns,
        sa.ForeignKeyConstraint(["ritual_id"], ["rituals.id"], ondelete="CASCADE"),
        sa.PrimaryKeyConstraint(*key),
    )
    copied = "ritual_id, timezone, next_due_at"
    op.execute(
        f"INSERT INTO schedule_cursors_rebuilt ({copied}) SELECT {copied} FROM schedule_cursors"  # noqa: S608 - fixed names
    )
    op.drop_index("ix_schedule_cursors_next_due_at", table_name="schedule_cursors")
    op.drop_table("schedule_cursors")
    op.rename_table("schedule_cursors_rebuilt", "schedule_cursors")
    op.create_index("ix_schedule_cursors_next_due_at", "schedule_cursors", ["next_due_at"])
