"""Every statutory gate of Decree 713 holds: the move is refused citing its article, the decision
is left as it was, and the lawful variant of the same move passes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from decisionflow.accounts import SYSTEM, Actor
from decisionflow.bootstrap import Parts
from decisionflow.errors import DecisionFlowError, InvalidInput, NotPermitted, RuleNotMet
from decisionflow.models import (
    AuditEvent,
    Decision,
    DecisionAssignment,
    Department,
    DraftVersion,
    StepRecord,
)
from decisionflow.roles import Role
from decisionflow.service import DecisionService
from decisionflow.views import DecisionView, RecordView
from tests.conftest import PASSWORD, SHANGHAI

STAFF, OFFICE, LEGAL = Role.STAFF, Role.GOVERNMENT_OFFICE, Role.LEGAL_OFFICER
CHIEF, EXPERT, EXECUTOR = Role.CHIEF_EXECUTIVE, Role.EXPERT, Role.EXECUTOR

RISK_ASSESSOR = "区社会稳定风险评估中心"
EXPERT_ORGANISER = "区住房和城乡建设局"


# -- a decision driven through the service, one action at a time -----------------------------
@dataclass
class Flow:
    """One decision and the people and clock that move it."""

    parts: Parts
    people: Any
    clock: Any
    flags: dict[str, bool] = field(default_factory=dict)
    executing_unit: str = "housing"
    id: int = 0

    @property
    def service(self) -> DecisionService:
        return self.parts.decisions

    def who(self, actor: Role | Actor) -> Actor:
        return self.people[actor] if isinstance(actor, Role) else actor

    def create(self) -> Flow:
        self.id = self.service.create_decision(
            self.people[STAFF],
            title="征地补偿标准调整",
            category="public_policy",
            undertaking_unit="housing",
            flags=self.flags,
        ).id
        return self

    def fire(
        self,
        actor: Role | Actor,
        trigger: str,
        payload: Mapping[str, Any] | None = None,
        *,
        signed: bool = False,
    ) -> DecisionView:
        # a minute between actions: "made after" comparisons are strict
        self.clock.advance(minutes=1)
        password = PASSWORD if signed else None
        return self.service.fire(self.who(actor), self.id, trigger, payload, password=password)

    def record(
        self,
        actor: Role | Actor,
        kind: str,
        payload: Mapping[str, Any] | None = None,
        *,
        signed: bool = False,
    ) -> RecordView:
        self.clock.advance(minutes=1)
        password = PASSWORD if signed else None
        return self.service.add_record(self.who(actor), self.id, kind, payload, password=password)

    def day(self, ahead: int) -> str:
        """The date `ahead` calendar days from today, as a form sends it."""
        return (self.clock.today + timedelta(days=ahead)).isoformat()

    def get(self) -> DecisionView:
        return self.service.get(self.people[Role.SUPERVISOR], self.id)

    def branches(self) -> dict[str, str]:
        return {b.name: b.state for b in self.get().branches}


def draft(flow: Flow, text: str = "补偿标准草案 第一条……", cause: str = "initial") -> RecordView:
    return flow.record(
        STAFF, "draft_version", {"content": text, "cause": cause, "change_note": cause}
    )


def proposal(flow: Flow) -> None:
    flow.record(
        STAFF,
        "proposal",
        {
            "source": "department",
            "problem": "补偿标准多年未调整",
            "reasons": "《土地管理法》第四十八条",
            "solution": "按区片综合地价调整",
        },
    )


def _start(flow: Flow) -> None:
    proposal(flow)
    flow.fire(CHIEF, "start_procedure", {"reasons": "列入年度决策事项目录"})


def drafting_records(flow: Flow, *, fair_competition: bool = True) -> None:
    """Everything drafting requires (Art 12, Art 14) for the decision's flags."""
    draft(flow)
    flow.record(STAFF, "legal_basis", {"laws": "《土地管理法》"})
    flow.record(
        STAFF,
        "department_consultation",
        {"departments": "财政局、自然资源局", "agreed": "测算方法"},
    )
    if flow.flags.get("opinions_differ"):
        for summary in ("方案一：统一标准", "方案二：分区标准"):
            flow.record(STAFF, "alternative", {"summary": summary, "assessment": "利弊……"})
    if flow.flags.get("not_disclosed"):
        flow.record(STAFF, "nondisclosure_basis", {"basis": "《保守国家秘密法》第九条"})
    if fair_competition and flow.flags.get("market_activity"):
        flow.record(STAFF, "fair_competition_review", {"conclusion": "未排除、限制竞争"})


def _draft_and_submit(flow: Flow) -> None:
    drafting_records(flow)
    flow.fire(STAFF, "submit_for_argumentation")


def participation(flow: Flow) -> None:
    flow.fire(
        STAFF,
        "open_consultation",
        {"explanation": "起草说明", "how_to_comment": "网站留言", "deadline": flow.day(30)},
    )
    flow.clock.advance(days=30)
    flow.fire(STAFF, "close_consultation")
    flow.record(STAFF, "comment_adoption_summary", {"received": 0, "summary": "未收到意见"})
    flow.fire(STAFF, "complete_public_participation")


def hearing(flow: Flow) -> None:
    flow.record(
        STAFF,
        "hearing_participants",
        {
            "selection_method": "随机抽取",
            "participants": "农户代表 15 人",
            "published_on": flow.day(0),
        },
    )
    flow.fire(
        STAFF,
        "announce_hearing",
        {"hearing_date": flow.day(10), "place": "第一会议室", "explanation": "补偿标准听证"},
    )
    flow.record(
        STAFF, "hearing_materials_delivered", {"delivered_on": flow.day(0), "materials": "草案"}
    )
    flow.clock.advance(days=10)  # the announced hearing date, and 7 days after the materials
    flow.fire(STAFF, "hold_hearing")
    flow.record(STAFF, "hearing_record", {"record": "笔录……", "participants_confirmed": "yes"})
    flow.fire(STAFF, "complete_hearing")


def experts(flow: Flow) -> None:
    flow.fire(STAFF, "request_expert_opinions", {"experts": [flow.people[EXPERT].id]})
    flow.record(EXPERT, "expert_opinion", {"opinion": "测算方法科学"}, signed=True)
    flow.record(STAFF, "expert_adoption", {"organiser": EXPERT_ORGANISER, "summary": "已采纳"})
    flow.fire(STAFF, "complete_expert_argumentation")


def risk_report(conclusion: str = "controllable") -> dict[str, str]:
    return {
        "assessor": RISK_ASSESSOR,
        "risk_points": "被征地农民安置",
        "measures": "分期兑付",
        "response_plan": "专门接访窗口",
        "departments_consulted": "信访局",
        "risk_level": "medium",
        "conclusion": conclusion,
    }


def risk(flow: Flow) -> None:
    flow.fire(STAFF, "start_risk_assessment")
    flow.record(STAFF, "risk_report", risk_report())
    flow.fire(STAFF, "complete_risk_assessment")


