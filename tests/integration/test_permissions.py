"""Who may do what: roles per move and record, department scope, assigned experts, executors."""

from __future__ import annotations

import pytest

from decisionflow.errors import InvalidInput, NotPermitted
from decisionflow.roles import ACCOUNT_ROLES, ROLE_LABELS, Role
from tests.conftest import PASSWORD
from tests.helpers import drive, new_decision, refused, snapshot, take

PDF = {"filename": "说明.pdf", "content_type": "application/pdf", "data": b"%PDF-1.7 test"}
SCOPE_REFUSAL = "This decision is not one your department handles"


def _definition(parts):
    return parts.registry.current("major_decision")


def _all_transitions(definition):
    yield from definition.transitions
    for state in definition.states:
        for branch in state.branches:
            yield from branch.transitions


def test_every_trigger_refuses_every_role_it_does_not_list(parts, people, clock):
    """Each move refuses the roles its definition does not name: NotPermitted, rule "role",
    the move's article — whatever stage the decision is in."""
    # executing unit and an assigned expert, so that department scope lets every role in
    decision = drive(
        parts, people, clock, through="request_expert_opinions", executing_unit="housing"
    )
    checked = set()
    for transition in _all_transitions(_definition(parts)):
        for role in ACCOUNT_ROLES:
            if role in transition.roles:
                continue
            with refused(
                parts, decision.id, NotPermitted, rule="role", article=transition.article
            ) as info:
                parts.decisions.fire(people[role], decision.id, transition.trigger, {})
            allowed = ", ".join(ROLE_LABELS[r][1] for r in transition.roles)
            assert info.value.unmet[0].en == f"Only {allowed} may do this"
            checked.add(transition.trigger)
    assert checked == set(_definition(parts).triggers)  # no move is open to every role


def test_every_record_refuses_every_role_it_does_not_list(parts, people, clock):
    """Each kind of record refuses the roles its definition does not name, citing its article."""
    decision = drive(
        parts, people, clock, through="request_expert_opinions", executing_unit="housing"
    )
    for kind, spec in _definition(parts).records.items():
        for role in ACCOUNT_ROLES:
            if role in spec.roles:
                continue
            with refused(parts, decision.id, NotPermitted, rule="role", article=spec.article):
                parts.decisions.add_record(people[role], decision.id, kind, {})


def test_role_refusal_names_who_may_act(parts, people):
    """The refusal tells the clerk which role may start the procedure."""
    decision = new_decision(parts, people)
    with refused(parts, decision.id, NotPermitted, rule="role", article="Art 10") as info:
        parts.decisions.fire(people[Role.STAFF], decision.id, "start_procedure", {"reasons": "x"})
    assert info.value.unmet[0].en == "Only Chief executive may do this"
    assert info.value.unmet[0].zh == "此操作仅限行政首长办理"


def test_other_department_cannot_touch_or_even_see_a_decision(parts, people, clock):
    """Department B's clerk cannot fire, add records, attach, list actions or get A's decision."""
    service, outsider = parts.decisions, people.staff_b
    decision = drive(parts, people, clock, through="start_procedure")
    with refused(parts, decision.id, NotPermitted) as info:
        service.fire(outsider, decision.id, "submit_for_argumentation")
    assert info.value.en == SCOPE_REFUSAL
    with refused(parts, decision.id, NotPermitted):
        service.add_record(outsider, decision.id, "legal_basis", {"laws": "《土地管理法》"})
    with refused(parts, decision.id, NotPermitted):
        service.attach_file(outsider, decision.id, **PDF)
    with pytest.raises(NotPermitted):
        service.get(outsider, decision.id)
    with pytest.raises(NotPermitted):
        service.actions(outsider, decision.id)
    with pytest.raises(NotPermitted):  # nor open one in A's name
        service.create_decision(
            outsider, title="越权", category="public_policy", undertaking_unit="housing"
        )


