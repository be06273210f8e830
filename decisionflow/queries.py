"""Read-side questions about decisions, scoped to what the asking actor may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, exists, false, func, or_, select, true
from sqlalchemy.orm import Session

from decisionflow.accounts import Actor
from decisionflow.models import (
    Attachment,
    AuditEvent,
    Decision,
    DecisionAssignment,
    DecisionCoUnit,
    Department,
    DraftVersion,
    StepRecord,
    User,
)
from decisionflow.roles import ROLE_SCOPES, Scope

MAX_PAGE_SIZE = 100
#: the largest row id (ids are 32-bit INTEGER columns); a larger number names no row
MAX_ID = 2**31 - 1
#: no list has more pages than this; a larger page number would overflow the row offset
MAX_PAGE = 10**9


@dataclass(frozen=True)
class Page:
    """One page of a list, and how to ask for the others."""

    items: list[Any]
    page: int
    per_page: int
    total: int

    @property
    def pages(self) -> int:
        """How many pages there are (at least one)."""
        return max(1, -(-self.total // self.per_page))


def visible_to(actor: Actor) -> Any:
    """A SQL condition on Decision: the decisions this actor may see."""
    scope = ROLE_SCOPES[actor.role]
    if scope is Scope.GOVERNMENT:
        return true()  # everything
    if scope is Scope.UNDERTAKING_UNIT:
        co_unit = exists().where(
            DecisionCoUnit.decision_id == Decision.id,
            DecisionCoUnit.department_id == actor.department_id,
        )
        return or_(Decision.undertaking_unit_id == actor.department_id, co_unit)
    if scope is Scope.EXECUTING_UNIT:
        if actor.department_id is None:
            return false()
        return Decision.executing_unit_id == actor.department_id
    return exists().where(
        DecisionAssignment.decision_id == Decision.id,
        DecisionAssignment.user_id == actor.id,
        DecisionAssignment.role == str(actor.role),
    )


def _paged(
    session: Session,
    query: Select[*tuple[Any, ...]],
    page: int,
    per_page: int,
    *,
    scalars: bool = False,
) -> Page:
    per_page = max(1, min(per_page, MAX_PAGE_SIZE))
    page = max(1, min(page, MAX_PAGE))
    total = session.execute(
        select(func.count()).select_from(query.order_by(None).subquery())
    ).scalar_one()
    limited = query.limit(per_page).offset((page - 1) * per_page)
    rows: list[Any] = (
        list(session.scalars(limited)) if scalars else list(session.execute(limited).all())
    )
    return Page(items=rows, page=page, per_page=per_page, total=total)


def list_decisions(
    session: Session,
    actor: Actor,
    *,
    text: str = "",
    state: str = "",
    category: str = "",
    unit: str = "",
    page: int = 1,
    per_page: int = 20,
) -> Page:
    """Decisions the actor may see, newest activity first, filtered and paginated."""
    query = (
        select(Decision, Department.code, Department.name_zh, Department.name_en)
        .join(Department, Department.id == Decision.undertaking_unit_id)
        .where(visible_to(actor))
        .order_by(Decision.updated_at.desc(), Decision.id.desc())
    )
    if text.strip():
        query = query.where(Decision.title.contains(text.strip(), autoescape=True))
    if state:
        query = query.where(Decision.state == state)
    if category:
        query = query.where(Decision.category == category)
    if unit:
        query = query.where(Department.code == unit)
    return _paged(session, query, page, per_page)


def decisions_in_states(
    session: Session, actor: Actor, states: set[str], *, limit: int = 200
) -> list[Decision]:
    """Decisions the actor may see that stand in one of the given states."""
    if not states:
        return []
    query = (
        select(Decision)
        .where(visible_to(actor), Decision.state.in_(sorted(states)))
        .order_by(Decision.updated_at.asc())
        .limit(limit)
    )
    return list(session.scalars(query))


@dataclass(frozen=True)
class TimelineEntry:
    """One audit event of a decision, as the timeline shows it."""

    seq: int
    occurred_at: datetime
    actor_username: str
    actor_name: str
    actor_role: str
    action: str
    outcome: str
    state_before: str
    state_after: str
    detail: str
    hash: str


def timeline(session: Session, decision_id: int) -> list[TimelineEntry]:
    """Every audit event of a decision, oldest first, with the actor's display name."""
    rows = session.execute(
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.decision_id == decision_id)
        .order_by(AuditEvent.seq)
    ).all()
    return [
        TimelineEntry(
            e.seq,
            e.occurred_at,
            e.actor_username,
            name or e.actor_username,
            e.actor_role,
            e.action,
            e.outcome,
            e.state_before,
            e.state_after,
            e.detail,
            e.hash,
        )
        for e, name in rows
    ]


def drafts(session: Session, decision_id: int) -> list[DraftVersion]:
    """The draft versions of a decision, first to last."""
    return list(
        session.scalars(
            select(DraftVersion)
            .where(DraftVersion.decision_id == decision_id)
            .order_by(DraftVersion.number)
        )
    )


def attachments(session: Session, decision_id: int) -> list[Attachment]:
    """The files attached to a decision, first to last."""
    return list(
        session.scalars(
            select(Attachment).where(Attachment.decision_id == decision_id).order_by(Attachment.id)
        )
    )


def records(session: Session, decision_id: int) -> list[tuple[StepRecord, str]]:
    """The records of a decision with their author's display name, first to last."""
    return [
        (record, name)
        for record, name in session.execute(
            select(StepRecord, User.display_name)
            .join(User, User.id == StepRecord.created_by)
            .where(StepRecord.decision_id == decision_id)
            .order_by(StepRecord.id)
        ).all()
    ]


def audit_page(
    session: Session,
    *,
    decision_id: int | None = None,
    actor: str = "",
    action: str = "",
    since: datetime | None = None,
    until: datetime | None = None,
    page: int = 1,
    per_page: int = 50,
) -> Page:
    """Audit events, newest first, filtered by decision, actor, action and time."""
    query = select(AuditEvent).order_by(AuditEvent.seq.desc())
    if decision_id is not None:
        # A number beyond any id matches nothing (and would overflow the database's integer).
        known = 1 <= decision_id <= MAX_ID
        query = query.where(AuditEvent.decision_id == decision_id if known else false())
    if actor:
        query = query.where(AuditEvent.actor_username == actor)
    if action:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if until is not None:
        query = query.where(AuditEvent.occurred_at < until)
    return _paged(session, query, page, per_page, scalars=True)


def departments(session: Session) -> list[Department]:
    """Every department, by code."""
    return list(session.scalars(select(Department).order_by(Department.code)))