def _argue(flow: Flow) -> None:
    """Complete every argumentation branch the flags switch on."""
    if not flow.flags.get("not_disclosed"):
        participation(flow)
    if flow.flags.get("vital_interests"):
        hearing(flow)
    if flow.flags.get("professional"):
        experts(flow)
    if flow.flags.get("social_risk"):
        risk(flow)


def review_request(flow: Flow, working_days: int = 10) -> dict[str, str]:
    day = flow.parts.calendar.add_working_days(flow.clock.today, working_days)
    return {"requested_completion_date": day.isoformat(), "legal_basis_summary": "《土地管理法》"}


def _submit_review(flow: Flow) -> None:
    flow.fire(STAFF, "submit_legality_review", review_request(flow))


def opinion(outcome: str = "lawful") -> dict[str, str]:
    return {"outcome": outcome, "opinion": "主体适格、程序完备、内容合法"}


def _review(flow: Flow) -> None:
    flow.record(LEGAL, "legality_opinion", opinion(), signed=True)
    flow.fire(LEGAL, "find_lawful")


def _schedule(flow: Flow) -> None:
    flow.fire(
        OFFICE, "schedule_meeting", {"meeting_kind": "executive", "meeting_date": flow.day(0)}
    )


def member(flow: Flow, name: str, position: str) -> RecordView:
    return flow.record(
        OFFICE, "member_opinion", {"member": name, "position": position, "statement": f"{name}：……"}
    )


def minutes(flow: Flow) -> None:
    flow.record(OFFICE, "meeting_minutes", {"attendees": "区长、副区长", "minutes": "讨论了草案"})


def approval(flow: Flow, **extra: str) -> dict[str, str]:
    return {
        "decision": "approve",
        "chief_statement": "同意（最后发言）",
        "executing_unit": flow.executing_unit,
        **extra,
    }


def _approve(flow: Flow) -> None:
    member(flow, "副区长甲", "agree")
    minutes(flow)
    flow.fire(CHIEF, "approve_decision", approval(flow))


def _report(flow: Flow) -> None:
    flow.fire(OFFICE, "report_to_party_committee", {"reported_on": flow.day(0)})
    if flow.flags.get("congress_matter"):
        flow.fire(OFFICE, "record_congress_decision", {"session": "常委会", "resolution": "通过"})


def publication(flow: Flow) -> dict[str, str]:
    return {"channels": "政府网站", "published_on": flow.day(0), "published_text": "正式文本"}


def _publish(flow: Flow) -> None:
    if flow.flags.get("wide_concern"):
        flow.record(OFFICE, "adoption_explanation", {"explanation": "采纳情况……"})
    flow.fire(OFFICE, "publish_decision", publication(flow))


#: where the decision stands before each driver step, and the step that moves it on
PATH = (
    ("proposed", _start),
    ("drafting", _draft_and_submit),
    ("argumentation", _argue),
    ("argued", _submit_review),
    ("legality_review", _review),
    ("meeting_preparation", _schedule),
    ("collective_discussion", _approve),
    ("party_report", _report),
    ("publication", _publish),
)


def reach(
    parts: Parts,
    people: Any,
    clock: Any,
    stage: str,
    *,
    executing_unit: str = "housing",
    **flags: bool,
) -> Flow:
    """A new decision with these flags, driven along the lawful path to `stage`."""
    flow = Flow(parts, people, clock, dict(flags), executing_unit).create()
    for name, step in PATH:
        if name == stage:
            return flow
        step(flow)
    assert stage == "execution", f"unknown stage {stage}"
    return flow


# -- a refusal leaves no trace but its own audit event -----------------------------------------
def _snapshot(parts: Parts, decision_id: int) -> tuple[Any, ...]:
    with parts.sessions() as session:
        row = session.get(Decision, decision_id)
        assert row is not None
        position = (row.state, row.branch_states, row.version, row.executing_unit_id)
        counts = tuple(
            session.scalar(
                select(func.count()).select_from(model).where(model.decision_id == decision_id)
            )
            for model in (StepRecord, DraftVersion, DecisionAssignment)
        )
        seq = session.scalar(select(func.max(AuditEvent.seq))) or 0
    return position, counts, seq


def _events_after(parts: Parts, seq: int) -> list[AuditEvent]:
    with parts.sessions() as session:
        return list(session.scalars(select(AuditEvent).where(AuditEvent.seq > seq)))


@contextmanager
def refused(
    flow: Flow,
    error: type[DecisionFlowError],
    rule: str | None = None,
    article: str | None = None,
    *,
    input_field: str | None = None,
) -> Iterator[pytest.ExceptionInfo[DecisionFlowError]]:
    """The body is refused with `error` naming [rule, article] (or the faulty field); the
    decision, its records, drafts and assignments are unchanged; only the refusal is audited."""
    position, counts, seq = _snapshot(flow.parts, flow.id)
    with pytest.raises(error) as info:
        yield info
    after_position, after_counts, _ = _snapshot(flow.parts, flow.id)
    assert after_position == position, "a refused move changed the decision"
    assert after_counts == counts, "a refused move left records, drafts or assignments"
    events = _events_after(flow.parts, seq)
    assert [(e.outcome, e.decision_id) for e in events] == [(info.value.code, flow.id)]
    if rule is not None:
        named = {(u.rule, u.article) for u in info.value.unmet}
        assert (rule, article) in named, f"expected [{rule}, {article}] among {named}"
        assert f'"article":"{article}"' in events[0].detail, "the audit keeps the article"
    if input_field is not None:
        assert input_field in getattr(info.value, "fields", {}), info.value


def unmet(err: pytest.ExceptionInfo[DecisionFlowError]) -> set[tuple[str, str]]:
    return {(u.rule, u.article) for u in err.value.unmet}


def message(err: pytest.ExceptionInfo[DecisionFlowError], rule: str) -> str:
    """The English text of the unmet rule of that name."""
    return next(u.en for u in err.value.unmet if u.rule == rule)


def department_id(parts: Parts, code: str) -> int:
    with parts.sessions() as session:
        found = session.scalar(select(Department.id).where(Department.code == code))
    assert found is not None
    return found


# -- initiation (Art 10) -------------------------------------------------------------------------
def test_no_proposal_no_start_and_with_one_the_chief_starts_drafting(parts, people, clock):
    """Without a written proposal the chief cannot start the procedure (Art 10); with one he can."""
    flow = reach(parts, people, clock, "proposed")
    with refused(flow, RuleNotMet, "requires:proposal", "Art 10") as err:
        flow.fire(CHIEF, "start_procedure", {"reasons": "列入目录"})
    assert "Decision proposal" in message(err, "requires:proposal")
    proposal(flow)
    assert flow.fire(CHIEF, "start_procedure", {"reasons": "列入目录"}).state == "drafting"


