"""The facts of many decisions at once, read in a few queries, for figures and reports.

Figures count what happened (records made, moves taken, comments received) and how long it
took; every count keeps the decisions behind it, so that a figure can be checked case by case.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, tzinfo
from statistics import median
from typing import Any, Literal

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from decisionflow.calendar import ChinaLegalCalendar
from decisionflow.deadlines import due_on
from decisionflow.definitions import Definition, Text, TransitionSpec
from decisionflow.models import AuditEvent, Decision, Department, PublicComment, StepRecord
from decisionflow.registry import DefinitionRegistry
from decisionflow.rules import flags_route

#: (Chinese, English)
Label = tuple[str, str]


@dataclass(frozen=True)
class Scope:
    """Which decisions and which days a figure counts: a department, a period, a procedure."""

    department: str = ""
    since: date | None = None
    #: the period's last day, inclusive
    until: date | None = None
    procedure: str = ""

    def holds(self, day: date | None) -> bool:
        """Whether a day lies in the period (an open end holds everything)."""
        if day is None:
            return False
        return (self.since is None or day >= self.since) and (
            self.until is None or day <= self.until
        )


@dataclass(frozen=True)
class Entry:
    """A record or a move's record: what was done, when, by whom, with what."""

    kind: str
    data: dict[str, Any]
    at: datetime
    on: date
    by: int


@dataclass(frozen=True)
class Stay:
    """A time a decision stood at one main-line stage: entered, and left by which move."""

    state: str
    entered: datetime
    left: datetime | None
    left_by: str | None


@dataclass(frozen=True)
class Timed:
    """One deadline (a `max_elapsed` time rule) as it ran: from when, due when, met when."""

    decision_id: int
    trigger: str
    label: Text
    article: str
    since: date
    due: date
    done_on: date | None
    status: Literal["on_time", "late", "overdue", "open"]


@dataclass
class Case:
    """One decision with every fact the figures read."""

    id: int
    title: str
    procedure: str
    unit: str
    state: str
    flags: dict[str, bool]
    created_on: date
    definition: Definition
    entries: list[Entry] = field(default_factory=list)
    stays: list[Stay] = field(default_factory=list)
    comments: list[PublicComment] = field(default_factory=list)

    def of_kind(self, *kinds: str) -> list[Entry]:
        """The entries of these kinds, oldest first."""
        return [e for e in self.entries if e.kind in kinds]


def _scoped(scope: Scope, timezone: tzinfo) -> Select[Any]:
    query = select(Decision.id)
    if scope.until is not None:
        # nothing happens to a decision before it is proposed: later ones count for nothing
        end = datetime.combine(scope.until + timedelta(days=1), time(0), tzinfo=timezone)
        query = query.where(Decision.created_at < end)
    if scope.department:
        query = query.join(Department, Department.id == Decision.undertaking_unit_id).where(
            Department.code == scope.department
        )
    if scope.procedure:
        query = query.where(Decision.procedure == scope.procedure)
    return query


def load_cases(
    session: Session, registry: DefinitionRegistry, scope: Scope, *, timezone: tzinfo
) -> list[Case]:
    """Every decision of the scope's department and procedure, with its records, moves and
    comments (the period is applied by each figure, to what it counts)."""
    ids = _scoped(scope, timezone)
    cases: dict[int, Case] = {}
    rows = session.execute(
        select(Decision, Department.code)
        .join(Department, Department.id == Decision.undertaking_unit_id)
        .where(Decision.id.in_(ids))
        .order_by(Decision.id)
    )
    for decision, unit in rows:
        definition = registry.get(
            decision.procedure, decision.definition_version, session, overlay=decision.overlay
        )
        cases[decision.id] = Case(
            id=decision.id,
            title=decision.title,
            procedure=decision.procedure,
            unit=unit,
            state=decision.state,
            flags=dict(decision.flags or {}),
            created_on=decision.created_at.astimezone(timezone).date(),
            definition=definition,
        )
    records = session.execute(
        select(
            StepRecord.decision_id,
            StepRecord.kind,
            StepRecord.data,
            StepRecord.created_at,
            StepRecord.created_by,
        )
        .where(StepRecord.decision_id.in_(ids))
        .order_by(StepRecord.id)
    )
    for decision_id, kind, data, at, by in records:
        cases[decision_id].entries.append(
            Entry(kind, dict(data or {}), at, at.astimezone(timezone).date(), by)
        )
    moves = session.execute(
        select(
            AuditEvent.decision_id,
            AuditEvent.occurred_at,
            AuditEvent.action,
            AuditEvent.state_after,
        )
        .where(
            AuditEvent.decision_id.in_(ids),
            AuditEvent.outcome == "done",
            AuditEvent.action.not_like("record:%"),
        )
        .order_by(AuditEvent.seq)
    )
    for decision_id, at, action, after in moves:
        if decision_id in cases:
            _move(cases[decision_id], at, action, after.partition("/")[0])
    comments = session.scalars(
        select(PublicComment).where(PublicComment.decision_id.in_(ids)).order_by(PublicComment.id)
    )
    for comment in comments:
        cases[comment.decision_id].comments.append(comment)
    return list(cases.values())


