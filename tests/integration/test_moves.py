"""Every allowed and every refused move of the major-decision procedure, through the service."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest

from config import REPO_ROOT
from decisionflow.demo import FLAGS_FOR_PATH
from decisionflow.errors import InvalidInput, NotFound, RuleNotMet
from decisionflow.registry import DefinitionRegistry
from decisionflow.roles import Role
from tests.conftest import PASSWORD, SHANGHAI
from tests.helpers import (
    STEP_NAMES,
    audit_events_after,
    context,
    drive,
    new_decision,
    refused,
    snapshot,
    step_named,
    take,
    unmet_rules,
)

ALL_BRANCHES = ("public_participation", "hearing", "expert_argumentation", "risk_assessment")

#: where the decision stands after each move of the lawful path: (state, {branch: state})
AFTER = {
    "start_procedure": ("drafting", {}),
    "submit_for_argumentation": ("argumentation", dict.fromkeys(ALL_BRANCHES, "pending")),
    "open_consultation": ("argumentation", {"public_participation": "consultation_open"}),
    "announce_hearing": ("argumentation", {"hearing": "announced"}),
    "request_expert_opinions": ("argumentation", {"expert_argumentation": "consulting"}),
    "complete_expert_argumentation": ("argumentation", {"expert_argumentation": "done"}),
    "start_risk_assessment": ("argumentation", {"risk_assessment": "assessing"}),
    "complete_risk_assessment": ("argumentation", {"risk_assessment": "done"}),
    "hold_hearing": ("argumentation", {"hearing": "held"}),
    "complete_hearing": ("argumentation", {"hearing": "done"}),
    "close_consultation": ("argumentation", {"public_participation": "consultation_closed"}),
    "complete_public_participation": ("argumentation", {"public_participation": "done"}),
    "submit_legality_review": ("legality_review", {}),
    "find_lawful": ("meeting_preparation", {}),
    "schedule_meeting": ("collective_discussion", {}),
    "approve_decision": ("party_report", {}),
    "report_to_party_committee": ("publication", {}),
    "publish_decision": ("execution", {}),
    "archive_decision": ("archived", {}),
}

#: each trigger, who may fire it, and a stage the decision reaches (through that step) where
#: the trigger does not belong
WRONG_STAGE = [
    ("start_procedure", Role.CHIEF_EXECUTIVE, "Art 10", "start_procedure"),
    ("decline_proposal", Role.CHIEF_EXECUTIVE, "Art 10", "start_procedure"),
    ("submit_for_argumentation", Role.STAFF, "Art 12", "proposal"),
    ("return_to_drafting", Role.STAFF, "Art 24", "start_procedure"),
    ("submit_legality_review", Role.STAFF, "Art 25", "legal_basis"),
    ("return_incomplete", Role.LEGAL_OFFICER, "Art 26", "submit_for_argumentation"),
    ("find_lawful", Role.LEGAL_OFFICER, "Art 28", "submit_for_argumentation"),
    ("find_unlawful", Role.LEGAL_OFFICER, "Art 28", "find_lawful"),
    ("schedule_meeting", Role.GOVERNMENT_OFFICE, "Art 29", "submit_legality_review"),
    ("approve_decision", Role.CHIEF_EXECUTIVE, "Art 30", "find_lawful"),
    ("reject_decision", Role.CHIEF_EXECUTIVE, "Art 30", "approve_decision"),
    ("defer_decision", Role.CHIEF_EXECUTIVE, "Art 30", "start_procedure"),
    ("report_to_party_committee", Role.GOVERNMENT_OFFICE, "Art 31", "schedule_meeting"),
    ("record_congress_decision", Role.GOVERNMENT_OFFICE, "Art 8", "approve_decision"),
    ("publish_decision", Role.GOVERNMENT_OFFICE, "Art 32", "approve_decision"),
    ("order_evaluation", Role.CHIEF_EXECUTIVE, "Art 36", "report_to_party_committee"),
    ("continue_execution", Role.CHIEF_EXECUTIVE, "Art 36", "publish_decision"),
    ("adjust_decision", Role.CHIEF_EXECUTIVE, "Art 37", "publish_decision"),
    ("suspend_execution", Role.CHIEF_EXECUTIVE, "Art 37", "report_to_party_committee"),
    ("resume_execution", Role.CHIEF_EXECUTIVE, "Art 37", "publish_decision"),
    ("archive_decision", Role.GOVERNMENT_OFFICE, "Art 33", "report_to_party_committee"),
    ("terminate_decision", Role.CHIEF_EXECUTIVE, "Art 37", "proposal"),
    # branch moves outside their stage, and inside it from the wrong branch state
    ("open_consultation", Role.STAFF, "Art 15", "start_procedure"),
    ("open_consultation", Role.STAFF, "Art 15", "open_consultation"),
    ("close_consultation", Role.STAFF, "Art 15", "submit_for_argumentation"),
    ("complete_public_participation", Role.STAFF, "Art 15", "open_consultation"),
    ("announce_hearing", Role.STAFF, "Art 16", "start_procedure"),
    ("announce_hearing", Role.STAFF, "Art 16", "announce_hearing"),
    ("hold_hearing", Role.STAFF, "Art 16", "submit_for_argumentation"),
    ("complete_hearing", Role.STAFF, "Art 16", "announce_hearing"),
    ("request_expert_opinions", Role.STAFF, "Art 19", "submit_legality_review"),
    ("complete_expert_argumentation", Role.STAFF, "Art 21", "submit_for_argumentation"),
    ("start_risk_assessment", Role.STAFF, "Art 22", "complete_risk_assessment"),
    ("complete_risk_assessment", Role.STAFF, "Art 24", "submit_for_argumentation"),
]


def test_every_move_of_the_lawful_path_lands_where_the_definition_says(parts, people, clock):
    """Each main-line and branch move fires from its source and lands in its destination."""
    decision = new_decision(parts, people)
    for step_name in STEP_NAMES:
        take(parts, people, clock, decision.id, step_name)
        if step_name not in AFTER:
            continue
        state, branches = AFTER[step_name]
        now = parts.decisions.get(people[Role.SUPERVISOR], decision.id)
        assert now.state == state, step_name
        positions = {b.name: b.state for b in now.branches}
        for branch, branch_state in branches.items():
            assert positions[branch] == branch_state, step_name
        if state != "argumentation":
            assert positions == {}, "branches belong to the argumentation stage only"
    assert now.final
    # a branch move is audited with the branch it moved in
    events = audit_events_after(parts, 0)
    opened = next(e for e in events if e.action == "open_consultation")
    assert opened.state_after == "argumentation/public_participation:consultation_open"


def test_chief_may_decline_a_proposal_and_the_decision_closes(parts, people):
    """decline_proposal ends a proposal (no proposal record needed); nothing more can be done."""
    service = parts.decisions
    decision = new_decision(parts, people)
    declined = service.fire(
        people[Role.CHIEF_EXECUTIVE], decision.id, "decline_proposal", {"reasons": "不属于重大决策"}
    )
    assert (declined.state, declined.final) == ("declined", True)
    with refused(parts, decision.id, RuleNotMet, rule="stage", article="Art 10"):
        service.fire(people[Role.CHIEF_EXECUTIVE], decision.id, "start_procedure", {"reasons": "x"})
    with refused(parts, decision.id, RuleNotMet, rule="closed", article="Art 33"):
        service.add_record(people[Role.STAFF], decision.id, "proposal", {})


CONGRESS = {**FLAGS_FOR_PATH, "congress_matter": True}
EVALUATE = {"reason": "many_concerns", "evaluator": "省行政学院评估中心"}
#: each working stage, how the lawful path reaches it (with which flags), and one move more
TERMINABLE = [
    ("drafting", "start_procedure", FLAGS_FOR_PATH, None),
    ("argumentation", "open_consultation", FLAGS_FOR_PATH, None),
    ("legality_review", "submit_legality_review", FLAGS_FOR_PATH, None),
    ("meeting_preparation", "find_lawful", FLAGS_FOR_PATH, None),
    ("collective_discussion", "schedule_meeting", FLAGS_FOR_PATH, None),
    ("party_report", "approve_decision", FLAGS_FOR_PATH, None),
    ("people_congress", "report_to_party_committee", CONGRESS, None),
    ("publication", "report_to_party_committee", FLAGS_FOR_PATH, None),
    ("execution", "publish_decision", FLAGS_FOR_PATH, None),
    ("evaluation", "publish_decision", FLAGS_FOR_PATH, ("order_evaluation", EVALUATE)),
    ("suspended", "publish_decision", FLAGS_FOR_PATH, ("suspend_execution", {"reasons": "紧急"})),
]


def test_terminable_stages_are_every_stage_terminate_leaves_from():
    """The table below names exactly the stages terminate_decision may leave (Art 37)."""
    definition = DefinitionRegistry.from_folder(REPO_ROOT / "workflows").current("major_decision")
    [terminate] = [t for t in definition.transitions if t.trigger == "terminate_decision"]
    assert sorted(case[0] for case in TERMINABLE) == sorted(terminate.source)


@pytest.mark.parametrize(
    ("state", "through", "flags", "then"), TERMINABLE, ids=[case[0] for case in TERMINABLE]
)
def test_chief_may_terminate_from_every_working_stage(
    parts, people, clock, state, through, flags, then
):
    """terminate_decision (Art 37) stops the procedure from any stage after its start."""
    decision = drive(parts, people, clock, through=through, flags=flags)
    chief = people[Role.CHIEF_EXECUTIVE]
    if then is not None:
        trigger, payload = then
        decision = parts.decisions.fire(chief, decision.id, trigger, payload)
    assert decision.state == state
    ended = parts.decisions.fire(chief, decision.id, "terminate_decision", {"reasons": "情况变化"})
    assert (ended.state, ended.final, ended.branches) == ("terminated", True, ())


def test_a_decision_with_every_flag_takes_every_conditional_step_to_the_archive(
    parts, people, clock
):
    """All flags on: the steps each flag adds (non-disclosure basis, two alternatives, fair
    competition review, the people's congress, the adoption explanation) lead to the archive."""
    every = {name: True for name in parts.registry.current("major_decision").flags}
    decision = drive(parts, people, clock, through="archive_decision", flags=every)
    assert (decision.state, decision.final) == ("archived", True)
    events = audit_events_after(parts, 0)
    done = [e.action for e in events if e.outcome == "done"]
    for action in (
        "record:nondisclosure_basis",
        "record:fair_competition_review",
        "record_congress_decision",
        "record:adoption_explanation",
    ):
        assert action in done, action
    assert done.count("record:alternative") == 2
    # not disclosed: no public consultation was ever opened; the hearing still ran (Art 16)
    assert "open_consultation" not in done and "complete_hearing" in done
    assert [e.outcome for e in events] == ["done"] * len(events)


def test_terminated_decision_cannot_be_terminated_or_moved_again(parts, people, clock):
    """A terminated decision is final: a second termination is refused at the stage rule."""
    decision = drive(parts, people, clock, through="start_procedure")
    chief = people[Role.CHIEF_EXECUTIVE]
    parts.decisions.fire(chief, decision.id, "terminate_decision", {"reasons": "情况变化"})
    with refused(parts, decision.id, RuleNotMet, rule="stage", article="Art 37"):
        parts.decisions.fire(chief, decision.id, "terminate_decision", {"reasons": "再次"})
    with refused(parts, decision.id, RuleNotMet, rule="stage", article="Art 12"):
        parts.decisions.fire(people[Role.STAFF], decision.id, "submit_for_argumentation")


def test_wrong_stage_cases_cover_every_trigger_of_the_definition():
    """The wrong-stage table below names every trigger the definition declares."""
    definition = DefinitionRegistry.from_folder(REPO_ROOT / "workflows").current("major_decision")
    assert {case[0] for case in WRONG_STAGE} == set(definition.triggers)


@pytest.mark.parametrize(("trigger", "role", "article", "through"), WRONG_STAGE)
def test_trigger_from_a_wrong_stage_is_refused_naming_the_stage_rule(
    parts, people, clock, trigger, role, article, through
):
    """A move fired where it does not belong is refused: rule "stage", the move's article."""
    decision = drive(parts, people, clock, through=through)
    with refused(parts, decision.id, RuleNotMet, rule="stage", article=article) as info:
        parts.decisions.fire(people[role], decision.id, trigger, {})
    assert "Possible only at" in info.value.unmet[0].en


def test_branch_move_of_a_branch_not_under_way_says_so(parts, people, clock):
    """Before the argumentation stage, a branch move is refused as "not under way"."""
    decision = drive(parts, people, clock, through="start_procedure")
    with refused(parts, decision.id, RuleNotMet, rule="stage", article="Art 19") as info:
        parts.decisions.fire(people[Role.STAFF], decision.id, "request_expert_opinions", {})
    assert "'Expert argumentation' is not under way" in info.value.en
    assert "Expert argumentation: Not started" in info.value.unmet[0].en


# -- required records ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("record", "article", "leave_by"),
    [
        ("proposal", "Art 10", "start_procedure"),
        ("draft_version", "Art 12", "submit_for_argumentation"),
        ("legal_basis", "Art 12", "submit_for_argumentation"),
        ("department_consultation", "Art 12", "submit_for_argumentation"),
        ("comment_adoption_summary", "Art 15", "complete_public_participation"),
        ("hearing_participants", "Art 16", "announce_hearing"),
        ("hearing_record", "Art 16", "complete_hearing"),
        ("expert_opinion", "Art 20", "complete_expert_argumentation"),
        ("expert_adoption", "Art 21", "complete_expert_argumentation"),
        ("risk_report", "Art 23", "complete_risk_assessment"),
        ("legality_opinion", "Art 28", "find_lawful"),
        ("meeting_minutes", "Art 30", "approve_decision"),
    ],
)
def test_state_cannot_be_left_until_its_required_record_exists(
    parts, people, clock, record, article, leave_by
):
    """Leaving a stage is refused, citing the article, until the record it requires is made."""
    decision = drive(parts, people, clock, before=record)
    # the lawful path's other steps up to the move, without the record
    decision = drive(
        parts, people, clock, decision_id=decision.id, start=_after(record), before=leave_by
    )
    leave = step_named(leave_by)
    payload = leave.payload(context(people, clock))
    with refused(
        parts, decision.id, RuleNotMet, rule=f"requires:{record}", article=article
    ) as info:
        parts.decisions.fire(people[leave.role], decision.id, leave_by, payload)
    missing = next(u for u in info.value.unmet if u.rule == f"requires:{record}")
    assert missing.en.startswith("Missing '") and missing.en.endswith("0 on file")
    take(parts, people, clock, decision.id, record)
    moved = parts.decisions.fire(people[leave.role], decision.id, leave_by, payload)
    assert moved.version > decision.version


