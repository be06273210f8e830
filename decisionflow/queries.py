"""Read-side questions about decisions, scoped to what the asking actor may see."""

from __future__ import annotations

import base64
import binascii
import functools
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Select,
    and_,
    bindparam,
    exists,
    false,
    func,
    literal,
    or_,
    select,
    true,
    tuple_,
)
from sqlalchemy.orm import Session

from decisionflow import driver
from decisionflow.accounts import Actor
from decisionflow.definitions import Definition
from decisionflow.guards import RecordFact
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
    return _neighbours(rows, per_page, direction, found is not None, key_of)


def _neighbours(
    rows: list[Any],
    per_page: int,
    direction: str,
    from_cursor: bool,
    key_of: Callable[[Any], tuple[Any, ...]],
) -> tuple[list[Any], str | None, str | None]:
    """A page from up to per_page + 1 rows read in `direction`, in page order, and the
    cursors of the pages after and before it."""
    more = len(rows) > per_page
    rows = rows[:per_page]
    if direction == "b":
        rows.reverse()
        following = _cursor("a", key_of(rows[-1])) if rows else None
        before = _cursor("b", key_of(rows[0])) if more and rows else None
    else:
        following = _cursor("a", key_of(rows[-1])) if more else None
        before = _cursor("b", key_of(rows[0])) if from_cursor and rows else None
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


#: what the timeline shows of an event, and who made it: columns, not whole events (an event
#: also carries its payload, which a timeline never shows)
_TIMELINE = select(
    AuditEvent.seq,
    AuditEvent.occurred_at,
    AuditEvent.actor_username,
    User.display_name,
    AuditEvent.actor_role,
    AuditEvent.action,
    AuditEvent.outcome,
    AuditEvent.state_before,
    AuditEvent.state_after,
    AuditEvent.detail,
    AuditEvent.hash,
).outerjoin(User, User.id == AuditEvent.actor_id)


def timeline(session: Session, decision_id: int) -> list[TimelineEntry]:
    """Every audit event of a decision, oldest first, with the actor's display name."""
    rows = session.execute(
        _TIMELINE.where(AuditEvent.decision_id == decision_id).order_by(AuditEvent.seq)
    ).all()
    return [_entry(*row) for row in rows]


#: timeline entries a decision page shows at once; earlier ones are a link away
TIMELINE_PAGE = 30


def _entry(
    seq: int, occurred_at: datetime, actor_username: str, display_name: str | None, *rest: str
) -> TimelineEntry:
    """An entry from a row of _TIMELINE (its columns are the entry's fields, in order)."""
    return TimelineEntry(seq, occurred_at, actor_username, display_name or actor_username, *rest)


# A decision's timeline, a page at a time: older events (reading on) or newer ones (reading
# back towards the newest), prepared once as the page reads below are.
_OLDER = driver.Prepared(
    _TIMELINE.where(
        AuditEvent.decision_id == bindparam("decision_id"), AuditEvent.seq < bindparam("seq")
    )
    .order_by(AuditEvent.seq.desc())
    .limit(bindparam("rows"))
)
_NEWER = driver.Prepared(
    _TIMELINE.where(
        AuditEvent.decision_id == bindparam("decision_id"), AuditEvent.seq > bindparam("seq")
    )
    .order_by(AuditEvent.seq.asc())
    .limit(bindparam("rows"))
)


def timeline_page(
    session: Session, decision_id: int, *, cursor: str = "", per_page: int = TIMELINE_PAGE
) -> Page:
    """A page of a decision's audit events, the newest first unless the cursor says otherwise;
    the items oldest first, as a timeline reads."""
    per_page = _page_size(per_page)
    found = _uncursor(cursor, [int]) if cursor else None
    direction, (seq,) = found or ("a", (MAX_SEQ,))
    statement = _OLDER if direction == "a" else _NEWER
    params = {"decision_id": decision_id, "seq": seq, "rows": per_page + 1}
    rows = [_entry(*row) for row in statement.tuples(session.connection(), params)]
    entries, following, before = _neighbours(
        rows, per_page, direction, found is not None, lambda e: (e.seq,)
    )
    return Page(entries[::-1], per_page, None, following, before)


