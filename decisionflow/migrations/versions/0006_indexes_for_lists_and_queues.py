"""Indexes for every list, filter and queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-26 14:00:00
"""

from __future__ import annotations

from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

#: table -> (index name, columns): each serves a list, a filter or a join of the pages
INDEXES: dict[str, list[tuple[str, list[str]]]] = {
    "decisions": [
        # keyset pages: newest activity first (the list), oldest first ("my work")
        ("ix_decisions_updated_at", ["updated_at", "id"]),
        # filtered by state, still in page order (it replaces the bare state index)
        ("ix_decisions_state_updated_at", ["state", "updated_at", "id"]),
        # what an executing unit sees
        ("ix_decisions_executing_unit", ["executing_unit_id", "updated_at", "id"]),
    ],
    "step_records": [("ix_step_records_kind_created_at", ["kind", "created_at"])],
    "audit_events": [
        ("ix_audit_events_actor_username", ["actor_username", "seq"]),
        ("ix_audit_events_action", ["action", "seq"]),
    ],
    "api_tokens": [("ix_api_tokens_user", ["user_id"])],
    "users": [("ix_users_role", ["role"])],
}


def upgrade() -> None:
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.drop_index("ix_decisions_state")
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, columns in indexes:
                batch_op.create_index(name, columns, unique=False)


def downgrade() -> None:
    for table, indexes in INDEXES.items():
        with op.batch_alter_table(table, schema=None) as batch_op:
            for name, _columns in indexes:
                batch_op.drop_index(name)
    with op.batch_alter_table("decisions", schema=None) as batch_op:
        batch_op.create_index("ix_decisions_state", ["state"], unique=False)
