"""different_people: pairs of people a lead judged to be different persons, so the duplicate
check (same name and birth year and one more key) stops naming them

Revision ID: 0023_different_people
Revises: 0022_plug_reaches
Create Date: 2026-12-08 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db.base import UTCDateTime

revision: str = "0023_different_people"
down_revision: str | None = "0022_plug_reaches"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # A new table, empty: no pair has been judged before the check exists.
    op.create_table(
        "different_people",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("first_id", sa.Integer(), nullable=False),
        sa.Column("second_id", sa.Integer(), nullable=False),
        sa.Column("marked_at", UTCDateTime(timezone=True), nullable=False),
        sa.Column("marked_by", sa.String(length=60), nullable=False),
        sa.CheckConstraint("first_id < second_id", name=op.f("ck_different_people_ordered")),
        sa.ForeignKeyConstraint(
            ["first_id"],
            ["care_recipients.id"],
            name=op.f("fk_different_people_first_id_care_recipients"),
        ),
        sa.ForeignKeyConstraint(
            ["second_id"],
            ["care_recipients.id"],
            name=op.f("fk_different_people_second_id_care_recipients"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_different_people")),
        sa.UniqueConstraint("first_id", "second_id", name="uq_different_people_pair"),
    )
    op.create_index(
        op.f("ix_different_people_second_id"), "different_people", ["second_id"], unique=False
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_different_people_second_id"), table_name="different_people")
    op.drop_table("different_people")
