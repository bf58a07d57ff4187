"""complaint import: the complaint system's id, import file, duplicates, text and place

Revision ID: 0009_complaint_import
Revises: 0008_review_budget
Create Date: 2026-12-02 13:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base

revision: str = "0009_complaint_import"
down_revision: str | None = "0008_review_budget"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Additive: every new column is nullable, so the demo's and older rows stay as they are.
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.add_column(sa.Column("source_ref", sa.String(length=80), nullable=True))
        batch_op.add_column(sa.Column("import_file", sa.String(length=200), nullable=True))
        batch_op.add_column(
            sa.Column("imported_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=True)
        )
        batch_op.add_column(sa.Column("duplicate_of", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("distance_m", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pii_text", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("pii_place", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("pii_lat", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("pii_lon", sa.Float(), nullable=True))
        batch_op.create_unique_constraint("uq_complaints_source_ref", ["source_ref"])
        batch_op.create_foreign_key(
            batch_op.f("fk_complaints_duplicate_of_complaints"),
            "complaints",
            ["duplicate_of"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("complaints", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_complaints_duplicate_of_complaints"), type_="foreignkey"
        )
        batch_op.drop_constraint("uq_complaints_source_ref", type_="unique")
        for column in (
            "pii_lon",
            "pii_lat",
            "pii_place",
            "pii_text",
            "distance_m",
            "duplicate_of",
            "imported_at",
            "import_file",
            "source_ref",
        ):
            batch_op.drop_column(column)
