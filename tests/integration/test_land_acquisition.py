"""A land-acquisition compensation standard (集体土地征收补偿标准) runs the whole Decree 713
procedure: public comments, a hearing, two experts, a risk assessment that first comes out
"not controllable", legality review, a meeting with a dissenting member, the Party report,
publication, execution and archive; afterwards the record answers who did what, and when."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from decisionflow import audit, queries
from decisionflow.accounts import Actor
from decisionflow.bootstrap import Parts
from decisionflow.errors import RuleNotMet
from decisionflow.models import AuditEvent, Department, DraftVersion, StepRecord
from decisionflow.roles import Role
from decisionflow.views import DecisionView, RecordView
from tests.conftest import PASSWORD

STAFF, OFFICE, LEGAL = Role.STAFF, Role.GOVERNMENT_OFFICE, Role.LEGAL_OFFICER
CHIEF, EXPERT, EXECUTOR = Role.CHIEF_EXECUTIVE, Role.EXPERT, Role.EXECUTOR

TITLE = "集体土地征收补偿标准"
FLAGS = {
    "vital_interests": True,
    "professional": True,
    "social_risk": True,
    "market_activity": True,
}
#: whether staff can record a public comment's disposition yet (Art 15); until they can, a
#: comment received blocks the consultation for good, so the public's only comment in the story
#: is one moderated out


@dataclass
class Story:
    """The decision, and every action done on it in order (as the audit log names them)."""

    parts: Parts
    people: Any
    clock: Any
    id: int = 0
    done: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)

    def who(self, actor: Role | Actor) -> Actor:
        return self.people[actor] if isinstance(actor, Role) else actor

    def fire(
        self, actor: Role | Actor, trigger: str, payload: Mapping[str, Any] | None = None, **kw: Any
    ) -> DecisionView:
        self.clock.advance(minutes=10)
        moved = self.parts.decisions.fire(self.who(actor), self.id, trigger, payload, **kw)
        self.done.append(trigger)
        return moved

    def record(
        self, actor: Role | Actor, kind: str, payload: Mapping[str, Any], *, signed: bool = False
    ) -> RecordView:
        self.clock.advance(minutes=10)
        password = PASSWORD if signed else None
        made = self.parts.decisions.add_record(
            self.who(actor), self.id, kind, payload, password=password
        )
        self.done.append(f"record:{kind}")
        return made

    def refuse(self, actor: Role | Actor, trigger: str) -> RuleNotMet:
        """A move the law stops here; its refusal, which the timeline keeps too."""
        with pytest.raises(RuleNotMet) as err:
            self.parts.decisions.fire(self.who(actor), self.id, trigger)
        self.refused.append(trigger)
        return err.value

    def day(self, ahead: int) -> str:
        return (self.clock.today + timedelta(days=ahead)).isoformat()

    def branches(self) -> dict[str, str]:
        view = self.parts.decisions.get(self.people[Role.SUPERVISOR], self.id)
        return {b.name: b.state for b in view.branches}


def public_comment(story: Story, text: str, name: str, address: str) -> int:
    """A comment from the public through the portal's service; its id."""
    receipt = story.parts.participation.submit_comment(
        story.id, text=text, name=name, address=address
    )
    story.done.append("submit_comment")
    with story.parts.sessions() as session:
        comments = story.parts.participation.comments(session, story.id)
    return next(c.id for c in comments if c.receipt == receipt.receipt)


