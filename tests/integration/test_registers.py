"""The expert pool decides who may be asked (Art 20-21); the catalogue lists the year's matters."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from decisionflow.accounts import SYSTEM
from decisionflow.errors import InvalidInput, NotPermitted, RuleNotMet
from decisionflow.models import DecisionAssignment
from decisionflow.roles import Role
from tests.helpers import drive


def _ask(parts, people, decision_id, *experts):
    return parts.decisions.fire(
        people[Role.STAFF],
        decision_id,
        "request_expert_opinions",
        {"experts": [e.id for e in experts]},
    )


@pytest.fixture
def at_argumentation(parts, people, clock):
    """A decision flagged professional, waiting for experts to be asked."""
    return drive(parts, people, clock, before="request_expert_opinions").id


def _assigned(parts, decision_id):
    with parts.sessions() as session:
        return set(
            session.scalars(
                select(DecisionAssignment.user_id).where(
                    DecisionAssignment.decision_id == decision_id
                )
            )
        )


def test_an_expert_outside_the_pool_cannot_be_asked(parts, people, at_argumentation):
    """expert_2 has an account but no place in the pool: refused, citing Art 20, nobody assigned."""
    with parts.sessions() as session, session.begin():
        from decisionflow.models import ExpertProfile

        session.delete(session.get(ExpertProfile, people.expert_2.id))
    with pytest.raises(RuleNotMet) as refused:
        _ask(parts, people, at_argumentation, people[Role.EXPERT], people.expert_2)
    [rule] = refused.value.unmet
    assert rule.article == "Art 20"
    assert "is not in the expert pool" in rule.en
    assert _assigned(parts, at_argumentation) == set()


def test_an_expert_with_a_declared_interest_cannot_be_asked(parts, people, at_argumentation):
    """An expert who declared a direct interest in the housing bureau's matters is excluded."""
    parts.registers.enrol_expert(
        SYSTEM, username="expert_2", fields="建筑", declared_interests=["housing"]
    )
    with pytest.raises(RuleNotMet) as refused:
        _ask(parts, people, at_argumentation, people.expert_2)
    assert "declared a direct interest" in refused.value.unmet[0].en
    assert "直接利害关系" in refused.value.unmet[0].zh


def test_a_suspended_expert_cannot_be_asked_until_active_again(parts, people, at_argumentation):
    """Integrity records may suspend an expert (Art 21); reinstated, the expert may be asked."""
    parts.registers.enrol_expert(SYSTEM, username="expert_2", fields="建筑", status="suspended")
    with pytest.raises(RuleNotMet, match="Some chosen experts"):
        _ask(parts, people, at_argumentation, people.expert_2)
    parts.registers.enrol_expert(SYSTEM, username="expert_2", fields="建筑", status="active")
    _ask(parts, people, at_argumentation, people.expert_2)
    assert _assigned(parts, at_argumentation) == {people.expert_2.id}


def test_only_administrators_keep_the_pool_and_entries_must_be_valid(parts, people):
    """A clerk cannot enrol experts; a non-expert account or unknown unit is invalid input."""
    with pytest.raises(NotPermitted):
        parts.registers.enrol_expert(people[Role.STAFF], username="expert_2", fields="x")
    with pytest.raises(InvalidInput) as invalid:
        parts.registers.enrol_expert(
            SYSTEM, username="staff_a", fields="x", declared_interests=["nowhere"]
        )
    assert set(invalid.value.fields) == {"username", "declared_interests"}


def test_the_yearly_catalogue_lists_its_matters(parts, people):
    """Entries name the matter, the undertaking unit and the planned timing (Art 10)."""
    entry = parts.registers.add_catalogue_entry(
        SYSTEM,
        year=2026,
        matter="集体土地征收补偿标准调整",
        undertaking_unit="housing",
        planned_timing="2026 年第三季度",
        published=True,
    )
    [(found, unit)] = parts.registers.catalogue(2026)
    assert (found.id, found.matter, unit.code, found.published) == (
        entry,
        "集体土地征收补偿标准调整",
        "housing",
        True,
    )
    assert parts.registers.catalogue(2027) == []
    with pytest.raises(InvalidInput) as invalid:
        parts.registers.add_catalogue_entry(
            SYSTEM, year=1999, matter="", undertaking_unit="x", planned_timing=""
        )
    assert set(invalid.value.fields) == {"year", "matter", "undertaking_unit"}


def test_a_successor_keeps_the_co_units_and_names_who_opened_it(parts, people, clock):
    """A major adjustment re-runs the procedure for the same units: the co-unit's clerk reaches it."""
    from decisionflow.models import Decision

    original = drive(parts, people, clock, through="progress_report", co_units=["ecology"])
    chief = people[Role.CHIEF_EXECUTIVE]
    parts.decisions.fire(
        chief,
        original.id,
        "order_evaluation",
        {"reason": "results_missed", "evaluator": "省行政学院"},
    )
    parts.decisions.add_record(
        people[Role.GOVERNMENT_OFFICE],
        original.id,
        "evaluation_report",
        {"findings": "选址冲突", "public_heard": "座谈会", "conclusion": "adjust"},
    )
    parts.decisions.fire(chief, original.id, "adjust_decision", {"reasons": "重大调整"})
    with parts.sessions() as session:
        successor = session.scalars(
            select(Decision).where(Decision.predecessor_id == original.id)
        ).one()
    # department B's clerk, a co-unit of the original, may work on the successor
    assert parts.decisions.get(people.staff_b, successor.id).state == "proposed"
    assert successor.created_by == chief.id


def test_an_administrator_cannot_demote_or_lock_out_themselves(parts, people):
    """An administrator changing their own role or deactivating themselves is refused."""
    from decisionflow.errors import InvalidInput as Invalid

    admin = people[Role.ADMIN]
    with pytest.raises(Invalid, match="your own"):
        parts.admin.update_user(admin, username=admin.username, role="staff", active=True)
    with pytest.raises(Invalid, match="your own"):
        parts.admin.update_user(admin, username=admin.username, active=False)