def test_co_unit_clerk_works_on_the_shared_decision(parts, people, clock):
    """A co-unit (Art 11) may see and work on the decision like the lead unit."""
    service, co_clerk = parts.decisions, people.staff_b
    decision = new_decision(parts, people, co_units=["ecology"])
    assert service.get(co_clerk, decision.id).id == decision.id
    take(parts, people, clock, decision.id, "proposal")
    take(parts, people, clock, decision.id, "start_procedure")
    service.add_record(
        co_clerk,
        decision.id,
        "draft_version",
        {"content": "生态补偿部分", "cause": "initial", "change_note": "初稿"},
    )
    service.add_record(co_clerk, decision.id, "legal_basis", {"laws": "《环境保护法》"})
    service.add_record(
        co_clerk,
        decision.id,
        "department_consultation",
        {"departments": "住房和城乡建设局", "agreed": "补偿范围"},
    )
    service.attach_file(co_clerk, decision.id, **PDF)
    moved = service.fire(co_clerk, decision.id, "submit_for_argumentation")
    assert moved.state == "argumentation"
    assert [a.trigger for a in service.actions(co_clerk, decision.id)][:1] == ["return_to_drafting"]


def test_experts_act_only_once_assigned(parts, people, clock):
    """An expert sees and gives opinions only on decisions they were asked about (Art 19-20)."""
    service, expert, other = parts.decisions, people[Role.EXPERT], people.expert_2
    decision = drive(parts, people, clock, through="open_consultation")
    opinion = {"opinion": "同意"}
    with pytest.raises(NotPermitted):
        service.get(expert, decision.id)
    with refused(parts, decision.id, NotPermitted) as info:
        service.add_record(expert, decision.id, "expert_opinion", opinion, password=PASSWORD)
    assert info.value.en == SCOPE_REFUSAL
    take(parts, people, clock, decision.id, "request_expert_opinions")
    assert service.get(expert, decision.id).id == decision.id
    record = service.add_record(expert, decision.id, "expert_opinion", opinion, password=PASSWORD)
    # the opinion is kept as given, signed by the expert who gave it (Art 20)
    assert record.data["opinion"] == "同意"
    assert (record.data["signature"]["signer_id"], record.data["signature"]["article"]) == (
        expert.id,
        "Art 20",
    )
    with pytest.raises(NotPermitted):
        service.get(other, decision.id)
    with refused(parts, decision.id, NotPermitted) as info:
        service.add_record(other, decision.id, "expert_opinion", opinion, password=PASSWORD)
    assert info.value.en == SCOPE_REFUSAL


@pytest.mark.parametrize("who", ["unknown", "clerk"])
def test_only_expert_accounts_can_be_asked_for_opinions(parts, people, clock, who):
    """Naming a missing account or a non-expert as an expert is refused beside the field."""
    decision = drive(parts, people, clock, through="open_consultation")
    user_id = 99_999 if who == "unknown" else people[Role.STAFF].id
    with refused(parts, decision.id, InvalidInput) as info:
        parts.decisions.fire(
            people[Role.STAFF], decision.id, "request_expert_opinions", {"experts": [user_id]}
        )
    assert info.value.fields["experts"][1] == f"not active Expert accounts: {user_id}"


def test_executors_see_only_the_decisions_their_unit_executes(parts, people, clock):
    """An executing unit's staff reach a decision only when their unit executes it (Art 34)."""
    service = parts.decisions
    executed = new_decision(parts, people, executing_unit="housing")
    elsewhere = new_decision(parts, people, executing_unit="ecology", title="生态补偿")
    unnamed = new_decision(parts, people, title="未定执行单位")
    executor, executor_b = people[Role.EXECUTOR], people.executor_b
    assert service.get(executor, executed.id).executing_unit_id is not None
    assert service.get(executor_b, elsewhere.id).id == elsewhere.id
    for actor, decision in ((executor, elsewhere), (executor, unnamed), (executor_b, executed)):
        with pytest.raises(NotPermitted):
            service.get(actor, decision.id)
    # the executing unit files its progress reports with the decision
    service.attach_file(executor, executed.id, **PDF)
    with refused(parts, elsewhere.id, NotPermitted):
        service.attach_file(executor, elsewhere.id, **PDF)


