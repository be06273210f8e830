"""A lawful path through the major-decision procedure, and the demo data built along it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, Literal

from decisionflow.accounts import Actor
from decisionflow.roles import Role
from decisionflow.service import DecisionService

Payload = Callable[["StepContext"], dict[str, Any]]


@dataclass(frozen=True)
class StepContext:
    """What a step's payload may depend on: today's legal date and who the experts are."""

    today: date
    expert_ids: tuple[int, ...]
    #: the acting user's password, for the steps that are signed
    password: str = ""


@dataclass(frozen=True)
class Step:
    """One action on the lawful path: who does it, what, with what, after how long a wait."""

    role: Role
    kind: Literal["fire", "record"]
    name: str
    payload: Payload
    wait_days: int = 0
    #: the actor signs it by re-entering the password (an expert opinion, a legality opinion)
    signed: bool = False


def _fixed(**values: Any) -> Payload:
    return lambda ctx: dict(values)


def _ahead(field: str, days: int, **values: Any) -> Payload:
    return lambda ctx: {**values, field: (ctx.today + timedelta(days=days)).isoformat()}


#: the whole major-decision procedure for a decision flagged professional, social_risk and
#: vital_interests: public participation, a hearing, experts and a risk assessment in parallel
MAJOR_DECISION_PATH: tuple[Step, ...] = (
    Step(
        Role.STAFF,
        "record",
        "proposal",
        _fixed(
            source="department",
            problem="征收补偿标准多年未调整，与市场价格差距较大",
            reasons="依据《土地管理法》第四十八条，补偿标准应适时调整",
            solution="按区片综合地价上调补偿标准",
            feasibility="财政可承受，群众期盼",
        ),
    ),
    Step(
        Role.CHIEF_EXECUTIVE,
        "fire",
        "start_procedure",
        _fixed(reasons="列入年度决策事项目录"),
        wait_days=3,
    ),
    Step(
        Role.STAFF,
        "record",
        "draft_version",
        _fixed(
            content="集体土地征收补偿标准（征求意见稿）\n第一条 ……",
            cause="initial",
            change_note="初稿",
        ),
        wait_days=5,
    ),
    Step(Role.STAFF, "record", "legal_basis", _fixed(laws="《土地管理法》《土地管理法实施条例》")),
    Step(
        Role.STAFF,
        "record",
        "department_consultation",
        _fixed(
            departments="财政局、自然资源局、人社局", agreed="补偿标准测算方法", disagreements=""
        ),
    ),
    Step(Role.STAFF, "fire", "submit_for_argumentation", _fixed(), wait_days=1),
    Step(
        Role.STAFF,
        "fire",
        "open_consultation",
        _ahead("deadline", 31, explanation="起草说明……", how_to_comment="政府网站留言或信函"),
    ),
    Step(
        Role.STAFF,
        "record",
        "hearing_participants",
        lambda ctx: {
            "selection_method": "自愿报名、随机抽取",
            "participants": "被征地农户代表 15 人",
            "published_on": ctx.today.isoformat(),
        },
    ),
    Step(
        Role.STAFF,
        "fire",
        "announce_hearing",
        _ahead("hearing_date", 12, place="区政府第一会议室", explanation="征地补偿标准听证会"),
    ),
    Step(
        Role.STAFF,
        "record",
        "hearing_materials_delivered",
        lambda ctx: {
            "delivered_on": ctx.today.isoformat(),
            "materials": "草案、起草说明、测算依据",
        },
        wait_days=1,
    ),
    Step(
        Role.STAFF, "fire", "request_expert_opinions", lambda ctx: {"experts": list(ctx.expert_ids)}
    ),
    Step(
        Role.EXPERT,
        "record",
        "expert_opinion",
        _fixed(opinion="标准测算方法科学，建议补充过渡安排"),
        wait_days=6,
        signed=True,
    ),
    Step(
        Role.STAFF,
        "record",
        "expert_adoption",
        _fixed(organiser="区住房和城乡建设局", summary="采纳过渡安排建议"),
    ),
    Step(Role.STAFF, "fire", "complete_expert_argumentation", _fixed()),
    Step(Role.STAFF, "fire", "start_risk_assessment", _fixed()),
    Step(
        Role.STAFF,
        "record",
        "risk_report",
        _fixed(
            assessor="区社会稳定风险评估中心",
            risk_points="被征地农民安置",
            measures="分期兑付、公开测算依据",
            response_plan="设立专门接访窗口",
            departments_consulted="信访局、公安分局",
            risk_level="medium",
            conclusion="controllable",
        ),
        wait_days=3,
    ),
    Step(Role.STAFF, "fire", "complete_risk_assessment", _fixed()),
    Step(Role.STAFF, "fire", "hold_hearing", _fixed(), wait_days=3),
    Step(
        Role.STAFF,
        "record",
        "hearing_record",
        _fixed(record="听证笔录：参加人 15 人，发言 9 人……", participants_confirmed="yes"),
    ),
    Step(Role.STAFF, "fire", "complete_hearing", _fixed()),
    Step(Role.STAFF, "fire", "close_consultation", _fixed(), wait_days=20),
    Step(
        Role.STAFF,
        "record",
        "comment_adoption_summary",
        _fixed(received=37, summary="采纳 12 条，部分采纳 9 条"),
    ),
    Step(Role.STAFF, "fire", "complete_public_participation", _fixed()),
    Step(
        Role.STAFF,
        "fire",
        "submit_legality_review",
        _ahead("requested_completion_date", 14, legal_basis_summary="《土地管理法》第四十八条"),
        wait_days=1,
    ),
    Step(
        Role.LEGAL_OFFICER,
        "record",
        "legality_opinion",
        _fixed(outcome="lawful", opinion="主体适格、程序完备、内容合法"),
        wait_days=8,
        signed=True,
    ),
    Step(Role.LEGAL_OFFICER, "fire", "find_lawful", _fixed()),
    Step(
        Role.GOVERNMENT_OFFICE,
        "fire",
        "schedule_meeting",
        _ahead("meeting_date", 3, meeting_kind="executive"),
        wait_days=2,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "record",
        "member_opinion",
        _fixed(member="副区长甲", position="agree", statement="同意，建议加强宣传解释"),
        wait_days=3,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "record",
        "member_opinion",
        _fixed(member="副区长乙", position="agree", statement="同意"),
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "record",
        "meeting_minutes",
        _fixed(
            attendees="区长、副区长甲、副区长乙、各局负责人", minutes="会议讨论了补偿标准草案……"
        ),
    ),
    Step(
        Role.CHIEF_EXECUTIVE,
        "fire",
        "approve_decision",
        _fixed(
            decision="approve", chief_statement="同意通过（最后发言）", executing_unit="housing"
        ),
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "fire",
        "report_to_party_committee",
        lambda ctx: {"reported_on": ctx.today.isoformat()},
        wait_days=2,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "fire",
        "publish_decision",
        lambda ctx: {
            "channels": "区政府网站、政府公报",
            "published_on": ctx.today.isoformat(),
            "published_text": "集体土地征收补偿标准（正式文本）",
        },
        wait_days=3,
    ),
    Step(
        Role.EXECUTOR,
        "record",
        "progress_report",
        _fixed(period="第一季度", progress="已完成首批补偿兑付"),
        wait_days=20,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "fire",
        "archive_decision",
        _fixed(file_number="2026-永久-017"),
        wait_days=30,
    ),
)
FLAGS_FOR_PATH: Mapping[str, bool] = {
    "professional": True,
    "social_risk": True,
    "vital_interests": True,
}


#: a normative document from drafting to filing (备案) with the filing body
NORMATIVE_DOCUMENT_PATH: tuple[Step, ...] = (
    Step(
        Role.STAFF,
        "record",
        "draft_version",
        _fixed(content="住房租赁补贴管理办法（征求意见稿）……", change_note="初稿"),
    ),
    Step(
        Role.STAFF,
        "record",
        "drafting_explanation",
        _fixed(
            necessity="规范补贴发放",
            legal_basis="《住房租赁条例》",
            main_content="补贴对象、标准、程序",
        ),
    ),
    Step(
        Role.STAFF,
        "fire",
        "open_comment",
        _ahead("deadline", 30, how_to_comment="政府网站留言或信函"),
        wait_days=1,
    ),
    Step(
        Role.STAFF,
        "record",
        "comment_adoption_summary",
        _fixed(received=23, summary="采纳 8 条；不予采纳的已说明理由"),
        wait_days=30,
    ),
    # 21 calendar days leave at least the 5 working days the review needs, holidays or not
    Step(Role.STAFF, "fire", "submit_legality_review", _ahead("requested_completion_date", 21)),
    Step(
        Role.LEGAL_OFFICER,
        "fire",
        "find_lawful",
        _fixed(opinion="制定主体、程序、内容合法", outcome="lawful"),
        wait_days=6,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "record",
        "meeting_minutes",
        lambda ctx: {
            "meeting_kind": "executive",
            "meeting_date": ctx.today.isoformat(),
            "opinions": "副区长甲：同意；区长：同意",
        },
        wait_days=3,
    ),
    Step(Role.CHIEF_EXECUTIVE, "fire", "adopt_document", _fixed(signed_by="区长")),
    Step(Role.GOVERNMENT_OFFICE, "fire", "register_document", _fixed(), wait_days=1),
    Step(
        Role.GOVERNMENT_OFFICE,
        "fire",
        "publish_document",
        lambda ctx: {"published_on": ctx.today.isoformat(), "channels": "区政府网站、政府公报"},
        wait_days=1,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "fire",
        "file_with_authority",
        lambda ctx: {
            "filing_body": "市人民政府",
            "filed_on": ctx.today.isoformat(),
            "receipt_number": "备2026-031",
        },
        wait_days=5,
    ),
)


def take_step(
    service: DecisionService, step: Step, actor: Actor, decision_id: int, ctx: StepContext
) -> None:
    """Do one step of the path through the service layer."""
    password = ctx.password if step.signed else None
    if step.kind == "fire":
        service.fire(
            actor, decision_id, step.name, step.payload(ctx), origin="demo", password=password
        )
    else:
        service.add_record(
            actor, decision_id, step.name, step.payload(ctx), origin="demo", password=password
        )