def run_land_acquisition(parts: Parts, people: Any, clock: Any) -> Story:
    """The compensation standard from proposal to archive; returns the story as done."""
    story = Story(parts, people, clock)
    story.id = parts.decisions.create_decision(
        people[STAFF], title=TITLE, category="resources", undertaking_unit="housing", flags=FLAGS
    ).id
    story.done.append("create_decision")

    # initiation and drafting (Art 10-13)
    story.record(
        STAFF,
        "proposal",
        {
            "source": "department",
            "problem": "征地补偿标准多年未调整，与区片综合地价差距较大",
            "reasons": "《土地管理法》第四十八条：补偿标准应适时调整",
            "solution": "按区片综合地价上调补偿标准",
            "feasibility": "财政可承受，被征地农民期盼",
        },
    )
    clock.advance(days=3)
    story.fire(CHIEF, "start_procedure", {"reasons": "列入2026年度重大行政决策事项目录"})
    clock.advance(days=5)
    first = {"content": "集体土地征收补偿标准（征求意见稿）\n第一条 ……", "cause": "initial"}
    story.record(STAFF, "draft_version", {**first, "change_note": "初稿"})
    story.record(STAFF, "legal_basis", {"laws": "《土地管理法》《土地管理法实施条例》"})
    story.record(
        STAFF,
        "department_consultation",
        {
            "departments": "财政局、自然资源局、人社局、农业农村局",
            "agreed": "测算方法",
            "disagreements": "农业农村局主张另列青苗补偿；财政局认为已含在区片价中",
        },
    )
    story.record(STAFF, "fair_competition_review", {"conclusion": "不涉及排除、限制竞争"})
    story.fire(STAFF, "submit_for_argumentation")
    assert set(story.branches().values()) == {"pending"}
    assert set(story.branches()) == {
        "public_participation",
        "hearing",
        "expert_argumentation",
        "risk_assessment",
    }

    # public participation opens; the hearing is announced; experts are asked (Art 15-20)
    clock.advance(days=1)
    story.fire(
        STAFF,
        "open_consultation",
        {
            "explanation": "起草说明：调整依据、测算方法和主要变化",
            "how_to_comment": "区政府网站留言或信函",
            "deadline": story.day(30),
        },
    )
    story.record(
        STAFF,
        "hearing_participants",
        {
            "selection_method": "自愿报名、随机抽取",
            "participants": "被征地农户代表 15 人、村集体代表 3 人",
            "published_on": story.day(0),
        },
    )
    story.fire(
        STAFF,
        "announce_hearing",
        {"hearing_date": story.day(12), "place": "区政府第一会议室", "explanation": "补偿标准听证"},
    )
    story.record(
        STAFF,
        "hearing_materials_delivered",
        {"delivered_on": story.day(0), "materials": "草案、起草说明、测算依据"},
    )
    experts = [people[EXPERT], people.expert_2]
    story.fire(STAFF, "request_expert_opinions", {"experts": [e.id for e in experts]})

    # the public comments; a message full of links waits for a person and is moderated out
    clock.advance(days=2)
    spam = public_comment(
        story,
        "低价代办 http://a.example http://b.example http://c.example",
        "",
        "198.51.100.9",
    )
    clock.advance(minutes=10)
    parts.participation.moderate(people[STAFF], spam, release=False, reason="广告，与草案无关")
    story.done.append("moderate_comment")
    comments = [
        public_comment(story, "青苗和地上附着物补偿应单列", "村民张某", "203.0.113.7"),
        public_comment(story, "建议分期兑付时明确利息", "村民王某", "203.0.113.8"),
    ]

    # two experts from the pool sign their opinions (Art 20-21)
    clock.advance(days=3)
    story.record(
        experts[0], "expert_opinion", {"opinion": "测算方法科学，建议补充过渡安排"}, signed=True
    )
    story.record(experts[1], "expert_opinion", {"opinion": "建议单列青苗补偿"}, signed=True)
    story.record(
        STAFF,
        "expert_adoption",
        {"organiser": "区住房和城乡建设局", "summary": "采纳过渡安排和单列青苗补偿的建议"},
    )
    story.fire(STAFF, "complete_expert_argumentation")

    # the risk comes out "not controllable": no decision until the draft is adjusted (Art 24)
    story.fire(STAFF, "start_risk_assessment")
    report = {
        "assessor": "区社会稳定风险评估中心",
        "risk_points": "一次性兑付资金缺口；被征地农民安置",
        "measures": "暂无",
        "response_plan": "设立专门接访窗口",
        "departments_consulted": "信访局、公安分局",
        "risk_level": "high",
        "conclusion": "not_controllable",
    }
    story.record(STAFF, "risk_report", report)
    blocked = story.refuse(STAFF, "complete_risk_assessment")
    assert {(u.rule, u.article) for u in blocked.unmet} == {
        ("record_field_equals", "Art 24"),
        ("reassessed_after_adjustment", "Art 24"),
    }
    clock.advance(days=2)
    second = story.record(
        STAFF,
        "draft_version",
        {
            "content": "集体土地征收补偿标准（修改稿）\n第一条 ……\n第九条 分期兑付，设过渡安置费",
            "cause": "risk_finding",
            "change_note": "依风险评估结论改为分期兑付，增设过渡安置费；单列青苗补偿",
        },
    )
    assert second.data["number"] == 2
    clock.advance(days=2)
    story.record(
        STAFF,
        "risk_report",
        {
            **report,
            "measures": "分期兑付、过渡安置费",
            "risk_level": "medium",
            "conclusion": "controllable",
        },
    )
    story.fire(STAFF, "complete_risk_assessment")

    # the hearing, 7 days after the materials reached the participants (Art 16)
    clock.advance(days=6)
    story.fire(STAFF, "hold_hearing")
    story.record(
        STAFF,
        "hearing_record",
        {"record": "听证笔录：参加人 18 人，发言 11 人……", "participants_confirmed": "yes"},
    )
    story.fire(STAFF, "complete_hearing")

    # the consultation closes after 30 days; every comment is answered (Art 15)
    clock.advance(days=20)
    story.fire(STAFF, "close_consultation")
    story.record(
        STAFF,
        "comment_adoption_summary",
        {"received": len(comments), "summary": "采纳单列青苗补偿；分期兑付利息部分采纳"},
    )
    undisposed = story.refuse(STAFF, "complete_public_participation")
    assert {(u.rule, u.article) for u in undisposed.unmet} == {("all_comments_disposed", "Art 15")}
    for comment_id, disposition in zip(comments, ("adopted", "partly_adopted"), strict=True):
        clock.advance(minutes=10)
        parts.participation.dispose(
            people[STAFF], comment_id, disposition=disposition, reason="见修改稿第九条"
        )
        story.done.append("dispose_comment")
    story.fire(STAFF, "complete_public_participation")
    assert set(story.branches().values()) == {"done"}

    # legality review of the adjusted draft (Art 25-28)
    clock.advance(days=1)
    review_by = parts.calendar.add_working_days(clock.today, 10)
    story.fire(
        STAFF,
        "submit_legality_review",
        {
            "requested_completion_date": review_by.isoformat(),
            "legal_basis_summary": "《土地管理法》第四十八条",
        },
    )
    clock.advance(days=6)
    signed = story.record(
        LEGAL,
        "legality_opinion",
        {"outcome": "lawful", "opinion": "主体适格、程序完备、内容合法"},
        signed=True,
    )
    assert signed.data["signature"]["draft_number"] == 2
    assert signed.data["signature"]["draft_sha256"] == latest_draft_sha256(parts, story.id)
    story.fire(LEGAL, "find_lawful")

    # collective discussion: one member dissents, the chief decides last with the majority
    story.fire(
        OFFICE, "schedule_meeting", {"meeting_kind": "executive", "meeting_date": story.day(3)}
    )
    clock.advance(days=3)
    for member, position, statement in SPEECHES:
        story.record(
            OFFICE,
            "member_opinion",
            {"member": member, "position": position, "statement": statement},
        )
    story.record(
        OFFICE,
        "meeting_minutes",
        {
            "attendees": "区长、副区长甲、乙、丙，各局负责人",
            "minutes": "会议讨论了补偿标准修改稿……",
        },
    )
    approved = story.fire(
        CHIEF,
        "approve_decision",
        {
            "decision": "approve",
            "chief_statement": "同意通过（最后发言）",
            "executing_unit": "housing",
        },
    )
    assert approved.executing_unit_id == department_id(parts, "housing")

    # the Party committee, publication, execution, archive (Art 31-35, Art 33)
    clock.advance(days=2)
    story.fire(OFFICE, "report_to_party_committee", {"reported_on": story.day(0)})
    clock.advance(days=3)
    story.fire(
        OFFICE,
        "publish_decision",
        {
            "channels": "区政府网站、政府公报",
            "published_on": story.day(0),
            "published_text": "集体土地征收补偿标准（正式文本）",
        },
    )
    clock.advance(days=20)
    story.record(EXECUTOR, "progress_report", {"period": "第一季度", "progress": "首批补偿已兑付"})
    story.record(
        EXECUTOR, "public_concern", {"raised_by": "村民赵某", "concern": "过渡安置费发放时间不明"}
    )
    clock.advance(days=30)
    archived = story.fire(OFFICE, "archive_decision", {"file_number": "2026-永久-017"})
    assert (archived.state, archived.final) == ("archived", True)
    return story