# The decision page's reads, prepared once (decisionflow.driver): a page runs each of them,
# and SQLAlchemy's own path costs several times the statement itself on SQLite.
_VISITED = driver.Prepared(
    select(AuditEvent.state_before)
    .where(AuditEvent.decision_id == bindparam("decision_id"), AuditEvent.outcome == "done")
    .distinct()
)
_DRAFTS = driver.Prepared(
    select(*DraftVersion.__table__.c)
    .where(DraftVersion.decision_id == bindparam("decision_id"))
    .order_by(DraftVersion.number)
)
_ATTACHMENTS = driver.Prepared(
    select(*(c for c in Attachment.__table__.c if c.key != "content"))  # kept in files
    .where(Attachment.decision_id == bindparam("decision_id"))
    .order_by(Attachment.id)
)
_RECORDS = driver.Prepared(
    select(
        StepRecord.id,
        StepRecord.kind,
        StepRecord.data,
        StepRecord.state,
        StepRecord.branch,
        StepRecord.created_by,
        StepRecord.created_at,
        User.display_name.label("author"),
    )
    .join(User, User.id == StepRecord.created_by)
    .where(StepRecord.decision_id == bindparam("decision_id"))
    .order_by(StepRecord.id)
)


def visited_states(session: Session, decision_id: int) -> set[str]:
    """The states a decision has moved out of (or acted in), from its done audit events."""
    return set(_VISITED.scalars(session.connection(), {"decision_id": decision_id}))


def drafts(session: Session, decision_id: int) -> list[DraftVersion]:
    """The draft versions of a decision, first to last (read-only objects, in no session)."""
    return _DRAFTS.objects(session.connection(), {"decision_id": decision_id}, DraftVersion)


def attachments(session: Session, decision_id: int) -> list[Attachment]:
    """The files attached to a decision, first to last (read-only objects, in no session,
    without their content: a file is read from the attachment store by its SHA-256)."""
    return _ATTACHMENTS.objects(session.connection(), {"decision_id": decision_id}, Attachment)


@dataclass(frozen=True)
class RecordLine:
    """A record of a decision, with its author's display name."""

    id: int
    kind: str
    data: dict[str, Any]
    state: str
    branch: str | None
    created_by: int
    created_at: datetime
    author: str

    @property
    def fact(self) -> RecordFact:
        """The record as the rules see it."""
        return RecordFact(self.kind, self.data, self.created_at, self.created_by)


def records(session: Session, decision_id: int) -> list[RecordLine]:
    """The records of a decision with their author's display name, first to last."""
    rows = _RECORDS.rows(session.connection(), {"decision_id": decision_id})
    return [RecordLine(**row) for row in rows]


@dataclass(frozen=True)
class Person:
    """Someone a form may name: an expert to assign, a member present."""

    id: int
    display_name: str


_ACTIVE = select(User.id, User.display_name).where(User.active.is_(True))
_PEOPLE = driver.Prepared(_ACTIVE.order_by(User.display_name))
_PEOPLE_IN_ROLE = driver.Prepared(
    _ACTIVE.where(User.role == bindparam("role")).order_by(User.display_name)
)


def people(session: Session, role: str | None = None) -> list[Person]:
    """The active users (of one role, if given), by name."""
    connection = session.connection()
    if role is None:
        rows = _PEOPLE.rows(connection, {})
    else:
        rows = _PEOPLE_IN_ROLE.rows(connection, {"role": role})
    return [Person(**row) for row in rows]


def people_named(session: Session, ids: Iterable[Any]) -> dict[int, str]:
    """The display names of the users with these ids (ids that are no user's are left out)."""
    wanted = sorted({i for i in ids if isinstance(i, int) and 1 <= i <= MAX_ID})
    connection = session.connection()
    names: dict[int, str] = {}
    for start in range(0, len(wanted), _NAMED_AT_MOST):
        batch = wanted[start : start + _NAMED_AT_MOST]
        # padded with 0, an id no user has, to one of a few sizes prepared once each
        size = 1 << (len(batch) - 1).bit_length()
        params = {f"id{k}": batch[k] if k < len(batch) else 0 for k in range(size)}
        names.update(_named(size).tuples(connection, params))
    return names


#: the most ids one statement of `people_named` asks for
_NAMED_AT_MOST = 64


@functools.cache
def _named(size: int) -> driver.Prepared:
    """The names of `size` users by id, prepared once (sizes are powers of two, at most 64)."""
    ids = [bindparam(f"id{k}", type_=User.id.type) for k in range(size)]
    return driver.Prepared(select(User.id, User.display_name).where(User.id.in_(ids)))


def people_in_records(
    definition: Definition, records: Iterable[tuple[str, Mapping[str, Any]]]
) -> set[Any]:
    """The user ids that records, given as (kind, data), name in their user fields (an expert
    assigned, the members present)."""
    ids: set[Any] = set()
    for kind, data in records:
        specs = definition.fields_of(kind)
        for name, value in data.items():
            spec = specs.get(name)
            if spec is not None and spec.type in ("user", "users"):
                ids.update(value if isinstance(value, list) else [value])
    return ids


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
