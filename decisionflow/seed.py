"""Demo data: departments, a user in every role, decisions at every stage — all through the service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from decisionflow.accounts import SYSTEM, Actor, find_department
from decisionflow.bootstrap import Parts, build
from decisionflow.demo import (
    FLAGS_FOR_PATH,
    MAJOR_DECISION_PATH,
    NORMATIVE_DOCUMENT_PATH,
    Step,
    StepContext,
    take_step,
)
from decisionflow.models import User, utcnow
from decisionflow.roles import ROLE_LABELS, Role

DEMO_PASSWORD = "demo-2026-decisionflow"

DEPARTMENTS = (
    ("office", "区政府办公室", "District Government Office"),
    ("housing", "区住房和城乡建设局", "District Housing and Construction Bureau"),
    ("natres", "区自然资源局", "District Natural Resources Bureau"),
    ("justice", "区司法局", "District Justice Bureau"),
    ("health", "区卫生健康局", "District Health Commission"),
)

#: username, display name, role, department
ACCOUNTS = (
    ("admin", "系统管理员 王敏", Role.ADMIN, "office"),
    ("clerk", "住建局 李娜", Role.STAFF, "housing"),
    ("clerk2", "自然资源局 赵强", Role.STAFF, "natres"),
    ("office", "政府办 陈静", Role.GOVERNMENT_OFFICE, "office"),
    ("legal", "司法局 刘洋", Role.LEGAL_OFFICER, "justice"),
    ("expert", "专家 周教授", Role.EXPERT, "office"),
    ("chief", "区长 张伟", Role.CHIEF_EXECUTIVE, "office"),
    ("executor", "住建局执行科 孙磊", Role.EXECUTOR, "housing"),
    ("supervisor", "督查室 吴芳", Role.SUPERVISOR, "office"),
)

MAJOR, NORMATIVE = "major_decision", "normative_document"
PATHS = {MAJOR: MAJOR_DECISION_PATH, NORMATIVE: NORMATIVE_DOCUMENT_PATH}
FLAGS = {MAJOR: dict(FLAGS_FOR_PATH), NORMATIVE: {}}


def _step(role: Role, name: str, kind: str = "fire", wait: int = 1, **values: object) -> Step:
    return Step(role, kind, name, lambda ctx: dict(values), wait_days=wait)  # type: ignore[arg-type]


EVALUATE = _step(
    Role.CHIEF_EXECUTIVE,
    "order_evaluation",
    reason="results_missed",
    evaluator="省行政学院评估中心",
)


@dataclass(frozen=True)
class Planned:
    """A demo decision: its matter, how far along the lawful path it goes, and what follows."""

    title: str
    unit: str
    category: str
    procedure: str
    #: the last step taken on the lawful path (None: just opened)
    last: str | None
    then: tuple[Step, ...] = ()
    flags: tuple[str, ...] = ()


#: decisions at every stage of both procedures (and every way a major decision may end)
DECISIONS: tuple[Planned, ...] = (
    Planned("集体土地征收补偿标准调整", "housing", "public_policy", MAJOR, "archive_decision"),
    Planned(
        "城区老旧小区改造三年行动计划", "housing", "development_plan", MAJOR, "progress_report"
    ),
    Planned(
        "保障性租赁住房分配管理办法", "housing", "public_policy", MAJOR, "report_to_party_committee"
    ),
    Planned("城乡居民基本医疗保险待遇调整", "health", "public_policy", MAJOR, "approve_decision"),
    Planned("湿地自然保护区生态修复方案", "natres", "resources", MAJOR, "find_lawful"),
    Planned("区域医疗中心建设项目", "health", "construction_project", MAJOR, "member_opinion"),
    Planned(
        "农村集体经营性建设用地入市办法", "natres", "resources", MAJOR, "submit_legality_review"
    ),
    Planned("公共租赁住房租金标准调整", "housing", "public_policy", MAJOR, "announce_hearing"),
    Planned(
        "城市生活垃圾分类管理实施方案", "housing", "major_impact", MAJOR, "department_consultation"
    ),
    Planned("中心城区停车收费标准调整", "housing", "public_policy", MAJOR, None),
    Planned(
        "义务教育学区划分调整方案",
        "housing",
        "public_policy",
        MAJOR,
        "report_to_party_committee",
        flags=("congress_matter",),
    ),
    Planned(
        "管道燃气价格联动机制",
        "housing",
        "public_policy",
        MAJOR,
        "progress_report",
        then=(EVALUATE,),
    ),
    Planned(
        "户外广告设施设置规划",
        "natres",
        "development_plan",
        MAJOR,
        "progress_report",
        then=(
            _step(
                Role.CHIEF_EXECUTIVE, "suspend_execution", reasons="群众集中反映，暂停执行并复核"
            ),
        ),
    ),
    Planned(
        "公益性殡葬设施布局规划",
        "health",
        "development_plan",
        MAJOR,
        "progress_report",
        then=(
            EVALUATE,
            _step(
                Role.GOVERNMENT_OFFICE,
                "evaluation_report",
                kind="record",
                wait=20,
                findings="选址与新规划冲突",
                public_heard="召开座谈会两场",
                conclusion="adjust",
            ),
            _step(
                Role.CHIEF_EXECUTIVE, "adjust_decision", reasons="选址重大调整，重新履行决策程序"
            ),
        ),
    ),
    Planned(
        "城区禁止燃放烟花爆竹规定",
        "housing",
        "major_impact",
        MAJOR,
        "meeting_minutes",
        then=(
            _step(
                Role.CHIEF_EXECUTIVE,
                "reject_decision",
                chief_statement="暂不通过（最后发言）",
                departure_reason="执法力量不足，条件尚不成熟",
            ),
        ),
    ),
    Planned(
        "出租汽车运力投放方案",
        "housing",
        "public_policy",
        MAJOR,
        "proposal",
        then=(_step(Role.CHIEF_EXECUTIVE, "decline_proposal", reasons="不属于重大行政决策事项"),),
    ),
    Planned(
        "老年助餐服务补贴办法",
        "health",
        "public_policy",
        MAJOR,
        "legal_basis",
        then=(_step(Role.CHIEF_EXECUTIVE, "terminate_decision", reasons="上级已出台统一政策"),),
    ),
    Planned("住房租赁补贴管理办法", "housing", "public_policy", NORMATIVE, "file_with_authority"),
    Planned("物业服务收费管理办法", "housing", "public_policy", NORMATIVE, "publish_document"),
    Planned("城市道路占用挖掘管理规定", "natres", "public_policy", NORMATIVE, "register_document"),
    Planned("建筑垃圾处置管理办法", "housing", "public_policy", NORMATIVE, "adopt_document"),
    Planned("养犬管理实施细则", "housing", "public_policy", NORMATIVE, "find_lawful"),
    Planned("农村宅基地审批管理办法", "natres", "resources", NORMATIVE, "submit_legality_review"),
    Planned("医疗机构设置规划管理办法", "health", "public_policy", NORMATIVE, "open_comment"),
    Planned("城市绿化管理办法", "housing", "public_policy", NORMATIVE, "drafting_explanation"),
    Planned(
        "共享单车停放管理办法",
        "housing",
        "public_policy",
        NORMATIVE,
        "open_comment",
        then=(_step(Role.STAFF, "withdraw_draft", reasons="拟由市级统一立法"),),
    ),
    Planned(
        "户外烧烤管理规定",
        "housing",
        "public_policy",
        NORMATIVE,
        "find_lawful",
        then=(_step(Role.CHIEF_EXECUTIVE, "terminate_document", reasons="上位法已作规定"),),
    ),
)


@dataclass(frozen=True)
class DemoSummary:
    """What seed-demo made: the accounts (and their shared password) and how many decisions."""

    accounts: tuple[tuple[str, str, Role], ...]
    password: str
    decisions: int
    already_seeded: bool = False


class _Clock:
    """Demo time: starts months ago and moves as the steps wait, so time rules pass truly."""

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now


def _accounts_summary(already: bool, decisions: int) -> DemoSummary:
    return DemoSummary(
        accounts=tuple((u, d, r) for u, d, r, _ in ACCOUNTS),
        password=DEMO_PASSWORD,
        decisions=decisions,
        already_seeded=already,
    )


def seed_demo(parts: Parts) -> DemoSummary:
    """Fill an empty database with the demo; a database already seeded is left as it is."""
    with parts.sessions() as session:
        if find_department(session, "office") is not None:
            return _accounts_summary(True, 0)
    total_wait = sum(step.wait_days for path in PATHS.values() for step in path)
    total_wait += sum(step.wait_days for plan in DECISIONS for step in plan.then) + 5
    clock = _Clock(utcnow() - timedelta(days=total_wait))
    demo = build(parts.settings, clock=clock)
    try:
        for code, zh, en in DEPARTMENTS:
            demo.admin.create_department(SYSTEM, code=code, name_zh=zh, name_en=en)
        for username, name, role, department in ACCOUNTS:
            demo.admin.create_user(
                SYSTEM,
                username=username,
                display_name=name,
                password=DEMO_PASSWORD,
                role=role.value,
                department=department,
            )
        actors = _actors(demo)
        demo.registers.enrol_expert(SYSTEM, username="expert", fields="土地管理、社会稳定风险评估")
        clerks = {"housing": actors["clerk"], "natres": actors["clerk2"], "health": actors["clerk"]}
        by_role = {
            role: actors[username] for username, _, role, _ in ACCOUNTS if username != "clerk2"
        }
        for procedure in (MAJOR, NORMATIVE):
            _seed_procedure(demo, clock, procedure, clerks, actors, by_role)
    finally:
        demo.dispose()
    return _accounts_summary(False, len(DECISIONS))


def _seed_procedure(
    demo: Parts,
    clock: _Clock,
    procedure: str,
    clerks: dict[str, Actor],
    actors: dict[str, Actor],
    by_role: dict[Role, Actor],
) -> None:
    """Open the procedure's demo decisions and take their steps, round-robin, so time only moves on."""
    path = PATHS[procedure]
    names = [step.name for step in path]
    planned = []
    for plan in (p for p in DECISIONS if p.procedure == procedure):
        # The health commission has no clerk account in this small demo: the government
        # office opens its matters and the housing clerk works on them as a co-unit.
        co_units = ["housing"] if plan.unit == "health" else []
        creator = actors["office"] if co_units else clerks[plan.unit]
        flags = {**FLAGS[procedure], **dict.fromkeys(plan.flags, True)}
        view = demo.decisions.create_decision(
            creator,
            title=plan.title,
            category=plan.category,
            undertaking_unit=plan.unit,
            procedure=procedure,
            flags=flags,
            co_units=co_units,
            origin="seed-demo",
        )
        stop = -1 if plan.last is None else names.index(plan.last)
        planned.append((view.id, stop, clerks[plan.unit], plan))

    def context() -> StepContext:
        return StepContext(
            today=clock.now.astimezone(demo.decisions.timezone).date(),
            expert_ids=(actors["expert"].id or 0,),
            password=DEMO_PASSWORD,
        )

    def act(step: Step, decision_id: int, clerk: Actor) -> None:
        actor = clerk if step.role is Role.STAFF else by_role[step.role]
        take_step(demo.decisions, step, actor, decision_id, context())
        clock.now += timedelta(minutes=3)

    for index, step in enumerate(path):
        clock.now += timedelta(days=step.wait_days, minutes=7)
        for decision_id, stop, clerk, _plan in planned:
            if index <= stop:
                act(step, decision_id, clerk)
    for decision_id, _stop, clerk, plan in planned:
        for step in plan.then:
            clock.now += timedelta(days=step.wait_days)
            act(step, decision_id, clerk)


def _actors(parts: Parts) -> dict[str, Actor]:
    with parts.sessions() as session:
        users = session.query(User).all()
        return {u.username: Actor.of(u) for u in users}


def describe(summary: DemoSummary) -> str:
    """The accounts, for the terminal."""
    lines = [f"{'username':<12} {'role':<36} name"]
    for username, name, role in summary.accounts:
        zh, en = ROLE_LABELS[role]
        lines.append(f"{username:<12} {zh + ' / ' + en:<36} {name}")
    lines.append(f"password for every demo account / 所有演示账号的密码: {summary.password}")
    return "\n".join(lines)
