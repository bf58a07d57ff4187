"""participation import: enrolments keyed by the program's participant number, a second
outcome, weekly activity, and 'participation' as an import kind

Revision ID: 0010_participation
Revises: 0009_complaint_import
Create Date: 2026-12-02 17:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from dashboard.db.sqlite_rebuild import check_foreign_keys, require_foreign_keys_off

revision: str = "0010_participation"
down_revision: str | None = "0009_complaint_import"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_OLD_KINDS = "kind IN ('budget_execution','incentive_ledger')"
_NEW_KINDS = "kind IN ('budget_execution','incentive_ledger','participation')"


def upgrade() -> None:
    # SQLite rebuilds data_imports for its CHECK while imported rows point at it.
    require_foreign_keys_off()
    with op.batch_alter_table("data_imports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_data_imports_kind"), type_="check")
        batch_op.create_check_constraint("kind", _NEW_KINDS)
    check_foreign_keys("data_imports")

    # Additive and nullable: the demo's and older enrolments stay as they are. Their refs are
    # already unique per program (the demo numbers them), so the key can be added.
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("risk_reduced", sa.Boolean(), nullable=True))
        batch_op.add_column(sa.Column("import_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_enrolments_import_id"), ["import_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_enrolments_import_id_data_imports"),
            "data_imports",
            ["import_id"],
            ["id"],
        )
        batch_op.create_unique_constraint(
            "uq_enrolments_program_ref", ["program_id", "participant_ref"]
        )

    op.create_table(
        "participation_weeks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("enrolment_id", sa.Integer(), nullable=False),
        sa.Column("week", sa.Integer(), nullable=False),
        sa.Column("active_days", sa.Integer(), nullable=False),
        sa.Column("import_id", sa.Integer(), nullable=True),
        sa.CheckConstraint(
            "active_days BETWEEN 0 AND 7", name=op.f("ck_participation_weeks_active_days")
        ),
        sa.CheckConstraint("week BETWEEN 0 AND 104", name=op.f("ck_participation_weeks_week")),
        sa.ForeignKeyConstraint(
            ["enrolment_id"],
            ["enrolments.id"],
            name=op.f("fk_participation_weeks_enrolment_id_enrolments"),
        ),
        sa.ForeignKeyConstraint(
            ["import_id"],
            ["data_imports.id"],
            name=op.f("fk_participation_weeks_import_id_data_imports"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participation_weeks")),
        sa.UniqueConstraint("enrolment_id", "week", name="uq_participation_weeks_key"),
    )
    with op.batch_alter_table("participation_weeks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_participation_weeks_enrolment_id"), ["enrolment_id"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_participation_weeks_import_id"), ["import_id"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("participation_weeks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_participation_weeks_import_id"))
        batch_op.drop_index(batch_op.f("ix_participation_weeks_enrolment_id"))
    op.drop_table("participation_weeks")
    with op.batch_alter_table("enrolments", schema=None) as batch_op:
        batch_op.drop_constraint("uq_enrolments_program_ref", type_="unique")
        batch_op.drop_constraint(
            batch_op.f("fk_enrolments_import_id_data_imports"), type_="foreignkey"
        )
        batch_op.drop_index(batch_op.f("ix_enrolments_import_id"))
        batch_op.drop_column("import_id")
        batch_op.drop_column("risk_reduced")
    # The older schema has no participation imports (their rows went with the tables above).
    op.execute("DELETE FROM data_imports WHERE kind = 'participation'")
    require_foreign_keys_off()
    with op.batch_alter_table("data_imports", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_data_imports_kind"), type_="check")
        batch_op.create_check_constraint("kind", _OLD_KINDS)
    check_foreign_keys("data_imports")
