"""review budget: imported files, monthly budget execution, imported incentive statements

Revision ID: 0008_review_budget
Revises: 0007_responders
Create Date: 2026-12-02 13:10:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base

revision: str = "0008_review_budget"
down_revision: str | None = "0007_responders"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_IMPORTED = sa.text("import_id IS NOT NULL")


def upgrade() -> None:
    op.create_table(
        "data_imports",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("rows", sa.Integer(), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=True),
        sa.Column("imported_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("imported_by", sa.String(length=60), nullable=False),
        sa.CheckConstraint(
            "kind IN ('budget_execution','incentive_ledger')", name=op.f("ck_data_imports_kind")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_imports")),
    )
    with op.batch_alter_table("data_imports", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_imports_kind"), ["kind"], unique=False)

    op.create_table(
        "budget_execution",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=False),
        sa.Column("fiscal_year", sa.Integer(), nullable=False),
        sa.Column("month", sa.Integer(), nullable=False),
        sa.Column("region_id", sa.Integer(), nullable=False),
        sa.Column("unit_project", sa.String(length=120), nullable=False),
        sa.Column("funding_source", sa.String(length=20), nullable=False),
        sa.Column("unit", sa.String(length=10), nullable=False),
        sa.Column("plan", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("secured", sa.Numeric(precision=18, scale=3), nullable=True),
        sa.Column("executed", sa.Numeric(precision=18, scale=3), nullable=False),
        sa.Column("planned", sa.Numeric(precision=18, scale=3), nullable=True),
        sa.Column("unit_price_won", sa.Numeric(precision=18, scale=0), nullable=True),
        sa.Column("quantity", sa.Numeric(precision=18, scale=3), nullable=True),
        sa.CheckConstraint(
            "funding_source IN ('national','provincial','city','district','private','other')",
            name=op.f("ck_budget_execution_funding_source"),
        ),
        sa.CheckConstraint("month BETWEEN 1 AND 12", name=op.f("ck_budget_execution_month")),
        sa.CheckConstraint("unit IN ('원','천원','백만원')", name=op.f("ck_budget_execution_unit")),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["data_imports.id"],
            name=op.f("fk_budget_execution_import_id_data_imports"),
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_budget_execution_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_budget_execution")),
        sa.UniqueConstraint(
            "fiscal_year",
            "month",
            "region_id",
            "unit_project",
            "funding_source",
            name="uq_budget_execution_line_month",
        ),
    )
    with op.batch_alter_table("budget_execution", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_budget_execution_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_budget_execution_region_id"), ["region_id"], unique=False
        )

    with op.batch_alter_table("incentive_ledger", schema=None) as batch_op:
        batch_op.add_column(sa.Column("region_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("import_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_incentive_ledger_region_id_regions"), "regions", ["region_id"], ["id"]
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_incentive_ledger_import_id_data_imports"),
            "data_imports",
            ["import_id"],
            ["id"],
        )
        batch_op.create_index(
            batch_op.f("ix_incentive_ledger_import_id"), ["import_id"], unique=False
        )
        batch_op.create_index(
            "uq_incentive_ledger_imported",
            ["program_id", "region_id", "occurred_on", "kind"],
            unique=True,
            sqlite_where=_IMPORTED,
            postgresql_where=_IMPORTED,
        )


def downgrade() -> None:
    # The older schema cannot say which rows were imported: imported statements go with it.
    op.execute("DELETE FROM incentive_ledger WHERE import_id IS NOT NULL")
    with op.batch_alter_table("incentive_ledger", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_incentive_ledger_imported", sqlite_where=_IMPORTED, postgresql_where=_IMPORTED
        )
        batch_op.drop_index(batch_op.f("ix_incentive_ledger_import_id"))
        batch_op.drop_constraint(
            batch_op.f("fk_incentive_ledger_import_id_data_imports"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_incentive_ledger_region_id_regions"), type_="foreignkey"
        )
        batch_op.drop_column("import_id")
        batch_op.drop_column("region_id")
    with op.batch_alter_table("budget_execution", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_budget_execution_region_id"))
        batch_op.drop_index(batch_op.f("ix_budget_execution_import_id"))
    op.drop_table("budget_execution")
    with op.batch_alter_table("data_imports", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_imports_kind"))
    op.drop_table("data_imports")
