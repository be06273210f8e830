"""The registry of named statutory conditions a definition's transitions may require."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Protocol

from decisionflow.calendar import LegalCalendar
from decisionflow.definitions import Definition, Text


@dataclass(frozen=True)
class RecordFact:
    """One record as the rules see it."""

    kind: str
    data: Mapping[str, Any]
    created_at: datetime
    created_by: int | None = None


class RecordFacts(Protocol):
    """What the rules may ask about a decision's records."""

    def count(self, kind: str, *, since: datetime | None = None) -> int:
        """How many records of a kind (made at or after `since`)."""
        ...

    def latest(self, kind: str) -> RecordFact | None:
        """The newest record of a kind, if any."""
        ...

    def every(self, kind: str, *, since: datetime | None = None) -> list[RecordFact]:
        """Every record of a kind (made at or after `since`), oldest first."""
        ...

    def undisposed_comments(self) -> int:
        """How many public comments in the record still await a disposition."""
        ...


@dataclass(frozen=True)
class DecisionFacts:
    """A decision's position and attributes, as plain values."""

    state: str
    flags: Mapping[str, bool]
    #: branch name -> its current state, for the branches of the current state
    branch_states: Mapping[str, str]
    #: when the current main-line state was entered; branch name -> when its state was entered
    entered_at: datetime
    branch_entered_at: Mapping[str, datetime]
    records: RecordFacts


@dataclass(frozen=True)
class GuardContext:
    """Everything else a guard may look at: the definition, the payload, the clock."""

    definition: Definition
    payload: Mapping[str, Any]
    now: datetime
    #: the legal date (in the government's time zone) on which the move is made
    today: date
    calendar: LegalCalendar
    params: Mapping[str, Any] = field(default_factory=dict)


GuardFunction = Callable[[DecisionFacts, GuardContext], bool]
#: fills a refusal message's own placeholders: (values for zh, values for en)
Details = Callable[[DecisionFacts, GuardContext], tuple[dict[str, str], dict[str, str]]]


@dataclass(frozen=True)
class Guard:
    """A registered condition: its function, its parameters and its refusal message."""

    name: str
    function: GuardFunction
    zh: str
    en: str
    params: frozenset[str]
    details: Details | None = None
    #: the type of the transition field its `field` parameter names (checked on load)
    field_type: str | None = None

    def message(self, decision: DecisionFacts, ctx: GuardContext) -> tuple[str, str]:
        """The refusal message with the parameters and details filled in."""
        zh_values, en_values = dict(ctx.params), dict(ctx.params)
        if self.details is not None:
            extra_zh, extra_en = self.details(decision, ctx)
            zh_values.update(extra_zh)
            en_values.update(extra_en)
        return self.zh.format(**zh_values), self.en.format(**en_values)


REGISTRY: dict[str, Guard] = {}


def guard(
    name: str,
    *,
    zh: str,
    en: str,
    params: tuple[str, ...] = (),
    details: Details | None = None,
    field_type: str | None = None,
) -> Callable[[GuardFunction], GuardFunction]:
    """Register a guard function under a name, with its bilingual refusal message."""

    def register(function: GuardFunction) -> GuardFunction:
        if name in REGISTRY:
            raise ValueError(f"guard {name!r} registered twice")
        REGISTRY[name] = Guard(name, function, zh, en, frozenset(params), details, field_type)
        return function

    return register


def required_branches(decision: DecisionFacts, definition: Definition) -> list[str]:
    """The branches of the current state that the decision's flags switch on."""
    return [
        b.name
        for b in definition.branches_in(decision.state)
        if b.when is None or b.when.holds(dict(decision.flags))
    ]


def _is_final(definition: Definition, branch: str, state: str | None) -> bool:
    spec = definition.branch(branch)
    return state is not None and any(s.final and s.name == state for s in spec.states)


def pending_branches(decision: DecisionFacts, definition: Definition) -> list[str]:
    """The required branches not yet in a final state."""
    return [
        name
        for name in required_branches(decision, definition)
        if not _is_final(definition, name, decision.branch_states.get(name))
    ]


