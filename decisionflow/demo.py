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


@dataclass(frozen=True)
class Step:
    """One action on the lawful path: who does it, what, with what, after how long a wait."""

    role: Role
    kind: Literal["fire", "record"]
    name: str
    payload: Payload
    wait_days: int = 0


def _fixed(**values: Any) -> Payload:
    return lambda ctx: dict(values)


def _ahead(field: str, days: int, **values: Any) -> Payload:
    return lambda ctx: {**values, field: (ctx.today + timedelta(days=days)).isoformat()}


#: the whole major-decision procedure for a decision flagged professional and social_risk
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
        _fixed(content="征地补偿标准（征求意见稿）……", change_note="初稿"),
        wait_days=5,
    ),
    Step(Role.STAFF, "record", "legal_basis", _fixed(laws="《土地管理法》《土地管理法实施条例》")),
    Step(Role.STAFF, "fire", "submit_for_argumentation", _fixed(), wait_days=1),
    Step(
        Role.STAFF,
        "fire",
        "open_consultation",
        _ahead("deadline", 31, explanation="起草说明……", how_to_comment="政府网站留言或信函"),
    ),
    Step(
        Role.STAFF, "fire", "request_expert_opinions", lambda ctx: {"experts": list(ctx.expert_ids)}
    ),
    Step(
        Role.EXPERT,
        "record",
        "expert_opinion",
        _fixed(opinion="标准测算方法科学，建议补充过渡安排", signed=True),
        wait_days=6,
    ),
    Step(Role.STAFF, "record", "expert_adoption", _fixed(summary="采纳过渡安排建议")),
    Step(Role.STAFF, "fire", "complete_expert_argumentation", _fixed()),
    Step(Role.STAFF, "fire", "start_risk_assessment", _fixed()),
    Step(
        Role.STAFF,
        "record",
        "risk_report",
        _fixed(
            risk_points="被征地农民安置",
            measures="分期兑付、公开测算依据",
            response_plan="设立专门接访窗口",
            conclusion="controllable",
        ),
        wait_days=10,
    ),
    Step(Role.STAFF, "fire", "complete_risk_assessment", _fixed()),
    Step(Role.STAFF, "fire", "close_consultation", _fixed(), wait_days=16),
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
        _ahead("requested_completion_date", 14),
        wait_days=1,
    ),
    Step(
        Role.LEGAL_OFFICER,
        "fire",
        "find_lawful",
        _fixed(opinion="主体、程序、内容合法", outcome="lawful"),
        wait_days=8,
    ),
    Step(
        Role.GOVERNMENT_OFFICE,
        "record",
        "meeting_minutes",
        lambda ctx: {
            "meeting_kind": "executive",
            "meeting_date": ctx.today.isoformat(),
            "opinions": "副区长甲：同意；副区长乙：同意；区长（最后发言）：同意",
        },
        wait_days=6,
    ),
    Step(Role.CHIEF_EXECUTIVE, "fire", "approve_decision", _fixed(decision_text="通过")),
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
        lambda ctx: {"channels": "区政府网站、政府公报", "published_on": ctx.today.isoformat()},
        wait_days=3,
    ),
    Step(Role.GOVERNMENT_OFFICE, "fire", "archive_decision", _fixed(), wait_days=30),
)
FLAGS_FOR_PATH: Mapping[str, bool] = {"professional": True, "social_risk": True}


def take_step(
    service: DecisionService, step: Step, actor: Actor, decision_id: int, ctx: StepContext
) -> None:
    """Do one step of the path through the service layer."""
    if step.kind == "fire":
        service.fire(actor, decision_id, step.name, step.payload(ctx), origin="demo")
    else:
        service.add_record(actor, decision_id, step.name, step.payload(ctx), origin="demo")