#: the meeting, in speaking order; the second member dissents
SPEECHES = (
    ("副区长甲", "agree", "同意，建议加强政策解读"),
    ("副区长乙", "disagree", "不同意：分期兑付周期过长，群众难以接受"),
    ("副区长丙", "agree", "同意"),
)


def latest_draft_sha256(parts: Parts, decision_id: int) -> str:
    with parts.sessions() as session:
        found = session.scalars(
            select(DraftVersion.sha256)
            .where(DraftVersion.decision_id == decision_id)
            .order_by(DraftVersion.number.desc())
        ).first()
    assert found is not None
    return found


def department_id(parts: Parts, code: str) -> int:
    with parts.sessions() as session:
        found = session.scalar(select(Department.id).where(Department.code == code))
    assert found is not None
    return found


def test_a_land_acquisition_compensation_standard_runs_the_whole_procedure(parts, people, clock):
    """The standard is archived lawfully; the chain verifies; the timeline shows each step once."""
    story = run_land_acquisition(parts, people, clock)
    verified = parts.verify_audit()
    assert verified.ok, str(verified)
    with parts.sessions() as session:
        timeline = queries.timeline(session, story.id)
    assert [e.action for e in timeline if e.outcome == "done"] == story.done
    assert [e.action for e in timeline if e.outcome != "done"] == story.refused
    assert {e.outcome for e in timeline if e.outcome != "done"} <= {"rule_not_met"}
    # the moves of the procedure itself happen once each
    moves = [a for a in story.done if not a.startswith("record:") and "comment" not in a]
    assert len(moves) == len(set(moves))
    assert "complete_risk_assessment" in story.refused  # the uncontrollable risk stopped it once


