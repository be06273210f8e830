"""Evaluate what the law requires before a transition may fire, naming each unmet rule."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from zoneinfo import ZoneInfo

from decisionflow.definitions import Definition, StateSpec, TimeRule, TransitionSpec
from decisionflow.errors import Unmet
from decisionflow.guards import REGISTRY, DecisionFacts, GuardContext

UNIT_WORDS = {
    "calendar_days": ("日", "calendar days"),
    "working_days": ("个工作日", "working days"),
}


@dataclass
class Move:
    """One attempted move: the facts, the context, and the rules found unmet so far."""

    decision: DecisionFacts
    context: GuardContext
    timezone: ZoneInfo
    trigger: str = ""
    #: set when the move happens inside a parallel branch
    branch: str | None = None
    unmet: list[Unmet] = field(default_factory=list)

    def local_date(self, moment: datetime) -> date:
        """The legal date of a moment, in the government's time zone."""
        return moment.astimezone(self.timezone).date()


def requirements_unmet(move: Move, source: StateSpec) -> list[Unmet]:
    """The records the source state requires that do not exist yet."""
    out: list[Unmet] = []
    records = move.decision.records
    entered = (
        move.decision.branch_entered_at.get(move.branch, move.decision.entered_at)
        if move.branch
        else move.decision.entered_at
    )
    for req in source.requires:
        if req.when is not None and not req.when.holds(dict(move.decision.flags)):
            continue  # a conditional requirement the decision's flags do not switch on
        spec = move.context.definition.records[req.record]
        have = records.count(req.record, since=entered if req.since_entry else None)
        if have < req.min_count:
            when_zh = "（须在本阶段内形成）" if req.since_entry else ""
            when_en = " (made in this stage)" if req.since_entry else ""
            out.append(
                Unmet(
                    rule=f"requires:{req.record}",
                    article=req.article,
                    zh=f"缺少“{spec.label.zh}”{when_zh}：需要 {req.min_count} 份，现有 {have} 份",
                    en=f"Missing '{spec.label.en}'{when_en}: {req.min_count} required, {have} on file",
                )
            )
    return out


def guards_unmet(move: Move, transition: TransitionSpec) -> list[Unmet]:
    """The named statutory conditions of a transition that do not hold."""
    out: list[Unmet] = []
    for ref in transition.guards:
        guard = REGISTRY[ref.name]
        context = GuardContext(
            definition=move.context.definition,
            payload=move.context.payload,
            now=move.context.now,
            today=move.context.today,
            calendar=move.context.calendar,
            params=ref.params,
        )
        if not guard.function(move.decision, context):
            zh, en = guard.message(move.decision, context)
            out.append(Unmet(rule=ref.name, article=ref.article, zh=zh, en=en))
    return out


def _since(move: Move, rule: TimeRule) -> datetime | None:
    if rule.since == "state_entry":
        if move.branch:
            return move.decision.branch_entered_at.get(move.branch, move.decision.entered_at)
        return move.decision.entered_at
    latest = move.decision.records.latest(rule.since)
    return latest.created_at if latest else None


def _waived(move: Move, rule: TimeRule) -> bool:
    if rule.waiver is None:
        return False
    if rule.waiver.record == move.trigger:  # the waiver is given with this very move
        return bool(str(move.context.payload.get(rule.waiver.field) or "").strip())
    latest = move.decision.records.latest(rule.waiver.record)
    return bool(latest and str(latest.data.get(rule.waiver.field) or "").strip())


def _count(move: Move, unit: str, start: date, end: date) -> int:
    if unit == "working_days":
        return move.context.calendar.working_days_between(start, end)
    return (end - start).days


def time_rules_unmet(move: Move, transition: TransitionSpec) -> list[Unmet]:
    """The minimum waits and minimum lead times of a transition that are not met."""
    out: list[Unmet] = []
    definition = move.context.definition
    today = move.context.today
    for rule in transition.time_rules:
        if rule.kind == "max_elapsed" or _waived(move, rule):
            continue  # a deadline is reported, never a reason to refuse
        days = definition.days(rule)
        unit_zh, unit_en = UNIT_WORDS[rule.unit]
        if rule.kind == "min_elapsed":
            since = _since(move, rule)
            if since is None:
                continue  # the record it counts from is itself a requirement elsewhere
            elapsed = _count(move, rule.unit, move.local_date(since), today)
            if elapsed < days:
                start = move.local_date(since).isoformat()
                out.append(
                    Unmet(
                        rule=f"min_elapsed:{rule.since}",
                        article=rule.article,
                        zh=f"自 {start} 起须满 {days} {unit_zh}，目前仅 {elapsed} {unit_zh}",
                        en=f"At least {days} {unit_en} must pass from {start}; only {elapsed} have",
                    )
                )
        elif rule.kind == "field_min_ahead" and rule.field:
            target = move.context.payload.get(rule.field)
            if not isinstance(target, date):
                continue  # a missing date is the payload validator's refusal
            ahead = _count(move, rule.unit, today, target)
            if ahead < days:
                label = transition.fields[rule.field].label
                out.append(
                    Unmet(
                        rule=f"field_min_ahead:{rule.field}",
                        article=rule.article,
                        zh=f"“{label.zh}”须距今至少 {days} {unit_zh}（{target.isoformat()} 仅 {ahead} {unit_zh}）",
                        en=f"'{label.en}' must leave at least {days} {unit_en} "
                        f"({target.isoformat()} leaves {ahead})",
                    )
                )
    return out


def unmet_for(move: Move, transition: TransitionSpec, source: StateSpec) -> list[Unmet]:
    """Every rule that stops this transition now: required records, guards, time rules."""
    unmet = [] if transition.skip_requirements else requirements_unmet(move, source)
    return unmet + guards_unmet(move, transition) + time_rules_unmet(move, transition)


def flags_route(transition: TransitionSpec, flags: Mapping[str, bool]) -> bool:
    """Whether a decision's flags route a trigger along this transition."""
    return transition.when is None or transition.when.holds(dict(flags))


def route_applies(move: Move, transition: TransitionSpec) -> bool:
    """Whether the moving decision's flags route this trigger along this transition."""
    return flags_route(transition, move.decision.flags)


def state_of(definition: Definition, branch: str | None, name: str) -> StateSpec:
    """The state spec of a name, on the main line or in a branch."""
    if branch is None:
        return definition.state(name)
    return next(s for s in definition.branch(branch).states if s.name == name)
