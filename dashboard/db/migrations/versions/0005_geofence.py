"""geofence: a person's polygon zone and quiet hours (wandering detectors)

Revision ID: 0005_geofence
Revises: 0004_enrollment
Create Date: 2026-12-02 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

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
    # foreign keys off (outside a transaction) for the copy, then back on and verified.
    bind = op.get_bind()
    sqlite = bind.dialect.name == "sqlite"
    if sqlite:
        raw = bind.connection.dbapi_connection
        if raw.in_transaction:
            raw.commit()
        op.execute("PRAGMA foreign_keys = OFF")
    with op.batch_alter_table("care_recipients", schema=None) as batch_op:
        batch_op.drop_column("pii_zone_polygon")
        batch_op.drop_column("quiet_end_min")
        batch_op.drop_column("quiet_start_min")
    if sqlite:
        op.execute("PRAGMA foreign_keys = ON")
        broken = bind.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        if broken:
            raise RuntimeError(f"foreign keys broken by the care_recipients rebuild: {broken[:5]}")