def _pending_labels(
    decision: DecisionFacts, ctx: GuardContext
) -> tuple[dict[str, str], dict[str, str]]:
    branches = [ctx.definition.branch(n) for n in pending_branches(decision, ctx.definition)]
    return (
        {"pending": "、".join(b.label.zh for b in branches)},
        {"pending": ", ".join(b.label.en for b in branches)},
    )


@guard(
    "required_branches_complete",
    zh="本阶段要求的各项程序尚未全部完成：{pending}",
    en="Not every procedure this stage requires is complete: {pending}",
    details=_pending_labels,
)
def required_branches_complete(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """Every parallel branch the decision's flags require has reached a final state."""
    return not pending_branches(decision, ctx.definition)


def _record_labels(
    decision: DecisionFacts, ctx: GuardContext
) -> tuple[dict[str, str], dict[str, str]]:
    """The record's and field's labels, so a refusal speaks of "风险评估报告", not risk_report."""
    record, field = str(ctx.params["record"]), str(ctx.params["field"])
    record_label, field_label = Text(zh=record, en=record), Text(zh=field, en=field)
    spec = ctx.definition.records.get(record)
    if spec is not None:
        record_label = spec.label
        if field in spec.fields:
            field_label = spec.fields[field].label
    else:  # a move is kept as a record of its trigger's name
        for t in ctx.definition.every_transition:
            if t.trigger == record:
                record_label = t.label
                if field in t.fields:
                    field_label = t.fields[field].label
                break
    return (
        {"record_label": record_label.zh, "field_label": field_label.zh},
        {"record_label": record_label.en, "field_label": field_label.en},
    )


def _payload_field_label(
    decision: DecisionFacts, ctx: GuardContext
) -> tuple[dict[str, str], dict[str, str]]:
    """The label of the date field, taken from a transition that uses this very guard."""
    field = str(ctx.params["field"])
    label = Text(zh=field, en=field)
    for t in ctx.definition.every_transition:
        uses = any(g.name == "payload_date_not_past" and g.params == ctx.params for g in t.guards)
        if uses and field in t.fields:
            label = t.fields[field].label
            break
    return {"field_label": label.zh}, {"field_label": label.en}


@guard(
    "record_field_equals",
    zh="最新的“{record_label}”中“{field_label}”应为“{value}”",
    en="The latest '{record_label}' record must have {field} = '{value}'",
    params=("record", "field", "value"),
    details=_record_labels,
)
def record_field_equals(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """The newest record of a kind has a field of the given value."""
    latest = decision.records.latest(ctx.params["record"])
    return latest is not None and latest.data.get(ctx.params["field"]) == ctx.params["value"]


@guard(
    "record_field_not_equals",
    zh="最新的“{record_label}”中“{field_label}”为“{value}”，不得继续",
    en="The latest '{record_label}' record has {field} = '{value}'; the procedure cannot go on",
    params=("record", "field", "value"),
    details=_record_labels,
)
def record_field_not_equals(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """The newest record of a kind exists and its field is not the given value."""
    latest = decision.records.latest(ctx.params["record"])
    return latest is not None and latest.data.get(ctx.params["field"]) != ctx.params["value"]


@guard(
    "payload_date_not_past",
    zh="“{field_label}”不能是过去的日期",
    en="'{field_label}' cannot be a date in the past",
    params=("field",),
    details=_payload_field_label,
    field_type="date",
)
def payload_date_not_past(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """A date given in the payload is today or later."""
    value = ctx.payload.get(ctx.params["field"])
    return value is None or value >= ctx.today


@guard(
    "signature_covers_current_draft",
    zh="“{record}”签署于草案第 {signed} 版，其后草案已修改为第 {current} 版：须重新审查",
    en="The '{record}' was signed over draft v{signed}; the draft is now v{current}: a new review is required",
    params=("record",),
    details=lambda decision, ctx: _signed_versions(decision, ctx),
)
def signature_covers_current_draft(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """The newest signed record of a kind was signed over the draft version in force now."""
    signed = decision.records.latest(ctx.params["record"])
    draft = decision.records.latest("draft_version")
    if signed is None or draft is None:
        return False
    signature = signed.data.get("signature") or {}
    return bool(signature.get("draft_sha256")) and signature.get("draft_sha256") == draft.data.get(
        "sha256"
    )


def _signed_versions(
    decision: DecisionFacts, ctx: GuardContext
) -> tuple[dict[str, str], dict[str, str]]:
    signed = decision.records.latest(ctx.params["record"])
    draft = decision.records.latest("draft_version")
    signature = (signed.data.get("signature") if signed else None) or {}
    spec = ctx.definition.records.get(ctx.params["record"])
    values = {
        "signed": str(signature.get("draft_number", "—")),
        "current": str(draft.data.get("number", "—")) if draft else "—",
    }
    label = spec.label if spec else None
    return (
        {**values, "record": label.zh if label else ctx.params["record"]},
        {**values, "record": label.en if label else ctx.params["record"]},
    )


def _majority(decision: DecisionFacts, ctx: GuardContext) -> str | None:
    """The position most members took in this stage's opinions, or None on a tie.

    Each member counts once, with the last thing they said: records are never edited, so a
    member who corrects an opinion adds a record, and must not be counted twice.
    """
    latest: dict[str, str] = {}
    facts = decision.records.every(ctx.params["record"], since=decision.entered_at)
    for index, fact in enumerate(facts):
        member = str(fact.data.get(ctx.params.get("by", ""), "")).strip() or f"#{index}"
        latest[member] = str(fact.data.get(ctx.params["field"], ""))
    positions: dict[str, int] = {}
    for value in latest.values():
        positions[value] = positions.get(value, 0) + 1
    counted = sorted(((n, v) for v, n in positions.items() if v != "abstain"), reverse=True)
    if not counted or (len(counted) > 1 and counted[0][0] == counted[1][0]):
        return None
    return counted[0][1]


@guard(
    "departure_explained",
    zh="行政首长的决定与多数人意见不一致，须说明理由（“{reason_field}”）",
    en="The chief's decision departs from the majority of members; the reasons must be stated ({reason_field})",
    params=("record", "field", "by", "expects", "reason_field"),
)
def departure_explained(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """A chief deciding against the members' majority gives the reasons (Art 30)."""
    majority = _majority(decision, ctx)
    departs = majority is not None and majority != ctx.params["expects"]
    return not departs or bool(str(ctx.payload.get(ctx.params["reason_field"]) or "").strip())


@guard(
    "all_comments_disposed",
    zh="尚有 {pending} 条公众意见未作出采纳处理（采纳、部分采纳或不采纳并说明理由）",
    en="{pending} public comment(s) still await a disposition (adopted, partly adopted or not adopted, with reasons)",
    details=lambda decision, ctx: (
        {"pending": str(decision.records.undisposed_comments())},
        {"pending": str(decision.records.undisposed_comments())},
    ),
)
def all_comments_disposed(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """Every public comment received has its disposition (Art 15)."""
    return decision.records.undisposed_comments() == 0


@guard(
    "differs_from_records",
    zh="“{field}”不得是曾承担决策前主要论证、评估工作的单位（{others}）",
    en="'{field}' may not be a unit that did the main pre-decision argumentation or assessment ({others})",
    params=("field", "records"),
    details=lambda decision, ctx: (
        {"others": "、".join(_named_units(decision, ctx))},
        {"others": ", ".join(_named_units(decision, ctx))},
    ),
)
def differs_from_records(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """A payload field names none of the units named in earlier records (Art 36 independence)."""
    value = _norm(ctx.payload.get(ctx.params["field"]))
    return not value or value not in {_norm(name) for name in _named_units(decision, ctx)}


def _named_units(decision: DecisionFacts, ctx: GuardContext) -> list[str]:
    names: list[str] = []
    for ref in ctx.params["records"]:
        for fact in decision.records.every(ref["record"]):
            value = str(fact.data.get(ref["field"]) or "").strip()
            if value and value not in names:
                names.append(value)
    return names


def _norm(value: Any) -> str:
    return "".join(str(value or "").split()).casefold()


@guard(
    "reassessed_after_adjustment",
    zh="“{record}”曾得出“{value}”的结论：须先修改草案，再重新评估",
    en="The '{record}' once concluded '{value}': the draft must be adjusted and then re-assessed",
    params=("record", "field", "value"),
    details=lambda decision, ctx: _record_label(ctx),
)
def reassessed_after_adjustment(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """After a bad finding, a newer draft exists and the newest finding postdates it (Art 24)."""
    reports = decision.records.every(ctx.params["record"])
    bad = [r for r in reports if r.data.get(ctx.params["field"]) == ctx.params["value"]]
    if not bad:
        return True
    draft = decision.records.latest("draft_version")
    adjusted = draft is not None and draft.created_at > bad[-1].created_at
    return adjusted and draft is not None and reports[-1].created_at > draft.created_at


@guard(
    "value_needs_flag",
    zh="“{record}”的结论“{value}”只适用于“{flag_label}”的事项",
    en="The '{record}' finding '{value}' applies only to matters flagged '{flag_label}'",
    params=("record", "field", "value", "flag"),
    details=lambda decision, ctx: _flag_details(ctx),
)
def value_needs_flag(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """A finding reserved for a kind of matter appears only on a decision of that kind."""
    latest = decision.records.latest(ctx.params["record"])
    if latest is None or latest.data.get(ctx.params["field"]) != ctx.params["value"]:
        return True
    return bool(decision.flags.get(ctx.params["flag"], False))


def _record_label(ctx: GuardContext) -> tuple[dict[str, str], dict[str, str]]:
    spec = ctx.definition.records.get(ctx.params["record"])
    zh = spec.label.zh if spec else ctx.params["record"]
    en = spec.label.en if spec else ctx.params["record"]
    return {"record": zh}, {"record": en}


def _flag_details(ctx: GuardContext) -> tuple[dict[str, str], dict[str, str]]:
    zh, en = _record_label(ctx)
    flag = ctx.definition.flags.get(ctx.params["flag"])
    zh["flag_label"] = flag.label.zh if flag else ctx.params["flag"]
    en["flag_label"] = flag.label.en if flag else ctx.params["flag"]
    return zh, en


@guard(
    "record_date_reached",
    zh="须待“{field_label}”（{date}）届至",
    en="Not before '{field_label}' ({date})",
    params=("record", "field"),
    details=lambda decision, ctx: _date_details(decision, ctx),
)
def record_date_reached(decision: DecisionFacts, ctx: GuardContext) -> bool:
    """A date announced in an earlier record (a deadline, a hearing date) has come."""
    latest = decision.records.latest(ctx.params["record"])
    value = latest.data.get(ctx.params["field"]) if latest else None
    if not value:
        return False
    return date.fromisoformat(str(value)) <= ctx.today


def _date_details(
    decision: DecisionFacts, ctx: GuardContext
) -> tuple[dict[str, str], dict[str, str]]:
    latest = decision.records.latest(ctx.params["record"])
    when = str(latest.data.get(ctx.params["field"], "—")) if latest else "—"
    spec = next(
        (
            t.fields.get(ctx.params["field"])
            for t in ctx.definition.every_transition
            if t.trigger == ctx.params["record"]
        ),
        None,
    )
    record = ctx.definition.records.get(ctx.params["record"])
    spec = spec or (record.fields.get(ctx.params["field"]) if record else None)
    zh = spec.label.zh if spec else ctx.params["field"]
    en = spec.label.en if spec else ctx.params["field"]
    return {"field_label": zh, "date": when}, {"field_label": en, "date": when}
