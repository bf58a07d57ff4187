"""slow decline: per-day figures of a plug and the person's slow-risk flag

Revision ID: 0014_decline
Revises: 0012_routine_due
Create Date: 2026-12-02 20:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_decline"
down_revision: str | None = "0013_due_and_counts"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable: days stored before (and days without a learned background, for above_slots)
    # are unknown, not zero; the slow-risk judgement leaves them out.
    with op.batch_alter_table("device_daily", schema=None) as batch_op:
        batch_op.add_column(sa.Column("above_slots", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("watts_sum", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("watts_n", sa.Integer(), nullable=True))
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("slow_risk_since", sa.Date(), nullable=True))
        batch_op.add_column(sa.Column("slow_risk_detail", sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.drop_column("slow_risk_detail")
        batch_op.drop_column("slow_risk_since")
    with op.batch_alter_table("device_daily", schema=None) as batch_op:
        batch_op.drop_column("watts_n")
        batch_op.drop_column("watts_sum")
        batch_op.drop_column("above_slots")
