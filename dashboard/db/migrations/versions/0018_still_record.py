"""unusual stillness: device_routines.still_h, the longest still run of the learning window

Revision ID: 0018_still_record
Revises: 0017_light_course
Create Date: 2026-12-05 04:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0018_still_record"
down_revision: str | None = "0017_light_course"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN on both backends (nullable: a routine learned before has no record, and
    # the stillness test waits for the next nightly learning).
    op.add_column("device_routines", sa.Column("still_h", sa.Float(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("device_routines", schema=None) as batch_op:
        batch_op.drop_column("still_h")
