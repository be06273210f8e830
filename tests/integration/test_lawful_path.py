"""A decision walks the whole major-decision procedure through the service layer."""

from __future__ import annotations

from datetime import timedelta

from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext, take_step
from decisionflow.roles import Role
from tests.conftest import PASSWORD


def test_lawful_path_reaches_archive_with_a_clean_chain(parts, people, clock):
    service = parts.decisions
    decision = service.create_decision(
        people[Role.STAFF],
        title="征地补偿标准调整",
        category="public_policy",
        undertaking_unit="housing",
        flags=FLAGS_FOR_PATH,
    )
    assert decision.state == "proposed"
    ctx_experts = (people[Role.EXPERT].id,)
    for step in MAJOR_DECISION_PATH:
        clock.advance(days=step.wait_days, minutes=5)
        ctx = StepContext(today=clock.today, expert_ids=ctx_experts, password=PASSWORD)
        take_step(service, step, people[step.role], decision.id, ctx)
    final = service.get(people[Role.SUPERVISOR], decision.id)
    assert final.state == "archived"
    assert final.final
    result = parts.verify_audit()
    assert result.ok, str(result)
    # one event for the creation and one for each step, nothing else
    assert result.events_checked == 1 + len(MAJOR_DECISION_PATH)
    assert clock.now - decision.created_at > timedelta(days=60)
