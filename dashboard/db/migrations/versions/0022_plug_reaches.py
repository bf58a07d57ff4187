"""plug_reaches: each plug's reach as the worker last computed it (the leads' list of plugs
slow to notice a stop, the weekly review's shares)

Revision ID: 0022_plug_reaches
Revises: 0021_level_due
Create Date: 2026-12-07 12:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db.base import UTCDateTime

revision: str = "0022_plug_reaches"
down_revision: str | None = "0021_level_due"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table, empty: the worker's refresh fills it over its passes.
    op.create_table(
        "plug_reaches",
        sa.Column("device_id", sa.Integer(), nullable=False),
        sa.Column("learned_on", sa.Date(), nullable=False),
        sa.Column("verdict", sa.String(length=8), nullable=False),
        sa.Column("median_h", sa.Float(), nullable=True),
        sa.Column("worst_h", sa.Float(), nullable=True),
        sa.Column("basis", sa.String(length=40), nullable=True),
        sa.Column("computed_at", UTCDateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["device_id"], ["devices.id"], name=op.f("fk_plug_reaches_device_id_devices")
        ),
        sa.PrimaryKeyConstraint("device_id", name=op.f("pk_plug_reaches")),
    )


def downgrade() -> None:
    op.drop_table("plug_reaches")