def test_declining_needs_reasons_and_closes_the_proposal(parts, people, clock):
    """Declining to start needs its reasons (Art 10); declined, the file is closed for good."""
    flow = reach(parts, people, clock, "proposed")
    proposal(flow)
    with refused(flow, InvalidInput, input_field="reasons"):
        flow.fire(CHIEF, "decline_proposal", {"reasons": "  "})
    declined = flow.fire(CHIEF, "decline_proposal", {"reasons": "不属于重大行政决策事项"})
    assert (declined.state, declined.final) == ("declined", True)
    with refused(flow, RuleNotMet, "stage", "Art 10"):
        flow.fire(CHIEF, "start_procedure", {"reasons": "改变主意"})
    with refused(flow, RuleNotMet, "closed", "Art 33"):
        proposal(flow)


# -- drafting (Art 12, Art 14) -------------------------------------------------------------------
def test_drafting_needs_draft_legal_basis_and_department_consultation(parts, people, clock):
    """Drafting needs a draft, the applicable laws and the departments' views (Art 12)."""
    flow = reach(parts, people, clock, "drafting")
    with refused(flow, RuleNotMet) as err:
        flow.fire(STAFF, "submit_for_argumentation")
    assert unmet(err) == {
        ("requires:draft_version", "Art 12"),
        ("requires:legal_basis", "Art 12"),
        ("requires:department_consultation", "Art 12"),
    }
    draft(flow)
    flow.record(STAFF, "legal_basis", {"laws": "《土地管理法》"})
    with refused(flow, RuleNotMet, "requires:department_consultation", "Art 12") as err:
        flow.fire(STAFF, "submit_for_argumentation")
    assert len(err.value.unmet) == 1
    flow.record(STAFF, "department_consultation", {"departments": "财政局", "agreed": "测算方法"})
    assert flow.fire(STAFF, "submit_for_argumentation").state == "argumentation"


def test_opinions_differing_widely_need_two_alternatives(parts, people, clock):
    """When opinions differ widely, two or more alternatives are required (Art 12)."""
    flow = reach(parts, people, clock, "drafting", opinions_differ=True)
    draft(flow)
    flow.record(STAFF, "legal_basis", {"laws": "《土地管理法》"})
    flow.record(STAFF, "department_consultation", {"departments": "财政局", "agreed": "部分"})
    flow.record(STAFF, "alternative", {"summary": "方案一", "assessment": "利弊"})
    with refused(flow, RuleNotMet, "requires:alternative", "Art 12") as err:
        flow.fire(STAFF, "submit_for_argumentation")
    assert "2 required, 1 on file" in message(err, "requires:alternative")
    flow.record(STAFF, "alternative", {"summary": "方案二", "assessment": "利弊"})
    assert flow.fire(STAFF, "submit_for_argumentation").state == "argumentation"


def test_undisclosed_matter_needs_its_legal_basis_and_has_no_public_participation(
    parts, people, clock
):
    """An undisclosed matter needs its legal basis (Art 14) and then has no public consultation."""
    flow = reach(parts, people, clock, "drafting", not_disclosed=True)
    draft(flow)
    flow.record(STAFF, "legal_basis", {"laws": "《土地管理法》"})
    flow.record(STAFF, "department_consultation", {"departments": "财政局", "agreed": "全部"})
    with refused(flow, RuleNotMet, "requires:nondisclosure_basis", "Art 14"):
        flow.fire(STAFF, "submit_for_argumentation")
    flow.record(STAFF, "nondisclosure_basis", {"basis": "《保守国家秘密法》第九条"})
    moved = flow.fire(STAFF, "submit_for_argumentation")
    assert (moved.state, moved.branches) == ("argumentation", ())
    with refused(flow, RuleNotMet, "stage", "Art 15") as err:
        flow.fire(
            STAFF,
            "open_consultation",
            {"explanation": "说明", "how_to_comment": "网站", "deadline": flow.day(30)},
        )
    assert "is not under way" in err.value.en
    assert (
        flow.fire(STAFF, "submit_legality_review", review_request(flow)).state == "legality_review"
    )


def test_back_in_drafting_a_new_draft_is_required(parts, people, clock):
    """Returned to drafting, the old draft does not do: a new version is required (Art 12)."""
    flow = reach(parts, people, clock, "argumentation")
    flow.fire(STAFF, "return_to_drafting", {"reason": "须调整补偿方式"})
    with refused(flow, RuleNotMet, "requires:draft_version", "Art 12") as err:
        flow.fire(STAFF, "submit_for_argumentation")
    assert "made in this stage" in message(err, "requires:draft_version")
    assert len(err.value.unmet) == 1  # the legal basis and consultation still stand
    draft(flow, "补偿标准草案（第二稿）", cause="other")
    assert flow.fire(STAFF, "submit_for_argumentation").state == "argumentation"


# -- public participation (Art 15) ---------------------------------------------------------------
def consultation(flow: Flow, days: int, **extra: str) -> dict[str, str]:
    return {
        "explanation": "起草说明",
        "how_to_comment": "网站留言",
        "deadline": flow.day(days),
        **extra,
    }


def test_comment_period_under_30_days_needs_a_stated_reason(parts, people, clock):
    """A deadline under 30 days ahead is refused (Art 15) unless the shortening reason is given."""
    flow = reach(parts, people, clock, "argumentation")
    with refused(flow, RuleNotMet, "field_min_ahead:deadline", "Art 15") as err:
        flow.fire(STAFF, "open_consultation", consultation(flow, 29))
    assert "at least 30 calendar days" in message(err, "field_min_ahead:deadline")
    opened = flow.fire(
        STAFF, "open_consultation", consultation(flow, 15, shortening_reason="汛期前须出台")
    )
    assert {b.name: b.state for b in opened.branches}["public_participation"] == "consultation_open"


def test_consultation_cannot_close_before_30_days(parts, people, clock):
    """Closing before 30 days have passed is refused (Art 15); on day 30 it closes."""
    flow = reach(parts, people, clock, "argumentation")
    flow.fire(STAFF, "open_consultation", consultation(flow, 30))
    flow.clock.advance(days=29)
    with refused(flow, RuleNotMet, "min_elapsed:open_consultation", "Art 15") as err:
        flow.fire(STAFF, "close_consultation")
    assert "only 29 have" in message(err, "min_elapsed:open_consultation")
    flow.clock.advance(days=1)
    flow.fire(STAFF, "close_consultation")
    assert flow.branches()["public_participation"] == "consultation_closed"


def test_a_consultation_cannot_close_before_its_announced_deadline(parts, people, clock):
    """The public was promised the announced deadline: closing earlier is refused (Art 15)."""
    flow = reach(parts, people, clock, "argumentation")
    flow.fire(STAFF, "open_consultation", consultation(flow, 40))
    flow.clock.advance(days=30)
    with refused(flow, RuleNotMet):
        flow.fire(STAFF, "close_consultation")
    short = reach(parts, people, clock, "argumentation")
    short.fire(STAFF, "open_consultation", consultation(short, 15, shortening_reason="汛期"))
    short.clock.advance(days=1)
    with refused(short, RuleNotMet):
        short.fire(STAFF, "close_consultation")


