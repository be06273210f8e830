"""Follow-up (督办): supervisors open and close, the unit answers; refusals and every step audited."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from decisionflow.errors import InvalidInput, NotFound, NotPermitted, RuleNotMet
from decisionflow.models import AuditEvent, FollowUp, Notification, User
from decisionflow.roles import ROLE_PERMISSIONS, ROLE_SCOPES, Permission, Role, Scope


def new_decision(parts, people, *, executing_unit: str | None = "ecology") -> int:
    """A decision of department A (housing), executed by department B (ecology)."""
    view = parts.decisions.create_decision(
        people[Role.STAFF],
        title="老旧小区改造计划",
        category="public_policy",
        undertaking_unit="housing",
        executing_unit=executing_unit,
    )
    return view.id


def inbox_of(parts, username: str) -> list[Notification]:
    """Someone's notifications."""
    with parts.readers() as session:
        user = session.scalars(select(User).where(User.username == username)).one()
        return list(
            session.scalars(select(Notification).where(Notification.recipient_id == user.id))
        )


def audit_of(parts, action: str) -> list[AuditEvent]:
    """The audit events of an action, oldest first."""
    with parts.readers() as session:
        return list(
            session.scalars(
                select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
            )
        )


def test_a_supervisor_opens_the_unit_answers_the_supervisor_closes(parts, people, clock):
    """The whole follow-up: each side hears of the other's step, and each step is audited."""
    decision_id = new_decision(parts, people)
    due = (clock.today + timedelta(days=10)).isoformat()
    follow_up_id = parts.follow_ups.open(
        people[Role.SUPERVISOR], decision_id, instructions="请说明进度滞后的原因", due=due
    )
    # the undertaking unit's clerk and the executing unit's staff are told; others are not
    assert [n.kind for n in inbox_of(parts, "staff_a")] == ["followup_opened"]
    assert [n.kind for n in inbox_of(parts, "executor_b")] == ["followup_opened"]
    assert inbox_of(parts, "staff_b") == [] and inbox_of(parts, "legal_officer_a") == []

    clock.advance(days=2)
    parts.follow_ups.answer(
        people.executor_b, follow_up_id, answer="征地补偿未到位，已协调", origin="web 10.1.2.3"
    )
    [answered] = inbox_of(parts, "supervisor_a")
    assert answered.kind == "followup_answered" and "征地补偿" in answered.body_zh

    parts.follow_ups.close(people[Role.SUPERVISOR], follow_up_id, note="答复清楚，办结")
    view = parts.follow_ups.get(people[Role.SUPERVISOR], follow_up_id)
    assert (view.status, view.answer, view.closing_note) == (
        "closed",
        "征地补偿未到位，已协调",
        "答复清楚，办结",
    )
    assert view.answered_by == "executor b"
    for action in ("open_follow_up", "answer_follow_up", "close_follow_up"):
        [event] = audit_of(parts, action)
        assert (event.decision_id, event.outcome) == (decision_id, "done")
        assert json.loads(event.detail)["follow_up_id"] == follow_up_id
    assert audit_of(parts, "answer_follow_up")[0].origin == "web 10.1.2.3"
    assert parts.verify_audit().ok


@pytest.mark.parametrize("role", [Role.STAFF, Role.GOVERNMENT_OFFICE, Role.CHIEF_EXECUTIVE])
def test_only_supervisors_open_a_follow_up(parts, people, clock, role):
    """Anyone else is refused with the rule and article, the refusal audited, nothing written."""
    decision_id = new_decision(parts, people)
    with pytest.raises(NotPermitted) as refused:
        parts.follow_ups.open(
            people[role], decision_id, instructions="x", due=clock.today.isoformat()
        )
    assert "Only supervisors" in refused.value.en and "监督人员" in refused.value.zh
    assert refused.value.unmet[0].article == "Art 34, Art 38"
    [event] = audit_of(parts, "open_follow_up")
    assert (event.outcome, event.decision_id) == ("not_permitted", decision_id)
    with parts.readers() as session:
        assert session.scalars(select(FollowUp)).all() == []