def _after(name: str) -> str:
    return STEP_NAMES[STEP_NAMES.index(name) + 1]


def test_reject_needs_the_minutes_of_this_meeting(parts, people, clock):
    """reject_decision (Art 30) requires the meeting minutes, then ends the decision."""
    decision = drive(parts, people, clock, before="meeting_minutes")
    chief = people[Role.CHIEF_EXECUTIVE]
    with refused(parts, decision.id, RuleNotMet, rule="requires:meeting_minutes", article="Art 30"):
        _reject(parts, chief, decision.id)
    take(parts, people, clock, decision.id, "meeting_minutes")
    rejected = _reject(parts, chief, decision.id)
    assert (rejected.state, rejected.final) == ("rejected", True)


def _reject(parts, chief, decision_id):
    # both members agreed: the chief who rejects departs from them and says why (Art 30)
    payload = {"chief_statement": "不予通过（最后发言）", "departure_reason": "条件不成熟"}
    return parts.decisions.fire(chief, decision_id, "reject_decision", payload)


# -- loops back to drafting -----------------------------------------------------------------
UNLAWFUL = {"outcome": "unlawful", "opinion": "超越法定职权"}


@pytest.mark.parametrize(
    ("through", "trigger", "role", "payload", "kept"),
    [
        # the legal officer's signed opinion finds the draft unlawful (Art 28)
        ("submit_legality_review", "find_unlawful", Role.LEGAL_OFFICER, {}, True),
        # an open consultation is interrupted: nothing was completed to keep
        (
            "open_consultation",
            "return_to_drafting",
            Role.STAFF,
            {"reason": "草案需重大修改"},
            False,
        ),
        (
            "meeting_minutes",
            "defer_decision",
            Role.CHIEF_EXECUTIVE,
            {"reasons": "进一步论证"},
            True,
        ),
    ],
)
def test_back_to_drafting_needs_a_new_draft_made_since_reentry(
    parts, people, clock, through, trigger, role, payload, kept
):
    """After a loop back to drafting, only a draft version made since re-entry lets it go on;
    argumentation completed before stands, an unfinished branch starts again."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through=through)
    clock.advance(days=1)
    if trigger == "find_unlawful":
        service.add_record(
            people[Role.LEGAL_OFFICER], decision.id, "legality_opinion", UNLAWFUL, password=PASSWORD
        )
    back = service.fire(people[role], decision.id, trigger, payload)
    assert (back.state, back.branches) == ("drafting", ())
    clock.advance(hours=1)
    with refused(
        parts, decision.id, RuleNotMet, rule="requires:draft_version", article="Art 12"
    ) as info:
        service.fire(staff, decision.id, "submit_for_argumentation")
    assert "(made in this stage)" in info.value.unmet[0].en
    # the legal basis and the departments' views are not asked again: not tied to the entry
    assert unmet_rules(info.value) == {("requires:draft_version", "Art 12")}
    draft = service.add_record(
        staff,
        decision.id,
        "draft_version",
        {"content": "修改稿", "cause": "legality_finding", "change_note": "按意见修改"},
    )
    assert draft.data["number"] == 2
    again = service.fire(staff, decision.id, "submit_for_argumentation")
    branches = {b.name: b.state for b in again.branches}
    if kept:
        # every branch was completed before: a 30-day consultation is not held twice
        assert branches == dict.fromkeys(ALL_BRANCHES, "done")
        due = _due(clock)
        assert service.fire(staff, decision.id, "submit_legality_review", due).state == (
            "legality_review"
        )
    else:
        # the interrupted consultation does not count: it must be opened afresh
        assert branches == dict.fromkeys(ALL_BRANCHES, "pending")
        with refused(parts, decision.id, RuleNotMet, rule="stage", article="Art 15"):
            service.fire(staff, decision.id, "close_consultation")


# -- conditional steps ------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("flags", "branches"),
    [
        ({}, ("public_participation",)),
        ({"not_disclosed": True}, ()),
        ({"vital_interests": True}, ("public_participation", "hearing")),
        ({"professional": True}, ("public_participation", "expert_argumentation")),
        ({"social_risk": True}, ("public_participation", "risk_assessment")),
        (
            {"not_disclosed": True, "professional": True, "social_risk": True},
            ("expert_argumentation", "risk_assessment"),
        ),
    ],
)
def test_flags_switch_the_argumentation_branches_on_and_off(parts, people, clock, flags, branches):
    """Public participation runs unless not disclosed (Art 14); a hearing if the public's vital
    interests are touched (Art 16); experts if professional (Art 19); risk assessment if a
    social risk (Art 22); a branch switched off cannot be moved."""
    decision = drive(parts, people, clock, flags=flags, through="submit_for_argumentation")
    assert tuple(b.name for b in decision.branches) == branches
    staff = people[Role.STAFF]
    switched_off = {
        "public_participation": ("open_consultation", "Art 15"),
        "hearing": ("announce_hearing", "Art 16"),
        "expert_argumentation": ("request_expert_opinions", "Art 19"),
        "risk_assessment": ("start_risk_assessment", "Art 22"),
    }
    for branch, (trigger, article) in switched_off.items():
        if branch in branches:
            continue
        with refused(parts, decision.id, RuleNotMet, rule="stage", article=article) as info:
            parts.decisions.fire(staff, decision.id, trigger, {})
        assert "is not under way" in info.value.en


def test_undisclosed_matter_goes_to_legality_review_without_public_participation(
    parts, people, clock
):
    """With no branch switched on, legality review may be asked for at once."""
    decision = drive(
        parts, people, clock, flags={"not_disclosed": True}, through="submit_for_argumentation"
    )
    due = (clock.today + timedelta(days=14)).isoformat()
    moved = parts.decisions.fire(
        people[Role.STAFF],
        decision.id,
        "submit_legality_review",
        _review(due),
    )
    assert moved.state == "legality_review"


def test_legality_review_waits_for_every_required_branch(parts, people, clock):
    """submit_legality_review is refused (Art 25) while any required branch is unfinished."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="complete_expert_argumentation")
    due = _due(clock)
    with refused(
        parts, decision.id, RuleNotMet, rule="required_branches_complete", article="Art 25"
    ) as info:
        service.fire(staff, decision.id, "submit_legality_review", due)
    # the expert branch is done; the three others are named as pending
    assert info.value.unmet[0].en.endswith(": Public participation, Hearing, Risk assessment")
    drive(
        parts,
        people,
        clock,
        decision_id=decision.id,
        start="start_risk_assessment",
        through="complete_risk_assessment",
    )
    with refused(
        parts, decision.id, RuleNotMet, rule="required_branches_complete", article="Art 25"
    ) as info:
        service.fire(staff, decision.id, "submit_legality_review", due)
    assert info.value.unmet[0].en.endswith(": Public participation, Hearing")
    drive(
        parts,
        people,
        clock,
        decision_id=decision.id,
        start="hold_hearing",
        through="complete_hearing",
    )
    with refused(
        parts, decision.id, RuleNotMet, rule="required_branches_complete", article="Art 25"
    ) as info:
        service.fire(staff, decision.id, "submit_legality_review", due)
    assert info.value.unmet[0].en.endswith(": Public participation")
    drive(
        parts,
        people,
        clock,
        decision_id=decision.id,
        start="close_consultation",
        through="complete_public_participation",
    )
    due = _due(clock)
    assert service.fire(staff, decision.id, "submit_legality_review", due).state == (
        "legality_review"
    )