def _comment_and_close(flow: Flow) -> int:
    """Open the consultation, take one comment from the public, close it and summarise."""
    flow.fire(STAFF, "open_consultation", consultation(flow, 30))
    flow.clock.advance(days=3)
    flow.parts.participation.submit_comment(
        flow.id, text="补偿标准应考虑青苗补偿", name="村民张某", address="203.0.113.7"
    )
    flow.clock.advance(days=27)
    flow.fire(STAFF, "close_consultation")
    flow.record(STAFF, "comment_adoption_summary", {"received": 1, "summary": "部分采纳"})
    with flow.parts.sessions() as session:
        [comment] = flow.parts.participation.comments(session, flow.id)
        return comment.id


def test_a_comment_without_disposition_blocks_completing_participation(parts, people, clock):
    """A received public comment awaiting its disposition stops completion (Art 15)."""
    flow = reach(parts, people, clock, "argumentation")
    _comment_and_close(flow)
    with refused(flow, RuleNotMet, "all_comments_disposed", "Art 15") as err:
        flow.fire(STAFF, "complete_public_participation")
    assert "1 public comment(s) still await a disposition" in message(err, "all_comments_disposed")


def test_a_disposed_comment_lets_participation_complete(parts, people, clock):
    """Once every comment has its disposition and reasons, participation completes (Art 15)."""
    flow = reach(parts, people, clock, "argumentation")
    comment_id = _comment_and_close(flow)
    parts.participation.dispose(
        people[STAFF], comment_id, disposition="partly_adopted", reason="已增加青苗补偿条款"
    )
    flow.fire(STAFF, "complete_public_participation")
    assert flow.branches()["public_participation"] == "done"


# -- hearing (Art 16) ----------------------------------------------------------------------------
def hearing_notice(flow: Flow, days: int) -> dict[str, str]:
    return {"hearing_date": flow.day(days), "place": "第一会议室", "explanation": "补偿标准听证"}


def test_hearing_is_announced_only_with_the_participant_list_published(parts, people, clock):
    """No hearing notice before the participants' selection and list are published (Art 16)."""
    flow = reach(parts, people, clock, "argumentation", vital_interests=True)
    with refused(flow, RuleNotMet, "requires:hearing_participants", "Art 16"):
        flow.fire(STAFF, "announce_hearing", hearing_notice(flow, 10))
    flow.record(
        STAFF,
        "hearing_participants",
        {"selection_method": "随机抽取", "participants": "农户代表", "published_on": flow.day(0)},
    )
    flow.fire(STAFF, "announce_hearing", hearing_notice(flow, 10))
    assert flow.branches()["hearing"] == "announced"


def test_hearing_date_must_leave_the_notice_period(parts, people, clock):
    """A hearing fewer than hearing_notice_days (10) ahead is refused (Art 16); 10 days pass."""
    flow = reach(parts, people, clock, "argumentation", vital_interests=True)
    flow.record(
        STAFF,
        "hearing_participants",
        {"selection_method": "随机抽取", "participants": "农户代表", "published_on": flow.day(0)},
    )
    with refused(flow, RuleNotMet, "field_min_ahead:hearing_date", "Art 16") as err:
        flow.fire(STAFF, "announce_hearing", hearing_notice(flow, 9))
    assert "at least 10 calendar days" in message(err, "field_min_ahead:hearing_date")
    flow.fire(STAFF, "announce_hearing", hearing_notice(flow, 10))
    assert flow.branches()["hearing"] == "announced"


def test_hearing_waits_7_days_after_materials_and_completes_only_when_confirmed(
    parts, people, clock
):
    """A hearing waits 7 days after the materials and completes only once confirmed (Art 16)."""
    flow = reach(parts, people, clock, "argumentation", vital_interests=True)
    flow.record(
        STAFF,
        "hearing_participants",
        {"selection_method": "随机抽取", "participants": "农户代表", "published_on": flow.day(0)},
    )
    flow.fire(STAFF, "announce_hearing", hearing_notice(flow, 10))
    with refused(flow, RuleNotMet, "requires:hearing_materials_delivered", "Art 16"):
        flow.fire(STAFF, "hold_hearing")
    # Materials go out late (day 5 of a hearing announced for day 10): on the hearing day the
    # participants have had them only 5 days, so the date alone does not let it be held.
    flow.clock.advance(days=5)
    flow.record(
        STAFF, "hearing_materials_delivered", {"delivered_on": flow.day(0), "materials": "草案"}
    )
    flow.clock.advance(days=5)
    with refused(flow, RuleNotMet, "min_elapsed:hearing_materials_delivered", "Art 16") as err:
        flow.fire(STAFF, "hold_hearing")
    assert "At least 7 calendar days" in message(err, "min_elapsed:hearing_materials_delivered")
    flow.clock.advance(days=2)
    flow.fire(STAFF, "hold_hearing")
    with refused(flow, RuleNotMet, "requires:hearing_record", "Art 16"):
        flow.fire(STAFF, "complete_hearing")
    flow.record(STAFF, "hearing_record", {"record": "笔录……", "participants_confirmed": "no"})
    with refused(flow, RuleNotMet, "record_field_equals", "Art 16") as err:
        flow.fire(STAFF, "complete_hearing")
    assert "participants_confirmed = 'yes'" in message(err, "record_field_equals")
    flow.record(
        STAFF, "hearing_record", {"record": "笔录（已签字）", "participants_confirmed": "yes"}
    )
    flow.fire(STAFF, "complete_hearing")
    assert flow.branches()["hearing"] == "done"


def test_a_hearing_is_not_held_before_its_announced_date(parts, people, clock):
    """Holding the hearing before the date the public was given is refused (Art 16)."""
    flow = reach(parts, people, clock, "argumentation", vital_interests=True)
    flow.record(
        STAFF,
        "hearing_participants",
        {"selection_method": "随机抽取", "participants": "农户代表", "published_on": flow.day(0)},
    )
    flow.fire(STAFF, "announce_hearing", hearing_notice(flow, 10))
    flow.record(
        STAFF, "hearing_materials_delivered", {"delivered_on": flow.day(0), "materials": "草案"}
    )
    flow.clock.advance(days=7)  # the materials' 7 days are met, the announced date is 3 days off
    with refused(flow, RuleNotMet):
        flow.fire(STAFF, "hold_hearing")


