"""Demo data: departments, a user in every role, decisions at every stage — all through the service."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from decisionflow.accounts import SYSTEM, Actor, find_department
from decisionflow.bootstrap import Parts, build
from decisionflow.demo import FLAGS_FOR_PATH, MAJOR_DECISION_PATH, StepContext, take_step
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

STEP_NAMES = [step.name for step in MAJOR_DECISION_PATH]

#: title, undertaking unit, category, the last step taken on the lawful path (None: just proposed)
DECISIONS = (
    ("集体土地征收补偿标准调整", "housing", "public_policy", "archive_decision"),
    ("城区老旧小区改造三年行动计划", "housing", "development_plan", "publish_decision"),
    ("保障性租赁住房分配管理办法", "housing", "public_policy", "approve_decision"),
    ("城乡居民基本医疗保险待遇调整", "health", "public_policy", "find_lawful"),
    ("湿地自然保护区生态修复方案", "natres", "resources", "submit_legality_review"),
    ("区域医疗中心建设项目", "health", "construction_project", "complete_risk_assessment"),
    ("农村集体经营性建设用地入市办法", "natres", "resources", "open_consultation"),
    ("公共租赁住房租金标准调整", "housing", "public_policy", "legal_basis"),
    ("城市生活垃圾分类管理实施方案", "housing", "major_impact", "proposal"),
    ("中心城区停车收费标准调整", "housing", "public_policy", None),
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
    total_wait = sum(step.wait_days for step in MAJOR_DECISION_PATH) + 5
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
        planned = []
        for title, unit, category, last in DECISIONS:
            # The health commission has no clerk account in this small demo: the government
            # office opens its matters and the housing clerk works on them as a co-unit.
            co_units = ["housing"] if unit == "health" else []
            creator = actors["office"] if co_units else clerks[unit]
            view = demo.decisions.create_decision(
                creator,
                title=title,
                category=category,
                undertaking_unit=unit,
                flags=FLAGS_FOR_PATH,
                co_units=co_units,
                origin="seed-demo",
            )
            stop = -1 if last is None else STEP_NAMES.index(last)
            planned.append((view.id, stop, clerks[unit]))
        by_role = {
            role: actors[username] for username, _, role, _ in ACCOUNTS if username != "clerk2"
        }
        # Steps go round-robin across decisions so demo time only moves forward.
        for index, step in enumerate(MAJOR_DECISION_PATH):
            clock.now += timedelta(days=step.wait_days, minutes=7)
            ctx = StepContext(
                today=clock.now.astimezone(demo.decisions.timezone).date(),
                expert_ids=(actors["expert"].id or 0,),
                password=DEMO_PASSWORD,
            )
            for decision_id, stop, clerk in planned:
                if index <= stop:
                    actor = clerk if step.role is Role.STAFF else by_role[step.role]
                    take_step(demo.decisions, step, actor, decision_id, ctx)
                    clock.now += timedelta(minutes=3)
    finally:
        demo.dispose()
    return _accounts_summary(False, len(DECISIONS))


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