def test_uncontrollable_risk_blocks_the_assessment_until_the_adjusted_draft_is_reassessed(
    parts, people, clock
):
    """A "not controllable" risk report stops complete_risk_assessment (Art 24): a kinder report
    over the same draft is not enough; the draft must be adjusted, then assessed again."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="start_risk_assessment")
    report = {
        "assessor": "区社会稳定风险评估中心",
        "risk_points": "群体性上访",
        "measures": "暂无",
        "response_plan": "暂无",
        "departments_consulted": "信访局",
        "risk_level": "high",
        "conclusion": "not_controllable",
    }
    service.add_record(staff, decision.id, "risk_report", report)
    with refused(
        parts, decision.id, RuleNotMet, rule="record_field_equals", article="Art 24"
    ) as info:
        service.fire(staff, decision.id, "complete_risk_assessment")
    assert "conclusion = 'controllable'" in info.value.unmet[0].en
    # the record exists, so only the findings stand in the way
    assert unmet_rules(info.value) == {
        ("record_field_equals", "Art 24"),
        ("reassessed_after_adjustment", "Art 24"),
    }
    controllable = {**report, "conclusion": "controllable", "risk_level": "medium"}
    clock.advance(days=1)
    service.add_record(staff, decision.id, "risk_report", controllable)
    with refused(
        parts, decision.id, RuleNotMet, rule="reassessed_after_adjustment", article="Art 24"
    ) as info:
        service.fire(staff, decision.id, "complete_risk_assessment")
    assert unmet_rules(info.value) == {("reassessed_after_adjustment", "Art 24")}
    assert "the draft must be adjusted and then re-assessed" in info.value.unmet[0].en
    # the draft is adjusted in the light of the finding, but not yet assessed again
    clock.advance(days=1)
    service.add_record(
        staff,
        decision.id,
        "draft_version",
        {"content": "调整稿：分期兑付", "cause": "risk_finding", "change_note": "增加分期兑付"},
    )
    with refused(
        parts, decision.id, RuleNotMet, rule="reassessed_after_adjustment", article="Art 24"
    ):
        service.fire(staff, decision.id, "complete_risk_assessment")
    clock.advance(days=3)
    service.add_record(staff, decision.id, "risk_report", {**controllable, "measures": "分期兑付"})
    done = service.fire(staff, decision.id, "complete_risk_assessment")
    assert {b.name: b.state for b in done.branches}["risk_assessment"] == "done"


# -- time rules -------------------------------------------------------------------------------
def _consultation(clock, days: int, **extra: str) -> dict[str, str]:
    return {
        "explanation": "起草说明",
        "how_to_comment": "网站留言",
        "deadline": (clock.today + timedelta(days=days)).isoformat(),
        **extra,
    }


def test_comment_period_shorter_than_30_days_needs_a_reason(parts, people, clock):
    """A consultation deadline under 30 days ahead is refused (Art 15) unless a reason is given."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="submit_for_argumentation")
    with refused(
        parts, decision.id, RuleNotMet, rule="field_min_ahead:deadline", article="Art 15"
    ) as info:
        service.fire(staff, decision.id, "open_consultation", _consultation(clock, 29))
    assert "at least 30 calendar days" in info.value.unmet[0].en
    opened = service.fire(
        staff,
        decision.id,
        "open_consultation",
        _consultation(clock, 10, shortening_reason="汛期前须出台"),
    )
    assert {b.name: b.state for b in opened.branches}["public_participation"] == (
        "consultation_open"
    )
    # the stated reason also lets the consultation close before 30 days have passed
    clock.advance(days=11)
    service.fire(staff, decision.id, "close_consultation")


