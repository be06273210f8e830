"""Statutory procedure records

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 10:47:07.865321
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "document_counters",
        sa.Column("procedure", sa.String(length=64), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("last", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("procedure", "year", name=op.f("pk_document_counters")),
    )
    op.create_table(
        "catalogue_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("matter", sa.String(length=300), nullable=False),
        sa.Column("undertaking_unit_id", sa.Integer(), nullable=False),
        sa.Column("planned_timing", sa.String(length=100), nullable=False),
        sa.Column("published", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["undertaking_unit_id"],
            ["departments.id"],
            name=op.f("fk_catalogue_entries_undertaking_unit_id_departments"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_catalogue_entries")),
    )
    with op.batch_alter_table("catalogue_entries", schema=None) as batch_op:
        batch_op.create_index("ix_catalogue_entries_year", ["year"], unique=False)

    op.create_table(
        "expert_profiles",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("fields", sa.String(length=300), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column(
            "declared_interests",
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), "postgresql"),
            nullable=False,
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_expert_profiles_user_id_users")
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_expert_profiles")),
    )
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("overlay", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("predecessor_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("catalogue_entry_id", sa.Integer(), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_decisions_predecessor_id_decisions"),
            "decisions",
            ["predecessor_id"],
            ["id"],
        )
        batch_op.create_foreign_key(
            batch_op.f("fk_decisions_catalogue_entry_id_catalogue_entries"),
            "catalogue_entries",
            ["catalogue_entry_id"],
            ["id"],
        )


def downgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_constraint(
            batch_op.f("fk_decisions_catalogue_entry_id_catalogue_entries"), type_="foreignkey"
        )
        batch_op.drop_constraint(
            batch_op.f("fk_decisions_predecessor_id_decisions"), type_="foreignkey"
        )
        batch_op.drop_column("catalogue_entry_id")
        batch_op.drop_column("predecessor_id")
        batch_op.drop_column("overlay")

    op.drop_table("expert_profiles")
    with op.batch_alter_table("catalogue_entries", schema=None) as batch_op:
        batch_op.drop_index("ix_catalogue_entries_year")

    op.drop_table("catalogue_entries")
    op.drop_table("document_counters")
