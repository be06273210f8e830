"""Public comments and API tokens

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26 10:39:59.066479
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "api_tokens",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("last_used_at", sa.DateTime(), nullable=True),
        sa.Column("revoked", sa.Boolean(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_api_tokens_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_api_tokens")),
        sa.UniqueConstraint("token_hash", name=op.f("uq_api_tokens_token_hash")),
    )
    op.create_table(
        "public_comments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("decision_id", sa.Integer(), nullable=False),
        sa.Column("receipt", sa.String(length=32), nullable=False),
        sa.Column("author_name", sa.String(length=100), nullable=False),
        sa.Column("contact", sa.String(length=200), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("origin_digest", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("held_reason", sa.String(length=200), nullable=False),
        sa.Column("disposition", sa.String(length=32), nullable=True),
        sa.Column("disposition_reason", sa.Text(), nullable=False),
        sa.Column("disposed_by", sa.Integer(), nullable=True),
        sa.Column("disposed_at", sa.DateTime(), nullable=True),
        sa.ForeignKeyConstraint(
            ["decision_id"], ["decisions.id"], name=op.f("fk_public_comments_decision_id_decisions")
        ),
        sa.ForeignKeyConstraint(
            ["disposed_by"], ["users.id"], name=op.f("fk_public_comments_disposed_by_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_public_comments")),
        sa.UniqueConstraint("receipt", name=op.f("uq_public_comments_receipt")),
    )
    with op.batch_alter_table("public_comments", schema=None) as batch_op:
        batch_op.create_index("ix_public_comments_decision", ["decision_id", "id"], unique=False)
        batch_op.create_index(
            "ix_public_comments_origin", ["origin_digest", "received_at"], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table("public_comments", schema=None) as batch_op:
        batch_op.drop_index("ix_public_comments_origin")
        batch_op.drop_index("ix_public_comments_decision")

    op.drop_table("public_comments")
    op.drop_table("api_tokens")
