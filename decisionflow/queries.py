"""Read-side questions about decisions, scoped to what the asking actor may see."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, exists, false, func, literal, or_, select, true, tuple_
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
    UTCDateTime,
)
from decisionflow.payload import unstorable
from decisionflow.roles import ROLE_SCOPES, Scope

MAX_PAGE_SIZE = 100
#: the largest row id (ids are 32-bit INTEGER columns); a larger number names no row
MAX_ID = 2**31 - 1
#: a list counts its rows up to this many; beyond, it says "more than" (counting all would
#: make a page's cost grow with the table)
COUNT_CAP = 1_000


@dataclass(frozen=True)
class Page:
    """One page of a list, and the cursors that ask for its neighbours."""

    items: list[Any]
    per_page: int
    #: how many rows the whole list has; None where counting would cost more than the page
    #: (the audit log), or beyond COUNT_CAP rows
    total: int | None
    #: the cursor of the following page (further in the list's order), None on the last page
    next: str | None = None
    #: the cursor of the page before (back towards the first), None on the first page
    previous: str | None = None


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


def _cursor(direction: str, key: tuple[Any, ...]) -> str:
    """An opaque cursor: which way to read ("a"fter or "b"efore) from which sort key."""
    plain = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    raw = json.dumps([direction, *plain], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _uncursor(cursor: str, kinds: Sequence[type]) -> tuple[str, tuple[Any, ...]] | None:
    """The direction and sort key of a cursor; None for one this list never gave out."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        direction, *values = json.loads(raw)
        if direction not in ("a", "b") or len(values) != len(kinds):
            return None
        key: list[Any] = []
        for kind, value in zip(kinds, values, strict=True):
            if kind is datetime:
                moment = datetime.fromisoformat(value)
                if moment.tzinfo is None:
                    return None
                key.append(moment)
            elif kind is int and isinstance(value, int) and -MAX_SEQ <= value <= MAX_SEQ:
                key.append(value)
            else:
                return None
        return direction, tuple(key)
    except (ValueError, TypeError, UnicodeDecodeError, binascii.Error):
        return None


#: no sequence number or id is larger (BigInteger); a cursor beyond it is not one of ours
MAX_SEQ = 2**63 - 1


def _keyset(
    session: Session,
    query: Select[*tuple[Any, ...]],
    *,
    columns: Sequence[Any],
    key_of: Callable[[Any], tuple[Any, ...]],
    cursor: str,
    per_page: int,
    scalars: bool = False,
    descending: bool = True,
) -> tuple[list[Any], str | None, str | None]:
    """One page in (columns) order after/before the cursor, and its neighbours' cursors.

    Keyset pagination: the page starts where the index says the cursor's key lies, so the
    thousandth page costs what the first does (an OFFSET reads and drops every row before).
    """
    per_page = _page_size(per_page)
    found = _uncursor(cursor, [_kind(c) for c in columns]) if cursor else None
    row_key = tuple_(*columns)
    forward = [c.desc() if descending else c.asc() for c in columns]
    backward = [c.asc() if descending else c.desc() for c in columns]
    if found is None:
        direction, ordered = "a", query.order_by(*forward)
    else:
        direction, key = found
        bound = tuple_(*(literal(v, type_=c.type) for c, v in zip(columns, key, strict=True)))
        beyond, before_it = (row_key < bound, row_key > bound)
        if not descending:
            beyond, before_it = before_it, beyond
        if direction == "a":
            ordered = query.where(beyond).order_by(*forward)
        else:  # read back towards the first page, then show the rows in page order
            ordered = query.where(before_it).order_by(*backward)
    limited = ordered.limit(per_page + 1)
    rows: list[Any] = (
        list(session.scalars(limited)) if scalars else list(session.execute(limited).all())
    )
    more = len(rows) > per_page
    rows = rows[:per_page]
    if direction == "b":
        rows.reverse()
        following = _cursor("a", key_of(rows[-1])) if rows else None
        before = _cursor("b", key_of(rows[0])) if more and rows else None
    else:
        following = _cursor("a", key_of(rows[-1])) if more else None
        before = _cursor("b", key_of(rows[0])) if found is not None and rows else None
    return rows, following, before


def _page_size(per_page: int) -> int:
    """A page's size as asked, within 1 to MAX_PAGE_SIZE."""
    return max(1, min(per_page, MAX_PAGE_SIZE))


def _kind(column: Any) -> type:
    return datetime if isinstance(column.type, UTCDateTime) else int