def test_exactly_30_days_ahead_is_enough_and_a_past_deadline_never_is(parts, people, clock):
    """A deadline exactly 30 days ahead passes; a date in the past is refused even with a reason."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="submit_for_argumentation")
    with refused(parts, decision.id, RuleNotMet, rule="payload_date_not_past", article="Art 15"):
        service.fire(
            staff,
            decision.id,
            "open_consultation",
            _consultation(clock, -1, shortening_reason="紧急"),
        )
    service.fire(staff, decision.id, "open_consultation", _consultation(clock, 30))


def test_consultation_closes_only_after_30_days(parts, people, clock):
    """close_consultation before 30 days is refused (Art 15); after clock.advance(30) it passes."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="submit_for_argumentation")
    service.fire(staff, decision.id, "open_consultation", _consultation(clock, 30))
    clock.advance(days=29)
    with refused(
        parts, decision.id, RuleNotMet, rule="min_elapsed:open_consultation", article="Art 15"
    ) as info:
        service.fire(staff, decision.id, "close_consultation")
    elapsed = next(u for u in info.value.unmet if u.rule == "min_elapsed:open_consultation")
    assert "only 29 have" in elapsed.en
    clock.advance(days=1)
    closed = service.fire(staff, decision.id, "close_consultation")
    assert {b.name: b.state for b in closed.branches}["public_participation"] == (
        "consultation_closed"
    )