@pytest.mark.parametrize("role", [Role.SUPERVISOR, Role.ADMIN])
def test_roles_outside_the_procedure_cannot_attach_files(parts, people, role):
    """Supervisors and administrators read; they put nothing in a decision's file."""
    decision = new_decision(parts, people)
    with refused(parts, decision.id, NotPermitted, rule="role", article="Art 33"):
        parts.decisions.attach_file(people[role], decision.id, **PDF)
    assert parts.decisions.get(people[role], decision.id).id == decision.id


@pytest.mark.parametrize("role", [Role.EXPERT, Role.LEGAL_OFFICER, Role.EXECUTOR])
def test_only_clerks_and_the_office_open_decisions(parts, people, role):
    """Creating a decision is for the undertaking unit and the government office."""
    with pytest.raises(NotPermitted):
        parts.decisions.create_decision(
            people[role], title="x", category="public_policy", undertaking_unit="housing"
        )
    office = parts.decisions.create_decision(
        people[Role.GOVERNMENT_OFFICE],
        title="政府办公室交办",
        category="major_impact",
        undertaking_unit="ecology",
    )
    assert parts.decisions.get(people.staff_b, office.id).state == "proposed"


def test_actions_list_only_the_callers_moves_with_what_stands_in_their_way(parts, people, clock):
    """actions() lists the moves of the caller's role now, each with its unmet rules."""
    service = parts.decisions
    decision = new_decision(parts, people)
    chief = {a.trigger: a for a in service.actions(people[Role.CHIEF_EXECUTIVE], decision.id)}
    assert list(chief) == ["start_procedure", "decline_proposal"]
    assert [(u.rule, u.article) for u in chief["start_procedure"].unmet] == [
        ("requires:proposal", "Art 10")
    ]
    assert chief["decline_proposal"].ready  # declining needs no proposal on file
    assert service.actions(people[Role.STAFF], decision.id) == []
    assert service.actions(people[Role.LEGAL_OFFICER], decision.id) == []

    drive(
        parts,
        people,
        clock,
        decision_id=decision.id,
        start="proposal",
        through="request_expert_opinions",
    )
    staff = {a.trigger: a for a in service.actions(people[Role.STAFF], decision.id)}
    assert list(staff) == [
        "return_to_drafting",
        "submit_legality_review",
        "close_consultation",
        "hold_hearing",
        "complete_expert_argumentation",
        "start_risk_assessment",
    ]
    assert staff["return_to_drafting"].ready
    assert ("required_branches_complete", "Art 25") in {
        (u.rule, u.article) for u in staff["submit_legality_review"].unmet
    }
    # counted on the service's clock: the consultation opened yesterday, 30 days must pass
    # and the deadline the public was given must come
    closing = staff["close_consultation"]
    assert closing.branch == "public_participation"
    assert {(u.rule, u.article) for u in closing.unmet} == {
        ("record_date_reached", "Art 15"),
        ("min_elapsed:open_consultation", "Art 15"),
    }
    # the hearing materials went out today: seven days must pass, and the announced day come,
    # before the hearing is held (Art 16)
    hearing = staff["hold_hearing"]
    assert hearing.branch == "hearing"
    assert {(u.rule, u.article) for u in hearing.unmet} == {
        ("record_date_reached", "Art 16"),
        ("min_elapsed:hearing_materials_delivered", "Art 16"),
    }
    assert {(u.rule, u.article) for u in staff["complete_expert_argumentation"].unmet} == {
        ("requires:expert_opinion", "Art 20"),
        ("requires:expert_adoption", "Art 21"),
    }
    chief = [a.trigger for a in service.actions(people[Role.CHIEF_EXECUTIVE], decision.id)]
    assert chief == ["terminate_decision"]
    clock.advance(days=30)
    staff = {a.trigger: a for a in service.actions(people[Role.STAFF], decision.id)}
    assert staff["close_consultation"].ready
    assert staff["hold_hearing"].ready
    before = snapshot(parts, decision.id)
    service.actions(people[Role.STAFF], decision.id)
    assert snapshot(parts, decision.id) == before  # listing is a read: nothing audited