def test_only_the_decisions_own_units_answer(parts, people, clock):
    """Another department's clerk, the legal officer and the supervisor may not answer."""
    decision_id = new_decision(parts, people, executing_unit=None)
    follow_up_id = parts.follow_ups.open(
        people[Role.SUPERVISOR], decision_id, instructions="报告进度", due=clock.today.isoformat()
    )
    for outsider in (
        people.staff_b,
        people.executor_b,
        people[Role.LEGAL_OFFICER],
        people[Role.SUPERVISOR],
    ):
        with pytest.raises(NotPermitted) as refused:
            parts.follow_ups.answer(outsider, follow_up_id, answer="…")
        assert "undertaking or executing unit" in refused.value.en
        assert refused.value.unmet[0].article == "Art 34, Art 38"
    refusals = audit_of(parts, "answer_follow_up")
    assert [e.outcome for e in refusals] == ["not_permitted"] * 4
    assert {e.decision_id for e in refusals} == {decision_id}
    parts.follow_ups.answer(people[Role.STAFF], follow_up_id, answer="已完成初稿")
    with pytest.raises(RuleNotMet) as twice:
        parts.follow_ups.answer(people[Role.STAFF], follow_up_id, answer="再答一次")
    assert "already answered" in twice.value.en
    assert twice.value.unmet[0].article == "Art 34, Art 38"
    with pytest.raises(NotPermitted) as not_a_supervisor:
        parts.follow_ups.close(people[Role.STAFF], follow_up_id, note="自行办结")
    assert not_a_supervisor.value.unmet[0].article == "Art 34, Art 38"
    parts.follow_ups.close(people[Role.SUPERVISOR], follow_up_id)
    with pytest.raises(RuleNotMet) as closed:
        parts.follow_ups.close(people[Role.SUPERVISOR], follow_up_id)
    assert closed.value.unmet[0].article == "Art 34, Art 38"
    assert parts.follow_ups.get(people[Role.STAFF], follow_up_id).status == "closed"


def test_a_follow_up_needs_instructions_and_a_date_not_in_the_past(parts, people, clock):
    """Each faulty field is named, in both languages."""
    decision_id = new_decision(parts, people)
    with pytest.raises(InvalidInput) as refused:
        parts.follow_ups.open(
            people[Role.SUPERVISOR],
            decision_id,
            instructions="  ",
            due=(clock.today - timedelta(days=1)).isoformat(),
        )
    assert set(refused.value.fields) == {"instructions", "due"}
    with pytest.raises(InvalidInput) as not_a_date:
        parts.follow_ups.open(
            people[Role.SUPERVISOR], decision_id, instructions="x", due="next week"
        )
    assert not_a_date.value.fields["due"][1] == "must be a date (YYYY-MM-DD)"


def test_an_unanswered_follow_up_is_reminded_then_escalated_once(parts, people, clock):
    """Days before the date the unit is reminded; after it, unit and supervisor hear it is late."""
    decision_id = new_decision(parts, people)
    due = parts.calendar.add_working_days(clock.today, 10)
    follow_up_id = parts.follow_ups.open(
        people[Role.SUPERVISOR], decision_id, instructions="报告进度", due=due.isoformat()
    )
    before = parts.calendar.add_working_days(clock.today, 8)  # two working days before
    report = parts.sweeper.sweep(today=before)
    assert report.follow_ups == 2  # the clerk of A and the executing unit's staff
    assert parts.sweeper.sweep(today=before).follow_ups == 0
    late = parts.sweeper.sweep(today=due + timedelta(days=1))
    assert late.follow_ups == 3  # both again, and the supervisor who opened it
    assert [n.kind for n in inbox_of(parts, "supervisor_a")] == ["followup_overdue"]
    assert parts.sweeper.sweep(today=due + timedelta(days=5)).follow_ups == 0
    # an answered follow-up is no longer chased
    parts.follow_ups.answer(people[Role.STAFF], follow_up_id, answer="已完成")
    assert parts.sweeper.sweep(today=due + timedelta(days=30)).follow_ups == 0