def _review(day: str) -> dict[str, str]:
    """A request for legality review, to be completed by `day`, with the draft's basis (Art 25)."""
    return {"requested_completion_date": day, "legal_basis_summary": "《土地管理法》第四十八条"}


def _due(clock) -> dict[str, str]:
    """A request for legality review leaving two weeks."""
    return _review((clock.today + timedelta(days=14)).isoformat())


def test_legality_review_needs_seven_working_days(parts, people, clock):
    """A requested completion date fewer than 7 working days ahead is refused (Art 27)."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(
        parts, people, clock, flags={"not_disclosed": True}, through="submit_for_argumentation"
    )
    clock.now = datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI)  # a Monday, no holiday near
    with refused(
        parts,
        decision.id,
        RuleNotMet,
        rule="field_min_ahead:requested_completion_date",
        article="Art 27",
    ) as info:
        # a week and a day, but only 6 working days (Tue..Fri, Mon, Tue)
        service.fire(staff, decision.id, "submit_legality_review", _review("2026-03-17"))
    assert "at least 7 working days" in info.value.unmet[0].en
    moved = service.fire(staff, decision.id, "submit_legality_review", _review("2026-03-18"))
    assert moved.state == "legality_review"


def test_legality_review_days_skip_national_day_and_count_make_up_saturday(parts, people, clock):
    """Across National Day 2026 the 7 working days run from 28 Sep to 13 Oct: Oct 1-7 are
    holidays and Saturday Oct 10 is a make-up working day (Art 27)."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(
        parts, people, clock, flags={"not_disclosed": True}, through="submit_for_argumentation"
    )
    clock.now = datetime(2026, 9, 28, 9, 0, tzinfo=SHANGHAI)
    rule, article = "field_min_ahead:requested_completion_date", "Art 27"
    # 15 calendar days ahead, but only 29, 30 Sep, 8, 9, 10 (Sat, make-up), 12 Oct: 6
    with refused(parts, decision.id, RuleNotMet, rule=rule, article=article) as info:
        service.fire(staff, decision.id, "submit_legality_review", _review("2026-10-12"))
    assert "(2026-10-12 leaves 6)" in info.value.unmet[0].en
    with refused(parts, decision.id, RuleNotMet, rule=rule, article=article) as info:
        service.fire(staff, decision.id, "submit_legality_review", _review("2026-10-07"))
    assert "(2026-10-07 leaves 2)" in info.value.unmet[0].en
    moved = service.fire(staff, decision.id, "submit_legality_review", _review("2026-10-13"))
    assert moved.state == "legality_review"


