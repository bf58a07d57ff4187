"""the silence tick's due time per device, and the wall screen's device counts

Revision ID: 0013_due_and_counts
Revises: 0012_routine_due
Create Date: 2026-12-02 21:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base
from dashboard.db import device_counts

revision: str = "0013_due_and_counts"
down_revision: str | None = "0012_routine_due"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: NULL is "due at the next tick", so every device is judged once, then scheduled.
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("rules_due_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True)
        )
    big_id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
    op.create_table(
        "device_counts",
        sa.Column("id", big_id, autoincrement=True, nullable=False),
        sa.Column("program_id", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("never_seen", sa.Boolean(), nullable=False),
        sa.Column("devices", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_device_counts")),
    )
    bind = op.get_bind()
    device_counts.create_triggers(bind)
    # The triggers count what changes from now on; what is there now is counted once here.
    device_counts.recount(bind)


def downgrade() -> None:
    device_counts.drop_triggers(op.get_bind())
    op.drop_table("device_counts")
    with op.batch_alter_table("device_state", schema=None) as batch_op:
        batch_op.drop_column("rules_due_at")