# -- experts (Art 19-21) -------------------------------------------------------------------------
def test_experts_outside_the_pool_or_with_an_interest_are_excluded(parts, people, clock):
    """An expert outside the pool or with a declared interest is refused (Art 20); others pass."""
    flow = reach(parts, people, clock, "argumentation", professional=True)
    outsider = parts.admin.create_user(
        SYSTEM,
        username="expert_outside",
        display_name="库外专家",
        password=PASSWORD,
        role="expert",
        department="office",
    )
    with refused(flow, RuleNotMet, "expert_eligibility:experts", "Art 20") as err:
        flow.fire(STAFF, "request_expert_opinions", {"experts": [outsider]})
    assert "is not in the expert pool" in message(err, "expert_eligibility:experts")
    parts.registers.enrol_expert(
        SYSTEM, username="expert_2", fields="土地管理", declared_interests=["housing"]
    )
    with refused(flow, RuleNotMet, "expert_eligibility:experts", "Art 20") as err:
        flow.fire(
            STAFF, "request_expert_opinions", {"experts": [people[EXPERT].id, people.expert_2.id]}
        )
    # only the interested expert is named: the other one is fine
    assert [u.zh for u in err.value.unmet] == ["expert 2：已声明与承办单位存在直接利害关系"]
    flow.fire(STAFF, "request_expert_opinions", {"experts": [people[EXPERT].id]})
    assert flow.branches()["expert_argumentation"] == "consulting"


def test_an_expert_opinion_is_signed_with_the_password_or_not_recorded(parts, people, clock):
    """An expert opinion is signed with the password (Art 20); without it nothing is recorded."""
    flow = reach(parts, people, clock, "argumentation", professional=True)
    flow.fire(STAFF, "request_expert_opinions", {"experts": [people[EXPERT].id]})
    text = {"opinion": "测算方法科学"}
    with refused(flow, InvalidInput, input_field="password") as err:
        flow.record(EXPERT, "expert_opinion", text)
    assert "password" in err.value.en
    with refused(flow, NotPermitted) as err:
        flow.service.add_record(
            people[EXPERT], flow.id, "expert_opinion", text, password="not my password"
        )
    assert "nothing was signed" in err.value.en
    signed = flow.record(EXPERT, "expert_opinion", text, signed=True)
    signature = signed.data["signature"]
    assert (signature["signer_id"], signature["article"]) == (people[EXPERT].id, "Art 20")
    assert signature["draft_number"] == 1


def test_a_signature_refusal_cites_the_article_of_the_signature(parts, people, clock):
    """Refusing an unsigned expert opinion names the signature rule and Art 20."""
    flow = reach(parts, people, clock, "argumentation", professional=True)
    flow.fire(STAFF, "request_expert_opinions", {"experts": [people[EXPERT].id]})
    with refused(flow, InvalidInput) as missing:
        flow.record(EXPERT, "expert_opinion", {"opinion": "同意"})
    with refused(flow, NotPermitted) as wrong:
        flow.service.add_record(
            people[EXPERT], flow.id, "expert_opinion", {"opinion": "同意"}, password="wrong one!"
        )
    assert {u.article for u in missing.value.unmet} == {"Art 20"}
    assert {u.article for u in wrong.value.unmet} == {"Art 20"}


def test_expert_argumentation_completes_with_the_opinions_and_their_adoption(parts, people, clock):
    """Completing needs a signed opinion (Art 20) and the account of its adoption (Art 21)."""
    flow = reach(parts, people, clock, "argumentation", professional=True)
    flow.fire(STAFF, "request_expert_opinions", {"experts": [people[EXPERT].id]})
    with refused(flow, RuleNotMet) as err:
        flow.fire(STAFF, "complete_expert_argumentation")
    assert unmet(err) == {
        ("requires:expert_opinion", "Art 20"),
        ("requires:expert_adoption", "Art 21"),
    }
    flow.record(EXPERT, "expert_opinion", {"opinion": "同意"}, signed=True)
    with refused(flow, RuleNotMet, "requires:expert_adoption", "Art 21"):
        flow.fire(STAFF, "complete_expert_argumentation")
    flow.record(STAFF, "expert_adoption", {"organiser": EXPERT_ORGANISER, "summary": "采纳"})
    flow.fire(STAFF, "complete_expert_argumentation")
    assert flow.branches()["expert_argumentation"] == "done"


# -- risk assessment (Art 22-24) -----------------------------------------------------------------
def test_uncontrollable_risk_needs_an_adjusted_draft_and_a_new_assessment(parts, people, clock):
    """An uncontrollable risk needs a new draft and then a new controllable report (Art 24)."""
    flow = reach(parts, people, clock, "argumentation", social_risk=True)
    flow.fire(STAFF, "start_risk_assessment")
    flow.record(STAFF, "risk_report", risk_report("not_controllable"))
    with refused(flow, RuleNotMet) as err:
        flow.fire(STAFF, "complete_risk_assessment")
    assert unmet(err) == {
        ("record_field_equals", "Art 24"),
        ("reassessed_after_adjustment", "Art 24"),
    }
    flow.record(STAFF, "risk_report", risk_report("controllable"))
    with refused(flow, RuleNotMet, "reassessed_after_adjustment", "Art 24") as err:
        flow.fire(STAFF, "complete_risk_assessment")
    assert len(err.value.unmet) == 1
    assert "adjusted and then re-assessed" in message(err, "reassessed_after_adjustment")
    # the draft is adjusted while the argumentation goes on...
    assert draft(flow, "补偿标准草案（分期兑付）", cause="risk_finding").data["number"] == 2
    with refused(flow, RuleNotMet, "reassessed_after_adjustment", "Art 24"):
        flow.fire(STAFF, "complete_risk_assessment")  # ...but not yet re-assessed
    flow.record(STAFF, "risk_report", risk_report("controllable"))
    flow.fire(STAFF, "complete_risk_assessment")
    assert flow.branches()["risk_assessment"] == "done"


# -- legality review (Art 25-28) -----------------------------------------------------------------
def test_no_legality_review_before_every_required_branch_is_complete(parts, people, clock):
    """Submitting for review while a required branch is pending is refused (Art 25)."""
    flow = reach(parts, people, clock, "argumentation", social_risk=True)
    risk(flow)
    with refused(flow, RuleNotMet, "required_branches_complete", "Art 25") as err:
        flow.fire(STAFF, "submit_legality_review", review_request(flow))
    assert "Public participation" in message(err, "required_branches_complete")
    assert "Risk assessment" not in message(err, "required_branches_complete")
    participation(flow)
    assert flow.fire(STAFF, "submit_legality_review", review_request(flow)).state == (
        "legality_review"
    )


def test_the_reviewer_is_given_7_working_days_even_across_national_day(parts, people, clock):
    """The reviewer gets 7 working days (Art 27), counted by the holiday calendar (National Day)."""
    flow = reach(parts, people, clock, "argumentation", not_disclosed=True)
    clock.now = datetime(2026, 3, 9, 9, 0, tzinfo=SHANGHAI)  # a Monday, no holiday near
    rule = "field_min_ahead:requested_completion_date"
    with refused(flow, RuleNotMet, rule, "Art 27") as err:
        flow.fire(STAFF, "submit_legality_review", review_at("2026-03-17"))
    assert "at least 7 working days" in message(err, rule)
    clock.now = datetime(2026, 9, 28, 9, 0, tzinfo=SHANGHAI)
    # 29, 30 Sep, 8, 9 Oct, Sat 10 Oct (a make-up working day), 12 Oct: 6 working days
    with refused(flow, RuleNotMet, rule, "Art 27") as err:
        flow.fire(STAFF, "submit_legality_review", review_at("2026-10-12"))
    assert "(2026-10-12 leaves 6)" in message(err, rule)
    moved = flow.fire(STAFF, "submit_legality_review", review_at("2026-10-13"))
    assert moved.state == "legality_review"