# -- bad input ----------------------------------------------------------------------------------
def test_invalid_payloads_are_refused_field_by_field(parts, people, clock):
    """A malformed payload is refused with a message beside each faulty field."""
    service, staff = parts.decisions, people[Role.STAFF]
    decision = drive(parts, people, clock, through="submit_for_argumentation")
    with refused(parts, decision.id, InvalidInput) as info:
        service.fire(
            staff,
            decision.id,
            "open_consultation",
            {"explanation": "  ", "deadline": "next month", "colour": "red"},
        )
    fields = info.value.fields
    assert fields["explanation"][1] == "is required"
    assert fields["how_to_comment"][1] == "is required"
    assert fields["deadline"][1] == "must be a date, YYYY-MM-DD"
    assert fields["colour"][1] == "is not a field of this action"
    assert "shortening_reason" not in fields  # optional
    assert "Deadline must be a date" in info.value.en


@pytest.mark.parametrize(
    ("kind", "payload", "field", "message"),
    [
        (
            "proposal",
            {"source": "aliens", "problem": "p", "reasons": "r", "solution": "s"},
            "source",
            "must be one of: leader, department, deputies, public",
        ),
        (
            "proposal",
            {"source": "leader", "reasons": "r", "solution": "s"},
            "problem",
            "is required",
        ),
    ],
)
def test_invalid_record_payload_is_refused_field_by_field(
    parts, people, kind, payload, field, message
):
    """A record with a faulty field is refused, naming the field."""
    decision = new_decision(parts, people)
    with refused(parts, decision.id, InvalidInput) as info:
        parts.decisions.add_record(people[Role.STAFF], decision.id, kind, payload)
    assert info.value.fields[field][1] == message