def test_afterwards_the_record_says_who_did_each_step_and_who_dissented(parts, people, clock):
    """The audit log says who did each step, when, and who dissented (Art 38-41)."""
    story = run_land_acquisition(parts, people, clock)
    with parts.sessions() as session:
        steps = [
            (e.actor_username, e.actor_role, e.action, e.occurred_at)
            for e in queries.timeline(session, story.id)
            if e.outcome == "done"
        ]
    by_action: dict[str, set[tuple[str, str]]] = {}
    for username, role, action, _ in steps:
        by_action.setdefault(action, set()).add((username, role))
    assert by_action["start_procedure"] == {("chief_executive_a", "chief_executive")}
    assert by_action["approve_decision"] == {("chief_executive_a", "chief_executive")}
    assert by_action["record:expert_opinion"] == {("expert_a", "expert"), ("expert_2", "expert")}
    assert by_action["record:legality_opinion"] == {("legal_officer_a", "legal_officer")}
    assert by_action["find_lawful"] == {("legal_officer_a", "legal_officer")}
    assert by_action["record:member_opinion"] == {("government_office_a", "government_office")}
    assert by_action["submit_comment"] == {("public", "public")}
    assert by_action["record:progress_report"] == {("executor_a", "executor")}
    assert by_action["archive_decision"] == {("government_office_a", "government_office")}
    times = [at for *_, at in steps]
    assert times == sorted(times) and times[-1] - times[0] > timedelta(days=100)

    # the dissent, by member, as recorded at the meeting
    with parts.sessions() as session:
        opinions = session.scalars(
            select(StepRecord)
            .where(StepRecord.decision_id == story.id, StepRecord.kind == "member_opinion")
            .order_by(StepRecord.id)
        ).all()
        assert [(r.data["member"], r.data["position"]) for r in opinions] == [
            (m, p) for m, p, _ in SPEECHES
        ]
        dissent = [r for r in opinions if r.data["position"] == "disagree"]
        assert [(r.data["member"], r.data["statement"]) for r in dissent] == [
            ("副区长乙", "不同意：分期兑付周期过长，群众难以接受")
        ]
        # the audit event that made the dissent record carries the digest of what was said
        events = session.scalars(
            select(AuditEvent).where(
                AuditEvent.decision_id == story.id, AuditEvent.action == "record:member_opinion"
            )
        ).all()
        made = {json.loads(e.detail)["record_id"]: e.payload_digest for e in events}
        assert made[dissent[0].id] == audit.digest(dissent[0].data)
    assert parts.verify_audit().ok
