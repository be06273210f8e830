"""Due dates: the deadlines (`max_elapsed` time rules) running where a decision stands now.

A deadline never refuses a move (late filing is flagged, not blocked); it is reported here,
with its due date and whether it is overdue. Pure functions over DecisionFacts.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo
from typing import Protocol

from decisionflow.definitions import BranchSpec, Definition, Text, TimeRule, TransitionSpec
from decisionflow.guards import DecisionFacts
from decisionflow.rules import flags_route


class DueCalendar(Protocol):
    """The legal calendar as deadlines use it."""

    def add_working_days(self, start: date, n: int) -> date:
        """The n-th working day after `start` (start not counted)."""
        ...

    def unknown_years_in(self, start: date, end: date) -> list[int]:
        """Years in the span whose official holiday arrangement is not on file."""
        ...


@dataclass(frozen=True)
class DueItem:
    """One deadline running for a decision: what must be done, by when, and whether it is late."""

    trigger: str
    #: the move that meets the deadline, e.g. "报送备案 / File with the filing authority"
    label: Text
    article: str
    due: date
    overdue: bool
    #: a working-day count crosses a year whose holiday arrangement is not on file yet
    provisional: bool
    #: the legal date the period is counted from
    since: date
    #: the parallel branch the move belongs to, None on the main line
    branch: str | None = None


def due_items(
    definition: Definition,
    decision: DecisionFacts,
    *,
    calendar: DueCalendar,
    today: date,
    timezone: tzinfo,
) -> list[DueItem]:
    """The deadlines of the moves that can leave where the decision stands, soonest first.

    A period counts from the entry into the state or from the newest record it names; a
    period whose record does not exist yet has not started and is not listed.
    """
    items: dict[tuple[str | None, str, str, date, date], DueItem] = {}
    for branch, state in _positions(definition, decision):
        declared = definition.transitions if branch is None else branch.transitions
        for transition in declared:
            if state not in transition.source or not flags_route(transition, decision.flags):
                continue
            for rule in transition.time_rules:
                if rule.kind != "max_elapsed":
                    continue
                item = _item(
                    definition, decision, branch, transition, rule, calendar, today, timezone
                )
                if item is not None:
                    # routes of one trigger may repeat a rule: one deadline is one item
                    items.setdefault(
                        (item.branch, item.trigger, item.article, item.since, item.due), item
                    )
    return sorted(items.values(), key=lambda i: (i.due, i.trigger))


def _positions(
    definition: Definition, decision: DecisionFacts
) -> list[tuple[BranchSpec | None, str]]:
    """The main-line state and each running branch's state, in the definition's order."""
    found: list[tuple[BranchSpec | None, str]] = [(None, decision.state)]
    if any(s.name == decision.state for s in definition.states):
        for branch in definition.branches_in(decision.state):
            state = decision.branch_states.get(branch.name)
            if state is not None:
                found.append((branch, state))
    return found


def _item(
    definition: Definition,
    decision: DecisionFacts,
    branch: BranchSpec | None,
    transition: TransitionSpec,
    rule: TimeRule,
    calendar: DueCalendar,
    today: date,
    timezone: tzinfo,
) -> DueItem | None:
    start = _start(decision, branch, rule)
    if start is None:
        return None
    since = start.astimezone(timezone).date()
    due, provisional = due_on(definition, rule, since, calendar=calendar)
    return DueItem(
        trigger=transition.trigger,
        label=transition.label,
        article=rule.article,
        due=due,
        overdue=today > due,
        provisional=provisional,
        since=since,
        branch=branch.name if branch else None,
    )


def due_on(
    definition: Definition, rule: TimeRule, since: date, *, calendar: DueCalendar
) -> tuple[date, bool]:
    """The due date of a period counted from `since`, and whether it is provisional."""
    days = definition.days(rule)
    if rule.unit == "working_days":
        due = calendar.add_working_days(since, days)
        # Working days depend on the State Council's yearly holiday notice: a count into a
        # year not yet on file may still move when the notice is published.
        return due, bool(calendar.unknown_years_in(since, due))
    # calendar days do not depend on the holiday arrangement
    return since + timedelta(days=days), False


def _start(decision: DecisionFacts, branch: BranchSpec | None, rule: TimeRule) -> datetime | None:
    """The moment the period counts from: state entry, or the newest record it names."""
    if rule.since == "state_entry":
        if branch is not None:
            return decision.branch_entered_at.get(branch.name, decision.entered_at)
        return decision.entered_at
    latest = decision.records.latest(rule.since)
    return latest.created_at if latest else None