def review_at(day: str) -> dict[str, str]:
    return {"requested_completion_date": day, "legal_basis_summary": "《土地管理法》"}


def _latest_draft(parts: Parts, decision_id: int) -> DraftVersion:
    with parts.sessions() as session:
        found = session.scalars(
            select(DraftVersion)
            .where(DraftVersion.decision_id == decision_id)
            .order_by(DraftVersion.number.desc())
        ).first()
    assert found is not None
    return found


def _stored_signature(parts: Parts, record_id: int) -> dict[str, Any]:
    with parts.sessions() as session:
        record = session.get(StepRecord, record_id)
        assert record is not None
        return dict(record.data["signature"])


def test_the_legality_opinion_is_signed_over_the_drafts_sha256(parts, people, clock):
    """The legality opinion is signed, and its signature covers the draft's SHA-256 (Art 28)."""
    flow = reach(parts, people, clock, "legality_review")
    with refused(flow, InvalidInput, input_field="password"):
        flow.record(LEGAL, "legality_opinion", opinion())
    signed = flow.record(LEGAL, "legality_opinion", opinion(), signed=True)
    stored = _stored_signature(parts, signed.id)
    latest = _latest_draft(parts, flow.id)
    assert stored["draft_sha256"] == latest.sha256
    assert (stored["draft_number"], stored["signer_id"]) == (latest.number, people[LEGAL].id)
    assert stored["article"] == "Art 28"


def test_an_unlawful_finding_cannot_go_to_the_meeting_and_returns_to_drafting(parts, people, clock):
    """An unlawful draft goes back to drafting, not to the meeting; the consultation is kept."""
    flow = reach(parts, people, clock, "legality_review")
    flow.record(LEGAL, "legality_opinion", opinion("unlawful"), signed=True)
    with refused(flow, RuleNotMet, "record_field_not_equals", "Art 25"):
        flow.fire(LEGAL, "find_lawful")
    assert flow.fire(LEGAL, "find_unlawful").state == "drafting"
    draft(flow, "补偿标准草案（依审查意见修改）", cause="legality_finding")
    again = flow.fire(STAFF, "submit_for_argumentation")
    assert {b.name: b.state for b in again.branches} == {"public_participation": "done"}
    # the same day: no new consultation is opened or waited for
    assert flow.fire(STAFF, "submit_legality_review", review_request(flow)).state == (
        "legality_review"
    )


def test_a_lawful_opinion_cannot_be_found_unlawful(parts, people, clock):
    """find_unlawful needs an "unlawful" opinion (Art 28): a lawful one goes to the meeting."""
    flow = reach(parts, people, clock, "legality_review")
    flow.record(LEGAL, "legality_opinion", opinion(), signed=True)
    with refused(flow, RuleNotMet, "record_field_equals", "Art 28"):
        flow.fire(LEGAL, "find_unlawful")
    assert flow.fire(LEGAL, "find_lawful").state == "meeting_preparation"


def test_stating_the_legal_risk_is_only_for_exploratory_reform(parts, people, clock):
    """A "legal risk stated" finding lets only an exploratory reform go on (Art 28)."""
    flow = reach(parts, people, clock, "legality_review")
    flow.record(LEGAL, "legality_opinion", opinion("legal_risk_stated"), signed=True)
    with refused(flow, RuleNotMet, "value_needs_flag", "Art 28") as err:
        flow.fire(LEGAL, "find_lawful")
    assert "Exploratory reform" in message(err, "value_needs_flag")
    reform = reach(parts, people, clock, "legality_review", exploratory_reform=True)
    reform.record(LEGAL, "legality_opinion", opinion("legal_risk_stated"), signed=True)
    assert reform.fire(LEGAL, "find_lawful").state == "meeting_preparation"


def test_a_draft_changed_after_the_opinion_voids_it(parts, people, clock):
    """A draft changed after the legality opinion voids it until a new one is signed (Art 28)."""
    flow = reach(parts, people, clock, "legality_review")
    old = flow.record(LEGAL, "legality_opinion", opinion(), signed=True)
    back = flow.fire(LEGAL, "return_incomplete", {"missing": "补充社会稳定风险说明"})
    assert back.state == "argumentation"
    assert flow.branches() == {"public_participation": "done"}  # kept on re-entry
    draft(flow, "补偿标准草案（补充后）", cause="legality_finding")
    flow.fire(STAFF, "submit_legality_review", review_request(flow))
    with refused(flow, RuleNotMet, "signature_covers_current_draft", "Art 28") as err:
        flow.fire(LEGAL, "find_lawful")
    assert "signed over draft v1; the draft is now v2" in message(
        err, "signature_covers_current_draft"
    )
    new = flow.record(LEGAL, "legality_opinion", opinion(), signed=True)
    assert _stored_signature(parts, new.id)["draft_sha256"] == _latest_draft(parts, flow.id).sha256
    assert _stored_signature(parts, old.id)["draft_sha256"] != _latest_draft(parts, flow.id).sha256
    assert flow.fire(LEGAL, "find_lawful").state == "meeting_preparation"
    _schedule(flow)
    assert flow.get().state == "collective_discussion"


# -- meeting (Art 29-30) -------------------------------------------------------------------------
def test_market_activity_needs_the_fair_competition_review_before_the_meeting(parts, people, clock):
    """A market-affecting decision needs a fair competition review for the agenda (Art 29)."""
    flow = reach(parts, people, clock, "drafting", market_activity=True)
    # no review made while drafting: the gate is the meeting pack's
    drafting_records(flow, fair_competition=False)
    flow.fire(STAFF, "submit_for_argumentation")
    _argue(flow)
    _submit_review(flow)
    _review(flow)
    with refused(flow, RuleNotMet, "requires:fair_competition_review", "Art 29"):
        _schedule(flow)
    flow.record(STAFF, "fair_competition_review", {"conclusion": "未排除、限制竞争"})
    _schedule(flow)
    assert flow.get().state == "collective_discussion"


def test_the_chief_decides_only_after_members_speak_and_minutes_are_kept(parts, people, clock):
    """Approval needs this meeting's member opinions and minutes (Art 30)."""
    flow = reach(parts, people, clock, "collective_discussion")
    with refused(flow, RuleNotMet) as err:
        flow.fire(CHIEF, "approve_decision", approval(flow))
    assert unmet(err) == {
        ("requires:member_opinion", "Art 30"),
        ("requires:meeting_minutes", "Art 30"),
    }
    member(flow, "副区长甲", "agree")
    with refused(flow, RuleNotMet, "requires:meeting_minutes", "Art 30"):
        flow.fire(CHIEF, "approve_decision", approval(flow))
    minutes(flow)
    assert flow.fire(CHIEF, "approve_decision", approval(flow)).state == "party_report"