def test_lists_show_supervisors_everything_and_units_their_own(parts, people, clock):
    """A supervisor sees every follow-up, overdue first; a clerk only their department's."""
    ours = new_decision(parts, people, executing_unit=None)
    theirs = parts.decisions.create_decision(
        people.staff_b, title="河道整治", category="public_policy", undertaking_unit="ecology"
    ).id
    supervisor = people[Role.SUPERVISOR]
    parts.follow_ups.open(
        supervisor, ours, instructions="a", due=(clock.today + timedelta(days=9)).isoformat()
    )
    parts.follow_ups.open(supervisor, theirs, instructions="b", due=clock.today.isoformat())
    clock.advance(days=2)
    listed = parts.follow_ups.listing(supervisor)
    assert [(v.decision_id, v.overdue) for v in listed] == [(theirs, True), (ours, False)]
    assert [v.decision_id for v in parts.follow_ups.listing(people[Role.STAFF])] == [ours]
    assert parts.follow_ups.listing(people[Role.LEGAL_OFFICER]) == []
    # the other units: ecology leads `theirs`, shares the work on a third decision as co-unit,
    # and executes a fourth; its clerk sees the first two, its executor only the fourth
    shared = parts.decisions.create_decision(
        people[Role.STAFF],
        title="联合执法方案",
        category="public_policy",
        undertaking_unit="housing",
        co_units=["ecology"],
    ).id
    executed = new_decision(parts, people)
    for decision_id in (shared, executed):
        parts.follow_ups.open(
            supervisor,
            decision_id,
            instructions="c",
            due=(clock.today + timedelta(days=20)).isoformat(),
        )
    assert {v.decision_id for v in parts.follow_ups.listing(people.staff_b)} == {theirs, shared}
    assert [v.decision_id for v in parts.follow_ups.listing(people.executor_b)] == [executed]
    assert {v.supervisor for v in parts.follow_ups.listing(supervisor)} == {"supervisor"}
    with pytest.raises(NotPermitted) as hidden:
        parts.follow_ups.get(people.staff_b, listed[1].id)
    assert hidden.value.unmet[0].article == "Art 34, Art 38"


def test_the_inbox_lists_unread_first_and_marks_only_ones_own_read(parts, people, clock):
    """Unread notifications come first, newest first; a user marks only their own read."""
    first = new_decision(parts, people)
    second = new_decision(parts, people)
    for decision_id in (first, second):
        parts.follow_ups.open(
            people[Role.SUPERVISOR], decision_id, instructions="x", due=clock.today.isoformat()
        )
    clerk = people[Role.STAFF]
    older, newer = sorted(parts.inbox.items(clerk), key=lambda item: item.id)
    parts.inbox.mark_read(clerk, newer.id)
    assert [(i.id, i.read) for i in parts.inbox.items(clerk)] == [
        (older.id, False),
        (newer.id, True),
    ]
    with pytest.raises(NotFound):
        parts.inbox.mark_read(people.executor_b, older.id)
    assert parts.inbox.unread_count(clerk) == 1
    assert parts.inbox.mark_all_read(clerk) == 1
    assert parts.inbox.unread_count(clerk) == 0
    assert parts.inbox.unread_count(people.executor_b) == 2  # the executing unit's own stay unread


def test_the_roles_that_answer_follow_ups_see_decisions_by_their_unit():
    """Listing follow-ups for an answering role filters by what the role sees (visible_to):
    that is the unit's own only while every answering role is scoped to a unit."""
    answering = [r for r, held in ROLE_PERMISSIONS.items() if Permission.FOLLOWUP_ANSWER in held]
    assert answering
    assert {ROLE_SCOPES[r] for r in answering} <= {Scope.UNDERTAKING_UNIT, Scope.EXECUTING_UNIT}