def test_numbers_and_choices_are_checked_in_later_stages_too(parts, people, clock):
    """A negative comment count and an unknown legality finding are refused by field."""
    service = parts.decisions
    decision = drive(parts, people, clock, through="close_consultation")
    with refused(parts, decision.id, InvalidInput) as info:
        service.add_record(
            people[Role.STAFF],
            decision.id,
            "comment_adoption_summary",
            {"received": -1, "summary": "无"},
        )
    assert info.value.fields == {"received": ("不能小于 0", "must be at least 0")}
    decision = drive(
        parts,
        people,
        clock,
        decision_id=decision.id,
        start="comment_adoption_summary",
        through="submit_legality_review",
    )
    with refused(parts, decision.id, InvalidInput) as info:
        service.add_record(
            people[Role.LEGAL_OFFICER],
            decision.id,
            "legality_opinion",
            {"opinion": "合法", "outcome": "probably"},
            password=PASSWORD,
        )
    assert set(info.value.fields) == {"outcome"}


def test_unknown_trigger_and_record_kind_are_invalid_input(parts, people):
    """An action or record kind the procedure does not know is InvalidInput, not a crash."""
    decision = new_decision(parts, people)
    with refused(parts, decision.id, InvalidInput) as info:
        parts.decisions.fire(people[Role.CHIEF_EXECUTIVE], decision.id, "fast_track", {})
    assert info.value.en == "No action named 'fast_track'"
    with refused(parts, decision.id, InvalidInput) as info:
        parts.decisions.add_record(people[Role.STAFF], decision.id, "gossip", {})
    assert "gossip" in info.value.en