def test_approving_against_a_disagreeing_majority_needs_stated_reasons(parts, people, clock):
    """The chief departing from a majority that disagreed must state why (Art 30)."""
    flow = reach(parts, people, clock, "collective_discussion")
    member(flow, "副区长甲", "disagree")
    member(flow, "副区长乙", "disagree")
    member(flow, "副区长丙", "agree")
    minutes(flow)
    with refused(flow, RuleNotMet, "departure_explained", "Art 30"):
        flow.fire(CHIEF, "approve_decision", approval(flow, departure_reason="   "))
    moved = flow.fire(
        CHIEF, "approve_decision", approval(flow, departure_reason="群众期盼，财政可承受")
    )
    assert moved.state == "party_report"


def test_rejecting_against_an_agreeing_majority_needs_stated_reasons(parts, people, clock):
    """The chief rejecting what the majority agreed to must state why (Art 30)."""
    flow = reach(parts, people, clock, "collective_discussion")
    member(flow, "副区长甲", "agree")
    member(flow, "副区长乙", "agree")
    member(flow, "副区长丙", "abstain")
    minutes(flow)
    with refused(flow, RuleNotMet, "departure_explained", "Art 30"):
        flow.fire(CHIEF, "reject_decision", {"chief_statement": "不同意"})
    rejected = flow.fire(
        CHIEF, "reject_decision", {"chief_statement": "不同意", "departure_reason": "资金无着落"}
    )
    assert (rejected.state, rejected.final) == ("rejected", True)


def test_the_majority_counts_each_member_once(parts, people, clock):
    """A member whose position was recorded twice counts once, by the later record (Art 30)."""
    flow = reach(parts, people, clock, "collective_discussion")
    member(flow, "副区长甲", "disagree")
    member(flow, "副区长乙", "agree")  # recorded wrongly...
    member(flow, "副区长乙", "disagree")  # ...and corrected by a new record
    member(flow, "副区长丙", "agree")
    minutes(flow)
    # two of three members disagree: approving departs from the majority
    with refused(flow, RuleNotMet, "departure_explained", "Art 30"):
        flow.fire(CHIEF, "approve_decision", approval(flow))


def test_member_opinions_cannot_be_changed_once_decided(parts, people, clock):
    """Member opinions cannot be edited, deleted, or added after the chief has decided (Art 30)."""
    editing = [
        name
        for name in dir(DecisionService)
        if any(word in name for word in ("update", "delete", "edit", "remove", "amend", "change"))
    ]
    assert editing == []
    flow = reach(parts, people, clock, "collective_discussion")
    dissent = member(flow, "副区长乙", "disagree")
    member(flow, "副区长甲", "agree")
    member(flow, "副区长丙", "agree")
    minutes(flow)
    flow.fire(CHIEF, "approve_decision", approval(flow))
    with refused(flow, RuleNotMet, "stage", "Art 30"):
        member(flow, "副区长乙", "agree")  # a change of heart after the decision
    with parts.sessions() as session:
        opinions = session.scalars(
            select(StepRecord)
            .where(StepRecord.decision_id == flow.id, StepRecord.kind == "member_opinion")
            .order_by(StepRecord.id)
        ).all()
        assert (opinions[0].id, opinions[0].data["member"], opinions[0].data["position"]) == (
            dissent.id,
            "副区长乙",
            "disagree",
        )
        assert len(opinions) == 3


# -- Party committee (Art 31) and people's congress (Art 8) -----------------------------------
def test_the_party_committee_report_comes_before_publication(parts, people, clock):
    """The Party report comes before publication (Art 31); ordinary matters skip the congress."""
    flow = reach(parts, people, clock, "party_report")
    with refused(flow, RuleNotMet, "stage", "Art 32"):
        flow.fire(OFFICE, "publish_decision", publication(flow))
    with refused(flow, InvalidInput, input_field="reported_on"):
        flow.fire(OFFICE, "report_to_party_committee", {})
    assert flow.fire(OFFICE, "report_to_party_committee", {"reported_on": flow.day(0)}).state == (
        "publication"
    )
    with refused(flow, RuleNotMet, "stage", "Art 8"):
        flow.fire(OFFICE, "record_congress_decision", {"session": "常委会", "resolution": "通过"})


def test_a_congress_matter_goes_through_the_peoples_congress(parts, people, clock):
    """A congress matter is published only after the people's congress resolution (Art 8)."""
    flow = reach(parts, people, clock, "party_report", congress_matter=True)
    moved = flow.fire(OFFICE, "report_to_party_committee", {"reported_on": flow.day(0)})
    assert moved.state == "people_congress"
    with refused(flow, RuleNotMet, "stage", "Art 32"):
        flow.fire(OFFICE, "publish_decision", publication(flow))
    passed = flow.fire(
        OFFICE,
        "record_congress_decision",
        {"session": "区人大常委会第十次会议", "resolution": "通过"},
    )
    assert passed.state == "publication"


# -- publication (Art 32) ------------------------------------------------------------------------
def test_a_matter_of_wide_concern_is_published_with_the_adoption_explanation(parts, people, clock):
    """A matter of wide concern is published with how opinions were adopted (Art 32)."""
    flow = reach(parts, people, clock, "publication", wide_concern=True)
    with refused(flow, RuleNotMet, "requires:adoption_explanation", "Art 32"):
        flow.fire(OFFICE, "publish_decision", publication(flow))
    flow.record(OFFICE, "adoption_explanation", {"explanation": "采纳公众意见 12 条……"})
    assert flow.fire(OFFICE, "publish_decision", publication(flow)).state == "execution"


# -- execution (Art 33-35) -----------------------------------------------------------------------
def test_the_approval_names_the_executing_unit_and_only_its_executors_report(parts, people, clock):
    """The approval names the unit whose executors alone report (Art 34); the archive is final."""
    flow = reach(parts, people, clock, "collective_discussion", executing_unit="ecology")
    member(flow, "副区长甲", "agree")
    minutes(flow)
    with refused(flow, InvalidInput, input_field="executing_unit"):
        flow.fire(CHIEF, "approve_decision", approval(flow, executing_unit="nowhere"))
    approved = flow.fire(CHIEF, "approve_decision", approval(flow))
    assert approved.executing_unit_id == department_id(parts, "ecology")
    _report(flow)
    _publish(flow)
    ours = people.executor_b  # the ecology bureau's executor
    flow.record(ours, "progress_report", {"period": "第一季度", "progress": "已兑付首批补偿"})
    flow.record(ours, "problem_report", {"kind": "major_change", "description": "地价上涨"})
    with refused(flow, NotPermitted) as err:
        flow.record(EXECUTOR, "progress_report", {"period": "第一季度", "progress": "代报"})
    assert "not one your department handles" in err.value.en
    archived = flow.fire(OFFICE, "archive_decision", {"file_number": "2026-永久-017"})
    assert (archived.state, archived.final) == ("archived", True)
    with refused(flow, RuleNotMet, "closed", "Art 33"):
        flow.record(ours, "progress_report", {"period": "第二季度", "progress": "补报"})
    with refused(flow, RuleNotMet, "stage", "Art 37"):
        flow.fire(CHIEF, "terminate_decision", {"reasons": "已归档"})
    with refused(flow, RuleNotMet, "closed", "Art 33"):
        parts.decisions.attach_file(
            people[OFFICE], flow.id, filename="补充.pdf", content_type="application/pdf", data=b"x"
        )