def _move(case: Case, at: datetime, action: str, state: str) -> None:
    """Follow the main line: a move to another stage ends one stay and begins the next."""
    current = case.stays[-1] if case.stays else None
    if current is not None and current.state == state:
        return  # a move inside a branch, or a record: the stage stays
    if current is not None:
        case.stays[-1] = Stay(current.state, current.entered, at, action)
    if any(s.name == state for s in case.definition.states):
        case.stays.append(Stay(state, at, None, None))


def timed_items(
    case: Case, *, calendar: ChinaLegalCalendar, today: date, timezone: tzinfo
) -> Iterator[Timed]:
    """Every deadline the decision ran into: met on time, met late, overdue, or still open.

    An item is on time if the move that meets the deadline was made by the due date (in the
    government's time zone). A period that ended because the decision went another way (it
    was withdrawn, terminated) is no item.
    """
    # (a branch's deadline counted from a record works too; from its stage's entry, not yet)
    for transition in case.definition.every_transition:
        if not flags_route(transition, case.flags):
            continue
        for rule in transition.time_rules:
            if rule.kind != "max_elapsed":
                continue
            for start, done in _periods(case, transition, rule.since):
                since = start.astimezone(timezone).date()
                due, _provisional = due_on(case.definition, rule, since, calendar=calendar)
                done_on = done.astimezone(timezone).date() if done else None
                if done_on is not None:
                    status: Literal["on_time", "late", "overdue", "open"] = (
                        "on_time" if done_on <= due else "late"
                    )
                else:
                    status = "overdue" if today > due else "open"
                yield Timed(
                    case.id,
                    transition.trigger,
                    transition.label,
                    rule.article,
                    since,
                    due,
                    done_on,
                    status,
                )


def deadlines(
    cases: Iterable[Case], *, calendar: ChinaLegalCalendar, today: date, timezone: tzinfo
) -> list[Timed]:
    """Every deadline the decisions ran into (see timed_items)."""
    return [
        i for c in cases for i in timed_items(c, calendar=calendar, today=today, timezone=timezone)
    ]


def _periods(
    case: Case, transition: TransitionSpec, since: str
) -> Iterator[tuple[datetime, datetime | None]]:
    """(start, when met or None) of each period of a deadline that still runs or was met."""
    if since == "state_entry":
        for stay in case.stays:
            if stay.state not in transition.source:
                continue
            if stay.left_by == transition.trigger:
                yield stay.entered, stay.left
            elif stay.left is None:
                yield stay.entered, None
        return
    starts = [e.at for e in case.of_kind(since)]
    met = [e.at for e in case.of_kind(transition.trigger)]
    for index, start in enumerate(starts):
        end = starts[index + 1] if index + 1 < len(starts) else None
        done = next((m for m in met if m >= start and (end is None or m < end)), None)
        if done is not None:
            yield start, done
        elif end is None and case.state in transition.source:
            yield start, None


def majority(positions: Iterable[tuple[str, str]]) -> str | None:
    """The position most members took (each member's last word; abstentions aside), None on a tie."""
    latest = dict(positions)
    counts: dict[str, int] = {}
    for value in latest.values():
        if value != "abstain":
            counts[value] = counts.get(value, 0) + 1
    ranked = sorted(((n, v) for v, n in counts.items()), reverse=True)
    if not ranked or (len(ranked) > 1 and ranked[0][0] == ranked[1][0]):
        return None
    return ranked[0][1]


#: the chief's decision at the meeting, and the members' majority it follows
CHIEF_DECIDES = {"approve_decision": "agree", "reject_decision": "disagree"}


def departures(case: Case) -> Iterator[Entry]:
    """The chief's decisions that went against the majority of the members who spoke (Art 30)."""
    meeting_start: datetime | None = None
    for entry in case.entries:
        if entry.kind == "schedule_meeting":
            meeting_start = entry.at
        elif entry.kind in CHIEF_DECIDES:
            said = [
                (str(e.data.get("member", "")).strip() or f"#{i}", str(e.data.get("position", "")))
                for i, e in enumerate(case.of_kind("member_opinion"))
                if (meeting_start is None or e.at >= meeting_start) and e.at <= entry.at
            ]
            found = majority(said)
            if found is not None and found != CHIEF_DECIDES[entry.kind]:
                yield entry


def working_days(calendar: ChinaLegalCalendar, stay: Stay, *, timezone: tzinfo) -> int | None:
    """Working days a finished stay took (entered and left on one day: 0)."""
    if stay.left is None:
        return None
    start = stay.entered.astimezone(timezone).date()
    return calendar.working_days_between(start, stay.left.astimezone(timezone).date())


def median_of(values: list[int]) -> float | None:
    """The median, or None for no values."""
    return float(median(values)) if values else None
