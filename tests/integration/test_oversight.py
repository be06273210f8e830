"""The engine itself refuses reading or verifying the audit log to roles that may not."""

from __future__ import annotations

import pytest

from decisionflow.errors import NotPermitted
from decisionflow.roles import Role


@pytest.mark.parametrize(
    ("role", "reads", "verifies"),
    [
        (Role.SUPERVISOR, True, True),
        (Role.ADMIN, False, True),
        (Role.STAFF, False, False),
        (Role.CHIEF_EXECUTIVE, False, False),
    ],
)
def test_only_supervision_reads_and_verifies(parts, people, role, reads, verifies):
    """Supervisors read and verify; administrators only verify; others neither — refused by the engine."""
    parts.decisions.create_decision(
        people[Role.STAFF], title="测试事项", category="public_policy", undertaking_unit="housing"
    )
    who = people[role]
    if reads:
        page = parts.oversight.events(who)
        assert [e.action for e in page.items] == ["create_decision"] and page.next is None
    else:
        with pytest.raises(NotPermitted, match="may not read the audit log"):
            parts.oversight.events(who)
    if verifies:
        assert parts.oversight.verify(who).ok
    else:
        with pytest.raises(NotPermitted, match="may not verify"):
            parts.oversight.verify(who)