# -- evaluation (Art 36) -------------------------------------------------------------------------
def test_the_evaluator_is_not_who_argued_or_assessed_before(parts, people, clock):
    """The evaluator may be neither the risk assessor nor the expert organiser (Art 36)."""
    flow = reach(parts, people, clock, "execution", professional=True, social_risk=True)
    for evaluator in (RISK_ASSESSOR, f" {EXPERT_ORGANISER[:3]} {EXPERT_ORGANISER[3:]} "):
        with refused(flow, RuleNotMet, "differs_from_records", "Art 36") as err:
            flow.fire(
                CHIEF, "order_evaluation", {"reason": "many_concerns", "evaluator": evaluator}
            )
        assert RISK_ASSESSOR in message(err, "differs_from_records")
    moved = flow.fire(
        CHIEF, "order_evaluation", {"reason": "many_concerns", "evaluator": "省社会科学院"}
    )
    assert moved.state == "evaluation"


def evaluation_report(conclusion: str) -> dict[str, str]:
    return {"findings": "补偿兑付率 96%", "public_heard": "座谈会两场", "conclusion": conclusion}


def test_execution_continues_only_on_a_continue_conclusion(parts, people, clock):
    """After an evaluation, execution continues only on a report concluding "continue" (Art 36)."""
    flow = reach(parts, people, clock, "execution")
    flow.fire(CHIEF, "order_evaluation", {"reason": "body_decided", "evaluator": "省社会科学院"})
    with refused(flow, RuleNotMet, "requires:evaluation_report", "Art 36"):
        flow.fire(CHIEF, "continue_execution")
    flow.record(OFFICE, "evaluation_report", evaluation_report("adjust"))
    with refused(flow, RuleNotMet, "record_field_equals", "Art 36"):
        flow.fire(CHIEF, "continue_execution")
    flow.record(OFFICE, "evaluation_report", evaluation_report("continue"))
    assert flow.fire(CHIEF, "continue_execution").state == "execution"


# -- suspension, adjustment, termination (Art 37) ----------------------------------------------
def test_the_chief_suspends_with_reasons_and_resumes(parts, people, clock):
    """Only the chief suspends, with reasons, and resumes; concerns are heard meanwhile (Art 37)."""
    flow = reach(parts, people, clock, "execution")
    with refused(flow, NotPermitted, "role", "Art 37"):
        flow.fire(OFFICE, "suspend_execution", {"reasons": "群众反映强烈"})
    with refused(flow, InvalidInput, input_field="reasons"):
        flow.fire(CHIEF, "suspend_execution", {})
    assert flow.fire(CHIEF, "suspend_execution", {"reasons": "群众反映强烈"}).state == "suspended"
    with refused(flow, RuleNotMet, "stage", "Art 34"):
        flow.record(EXECUTOR, "progress_report", {"period": "三月", "progress": "暂停中"})
    flow.record(EXECUTOR, "public_concern", {"raised_by": "村民李某", "concern": "补偿到账慢"})
    assert flow.fire(CHIEF, "resume_execution", {"reasons": "已核实整改"}).state == "execution"


def test_a_major_adjustment_closes_the_decision_and_opens_its_successor(parts, people, clock):
    """A major adjustment closes the decision and opens a successor at the first stage (Art 37)."""
    flow = reach(parts, people, clock, "execution", vital_interests=True)
    flow.fire(CHIEF, "order_evaluation", {"reason": "results_missed", "evaluator": "省社会科学院"})
    flow.record(OFFICE, "evaluation_report", evaluation_report("continue"))
    with refused(flow, RuleNotMet, "record_field_equals", "Art 37"):
        flow.fire(CHIEF, "adjust_decision", {"reasons": "标准偏低"})
    flow.record(OFFICE, "evaluation_report", evaluation_report("adjust"))
    adjusted = flow.fire(CHIEF, "adjust_decision", {"reasons": "标准偏低"})
    assert (adjusted.state, adjusted.final) == ("adjusted", True)
    with parts.sessions() as session:
        successor_id = session.scalar(select(Decision.id).where(Decision.predecessor_id == flow.id))
    assert successor_id is not None
    successor = parts.decisions.get(people[Role.SUPERVISOR], successor_id)
    assert (successor.state, successor.predecessor_id) == ("proposed", flow.id)
    assert successor.flags["vital_interests"] and successor.title == adjusted.title
    # the successor starts from scratch: a proposal first
    with pytest.raises(RuleNotMet) as err:
        parts.decisions.fire(people[CHIEF], successor_id, "start_procedure", {"reasons": "调整"})
    assert ("requires:proposal", "Art 10") in unmet(err)


def test_the_audit_chain_names_the_successor_of_a_major_adjustment(parts, people, clock):
    """Who opened the successor, and from which decision, is kept in the audit chain (Art 37)."""
    flow = reach(parts, people, clock, "execution")
    flow.fire(CHIEF, "order_evaluation", {"reason": "results_missed", "evaluator": "省社会科学院"})
    flow.record(OFFICE, "evaluation_report", evaluation_report("adjust"))
    flow.fire(CHIEF, "adjust_decision", {"reasons": "标准偏低"})
    with parts.sessions() as session:
        successor_id = session.scalar(select(Decision.id).where(Decision.predecessor_id == flow.id))
        [event] = session.scalars(
            select(AuditEvent).where(
                AuditEvent.decision_id == flow.id, AuditEvent.action == "adjust_decision"
            )
        ).all()
    assert f'"successor_id":{successor_id}' in event.detail


def test_the_chief_terminates_with_reasons_and_nothing_moves_after(parts, people, clock):
    """Termination needs the chief and reasons (Art 37); the terminated decision is closed."""
    flow = reach(parts, people, clock, "execution")
    flow.fire(CHIEF, "suspend_execution", {"reasons": "上级政策调整"})
    with refused(flow, InvalidInput, input_field="reasons"):
        flow.fire(CHIEF, "terminate_decision", {"reasons": ""})
    ended = flow.fire(CHIEF, "terminate_decision", {"reasons": "上位法修改，决策失去依据"})
    assert (ended.state, ended.final) == ("terminated", True)
    with refused(flow, RuleNotMet, "stage", "Art 37"):
        flow.fire(CHIEF, "resume_execution", {"reasons": "恢复"})
    with refused(flow, RuleNotMet, "closed", "Art 33"):
        flow.record(EXECUTOR, "public_concern", {"concern": "为何终止"})
