"""responders: police boxes, welfare centers and partner places; responder dispatches

Revision ID: 0007_responders
Revises: 0006_detection
Create Date: 2026-12-02 10:40:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import dashboard.db.base

revision: str = "0007_responders"
down_revision: str | None = "0006_detection"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_KINDS_BEFORE = "kind IN ('ai_recall','dong_center','field_visit','emergency_119','guardian_call')"
_KINDS_AFTER = (
    "kind IN ('ai_recall','dong_center','field_visit','emergency_119','guardian_call','responder')"
)


def upgrade() -> None:
    op.create_table(
        "responders",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("subtype", sa.String(length=40), nullable=True),
        sa.Column("address", sa.String(length=200), nullable=True),
        sa.Column("phone", sa.String(length=40), nullable=True),
        sa.Column("region_id", sa.Integer(), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("approximate", sa.Boolean(), nullable=False),
        sa.Column("source", sa.String(length=60), nullable=False),
        sa.Column("source_ref", sa.String(length=60), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("updated_at", dashboard.db.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column("updated_by", sa.String(length=60), nullable=False),
        sa.CheckConstraint(
            "kind IN ('police_box','welfare_center','dementia_partner','bus_stop','other')",
            name=op.f("ck_responders_kind"),
        ),
        sa.CheckConstraint(
            "(lat IS NULL) = (lon IS NULL)", name=op.f("ck_responders_position_pair")
        ),
        sa.ForeignKeyConstraint(
            ["region_id"], ["regions.id"], name=op.f("fk_responders_region_id_regions")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_responders")),
        sa.UniqueConstraint("source", "source_ref", name="uq_responders_source_ref"),
    )
    with op.batch_alter_table("responders", schema=None) as batch_op:
        batch_op.create_index("ix_responders_active_kind", ["active", "kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_responders_region_id"), ["region_id"], unique=False)
    # Nothing points at dispatches, so SQLite's table rebuild needs no foreign-key dance.
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dispatches_kind"), type_="check")
        batch_op.create_check_constraint("kind", _KINDS_AFTER)


def downgrade() -> None:
    # The older schema has no responder dispatch: its rows go with the table they point at.
    op.execute("DELETE FROM dispatches WHERE kind = 'responder'")
    with op.batch_alter_table("dispatches", schema=None) as batch_op:
        batch_op.drop_constraint(op.f("ck_dispatches_kind"), type_="check")
        batch_op.create_check_constraint("kind", _KINDS_BEFORE)
    with op.batch_alter_table("responders", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_responders_region_id"))
        batch_op.drop_index("ix_responders_active_kind")
    op.drop_table("responders")
