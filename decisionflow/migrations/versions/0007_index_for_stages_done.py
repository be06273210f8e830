"""An index that answers which stages a decision has moved out of

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-26 18:30:00
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # The decision page draws the stages done from the decision's done events: with the
    # outcome and the stage in the index, that is one short range of it, not a read of
    # every event row, which on a log of millions lie far apart.
    op.create_index(
        "ix_audit_events_decision_done",
        "audit_events",
        ["decision_id", "outcome", "state_before"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_audit_events_decision_done", table_name="audit_events")
