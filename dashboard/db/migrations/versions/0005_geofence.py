"""geofence: a person's polygon zone and quiet hours (wandering detectors)

Revision ID: 0005_geofence
Revises: 0004_enrollment
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db.sqlite_rebuild import check_foreign_keys, require_foreign_keys_off

revision: str = "0005_geofence"
down_revision: str | None = "0004_enrollment"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Nullable columns: existing people keep the circle and the program's night.
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.add_column(sa.Column("quiet_start_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("quiet_end_min", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("pii_zone_polygon", sa.JSON(), nullable=True))


def downgrade() -> None:
    # SQLite rebuilds care_recipients to drop columns while devices and alerts point at it:
    # the migration runner keeps foreign keys off for the copy; they are verified after it.
    require_foreign_keys_off()
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.drop_column("pii_zone_polygon")
        batch_op.drop_column("quiet_end_min")
        batch_op.drop_column("quiet_start_min")
    check_foreign_keys("care_recipients")