def list_decisions(
    session: Session,
    actor: Actor,
    *,
    text: str = "",
    state: str = "",
    category: str = "",
    unit: str = "",
    ids: Sequence[int] = (),
    cursor: str = "",
    per_page: int = 20,
) -> Page:
    """Decisions the actor may see, newest activity first, filtered, a page from the cursor on.

    `ids` keeps only those decisions (the ones behind a figure of the statistics).
    """
    if any(unstorable(f) for f in (text, state, category, unit)):
        # No stored value holds such a character, so nothing matches; and PostgreSQL would
        # refuse the query outright (a 500 for a typed or fuzzed filter).
        return Page([], _page_size(per_page), 0)
    query = (
        select(Decision, Department.code, Department.name_zh, Department.name_en)
        .join(Department, Department.id == Decision.undertaking_unit_id)
        .where(visible_to(actor))
    )
    if text.strip():
        query = query.where(Decision.title.contains(text.strip(), autoescape=True))
    if state:
        query = query.where(Decision.state == state)
    if category:
        query = query.where(Decision.category == category)
    if unit:
        query = query.where(Department.code == unit)
    if ids:
        query = query.where(Decision.id.in_(sorted({i for i in ids if 1 <= i <= MAX_ID})))
    # Counted up to the cap only: "more than 1,000" costs what 1,000 does, however many there are.
    capped = query.with_only_columns(Decision.id).limit(COUNT_CAP + 1).subquery()
    counted = session.execute(select(func.count()).select_from(capped)).scalar_one()
    total = counted if counted <= COUNT_CAP else None
    rows, following, before = _keyset(
        session,
        query,
        columns=(Decision.updated_at, Decision.id),
        key_of=lambda row: (row[0].updated_at, row[0].id),
        cursor=cursor,
        per_page=per_page,
    )
    return Page(rows, _page_size(per_page), total, following, before)


def work_candidates(
    session: Session,
    actor: Actor,
    states: Mapping[str, set[str]],
    *,
    cursor: str = "",
    per_page: int = 50,
) -> Page:
    """Decisions the actor may see standing where their role may have work (`states` by
    procedure), oldest activity first, a page from the cursor on."""
    per_page = _page_size(per_page)
    where = [
        and_(Decision.procedure == procedure, Decision.state.in_(sorted(names)))
        for procedure, names in states.items()
        if names
    ]
    if not where:
        return Page([], per_page, None)
    rows, following, before = _keyset(
        session,
        select(Decision).where(visible_to(actor), or_(*where)),
        columns=(Decision.updated_at, Decision.id),
        key_of=lambda d: (d.updated_at, d.id),
        cursor=cursor,
        per_page=per_page,
        scalars=True,
        descending=False,
    )
    return Page(rows, per_page, None, following, before)


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
    return [_entry(e, name) for e, name in rows]


#: timeline entries a decision page shows at once; earlier ones are a link away
TIMELINE_PAGE = 30


def _entry(e: AuditEvent, name: str | None) -> TimelineEntry:
    return TimelineEntry(
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


def timeline_page(
    session: Session, decision_id: int, *, cursor: str = "", per_page: int = TIMELINE_PAGE
) -> Page:
    """A page of a decision's audit events, the newest first unless the cursor says otherwise;
    the items oldest first, as a timeline reads."""
    query = (
        select(AuditEvent, User.display_name)
        .outerjoin(User, User.id == AuditEvent.actor_id)
        .where(AuditEvent.decision_id == decision_id)
    )
    rows, following, before = _keyset(
        session,
        query,
        columns=(AuditEvent.seq,),
        key_of=lambda row: (row[0].seq,),
        cursor=cursor,
        per_page=per_page,
    )
    entries = [_entry(e, name) for e, name in reversed(rows)]
    return Page(entries, _page_size(per_page), None, following, before)


def visited_states(session: Session, decision_id: int) -> set[str]:
    """The states a decision has moved out of (or acted in), from its done audit events."""
    return set(
        session.scalars(
            select(AuditEvent.state_before)
            .where(AuditEvent.decision_id == decision_id, AuditEvent.outcome == "done")
            .distinct()
        )
    )


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
    cursor: str = "",
    per_page: int = 50,
) -> Page:
    """Audit events, newest first, filtered by decision, actor, action and time, a page from the
    cursor on (uncounted: the log has millions of events)."""
    query = select(AuditEvent)
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
    rows, following, before = _keyset(
        session,
        query,
        columns=(AuditEvent.seq,),
        key_of=lambda event: (event.seq,),
        cursor=cursor,
        per_page=per_page,
        scalars=True,
    )
    return Page(rows, _page_size(per_page), None, following, before)


def departments(session: Session) -> list[Department]:
    """Every department, by code."""
    return list(session.scalars(select(Department).order_by(Department.code)))
