"""Roles, permissions and whose decisions each role may touch, named once."""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum


class Role(StrEnum):
    """A user's role in the decision procedure (Decree 713, the roles table)."""

    ADMIN = "admin"  # 系统管理员: users, departments, registers
    STAFF = "staff"  # 承办单位工作人员: the undertaking unit's clerk (Art 11)
    GOVERNMENT_OFFICE = (
        "government_office"  # 政府办公室: initiation, meetings, reports, publication
    )
    LEGAL_OFFICER = "legal_officer"  # 合法性审查机构 (司法局 / 法制机构), Art 25-28
    EXPERT = "expert"  # 专家, Art 19-21
    CHIEF_EXECUTIVE = "chief_executive"  # 行政首长, Art 30
    EXECUTOR = "executor"  # 决策执行单位, Art 34
    SUPERVISOR = "supervisor"  # 督查、监察、审计, Art 34, 38-41
    PUBLIC = "public"  # 公众: comments without an account (Art 14-18); never a user's role


ROLE_LABELS: dict[Role, tuple[str, str]] = {
    Role.ADMIN: ("系统管理员", "Administrator"),
    Role.STAFF: ("承办单位工作人员", "Undertaking unit staff"),
    Role.GOVERNMENT_OFFICE: ("政府办公室", "Government office"),
    Role.LEGAL_OFFICER: ("合法性审查人员", "Legal officer"),
    Role.EXPERT: ("专家", "Expert"),
    Role.CHIEF_EXECUTIVE: ("行政首长", "Chief executive"),
    Role.EXECUTOR: ("执行单位工作人员", "Executing unit staff"),
    Role.SUPERVISOR: ("监督人员", "Supervisor"),
    Role.PUBLIC: ("公众", "Public"),
}


class Permission(StrEnum):
    """What a role may do outside a procedure's own transitions (scope:resource:action)."""

    DECISION_CREATE = "decision:create"
    DECISION_READ_OWN = "department:decision:read"
    DECISION_READ_ALL = "government:decision:read"
    AUDIT_READ = "government:audit:read"
    AUDIT_VERIFY = "government:audit:verify"
    USER_MANAGE = "government:user:manage"
    #: the supervision figures and the yearly report, for every department
    STATISTICS_READ = "government:statistics:read"
    #: the same figures, for the reader's own department only
    STATISTICS_READ_OWN = "department:statistics:read"
    #: put a decision under follow-up (督办) and close it (Art 34, 38)
    FOLLOWUP_MANAGE = "government:followup:manage"
    #: answer a follow-up on the unit's own decision
    FOLLOWUP_ANSWER = "department:followup:answer"


ROLE_PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset({Permission.USER_MANAGE, Permission.AUDIT_VERIFY}),
    Role.STAFF: frozenset(
        {
            Permission.DECISION_CREATE,
            Permission.DECISION_READ_OWN,
            Permission.FOLLOWUP_ANSWER,
            Permission.STATISTICS_READ_OWN,
        }
    ),
    Role.GOVERNMENT_OFFICE: frozenset(
        {Permission.DECISION_CREATE, Permission.DECISION_READ_ALL, Permission.STATISTICS_READ}
    ),
    Role.LEGAL_OFFICER: frozenset({Permission.DECISION_READ_ALL}),
    Role.EXPERT: frozenset({Permission.DECISION_READ_OWN}),
    Role.CHIEF_EXECUTIVE: frozenset({Permission.DECISION_READ_ALL, Permission.STATISTICS_READ}),
    Role.EXECUTOR: frozenset({Permission.DECISION_READ_OWN, Permission.FOLLOWUP_ANSWER}),
    Role.SUPERVISOR: frozenset(
        {
            Permission.DECISION_READ_ALL,
            Permission.AUDIT_READ,
            Permission.AUDIT_VERIFY,
            Permission.FOLLOWUP_MANAGE,
            Permission.STATISTICS_READ,
        }
    ),
    Role.PUBLIC: frozenset(),
}


class Scope(StrEnum):
    """Which decisions a role may act on."""

    GOVERNMENT = "government"  # any decision of the government it serves
    UNDERTAKING_UNIT = "undertaking_unit"  # only its department's decisions (lead or co-unit)
    EXECUTING_UNIT = "executing_unit"  # only decisions its department executes
    ASSIGNED = "assigned"  # only decisions it was named on (experts)


ROLE_SCOPES: dict[Role, Scope] = {
    Role.ADMIN: Scope.GOVERNMENT,
    Role.STAFF: Scope.UNDERTAKING_UNIT,
    Role.GOVERNMENT_OFFICE: Scope.GOVERNMENT,
    Role.LEGAL_OFFICER: Scope.GOVERNMENT,
    Role.EXPERT: Scope.ASSIGNED,
    Role.CHIEF_EXECUTIVE: Scope.GOVERNMENT,
    Role.EXECUTOR: Scope.EXECUTING_UNIT,
    Role.SUPERVISOR: Scope.GOVERNMENT,
    Role.PUBLIC: Scope.ASSIGNED,
}

#: the roles a user account may hold
ACCOUNT_ROLES = tuple(r for r in Role if r is not Role.PUBLIC)


def has_permission(role: Role | str, permission: Permission) -> bool:
    """Whether a role holds a permission."""
    return permission in ROLE_PERMISSIONS.get(Role(role), frozenset())


def has_any(role: Role | str, permissions: Iterable[Permission]) -> bool:
    """Whether a role holds at least one of the permissions."""
    return any(has_permission(role, p) for p in permissions)


# What opens each role-bound list (any one permission will do): the pages refuse without it,
# and the navigation offers the link only with it.
#: supervisors manage follow-ups; the units answer theirs
OPENS_FOLLOW_UPS = (Permission.FOLLOWUP_MANAGE, Permission.FOLLOWUP_ANSWER)
#: an administrator may verify the chain (the page offers the button) but not read events
OPENS_AUDIT_LOG = (Permission.AUDIT_READ, Permission.AUDIT_VERIFY)
#: the government's figures, or a department's own
OPENS_STATISTICS = (Permission.STATISTICS_READ, Permission.STATISTICS_READ_OWN)