def test_unknown_decision_is_not_found_and_the_attempt_is_audited(parts, people):
    """Every door answers NotFound for a decision number that does not exist."""
    service, staff = parts.decisions, people[Role.STAFF]
    with refused(parts, 999, NotFound) as info:
        service.fire(people[Role.CHIEF_EXECUTIVE], 999, "start_procedure", {"reasons": "x"})
    assert info.value.en == "No decision number 999"
    with refused(parts, 999, NotFound):
        service.add_record(staff, 999, "proposal", {})
    with refused(parts, 999, NotFound):
        service.attach_file(
            staff, 999, filename="a.pdf", content_type="application/pdf", data=b"%PDF"
        )
    before = snapshot(parts, None)
    with pytest.raises(NotFound):
        service.get(staff, 999)
    with pytest.raises(NotFound):
        service.actions(staff, 999)
    assert audit_events_after(parts, before.audit_seq) == []  # reads are not audited


def test_archived_decision_is_read_only(parts, people, clock):
    """Once archived, no record, attachment or move is accepted; the decision can still be read."""
    service = parts.decisions
    decision = drive(parts, people, clock, through="archive_decision")
    assert (decision.state, decision.final) == ("archived", True)
    with refused(parts, decision.id, RuleNotMet, rule="closed", article="Art 33") as info:
        service.add_record(
            people[Role.GOVERNMENT_OFFICE],
            decision.id,
            "meeting_minutes",
            {"meeting_kind": "plenary", "meeting_date": "2026-06-01", "opinions": "补记"},
        )
    assert "read-only" in info.value.en
    with refused(parts, decision.id, RuleNotMet, rule="closed", article="Art 33"):
        service.attach_file(
            people[Role.STAFF],
            decision.id,
            filename="补充.pdf",
            content_type="application/pdf",
            data=b"%PDF-1.7",
        )
    with refused(parts, decision.id, RuleNotMet, rule="stage", article="Art 37"):
        service.fire(
            people[Role.CHIEF_EXECUTIVE], decision.id, "terminate_decision", {"reasons": "x"}
        )
    assert service.actions(people[Role.CHIEF_EXECUTIVE], decision.id) == []
    assert service.get(people[Role.STAFF], decision.id).state == "archived"
