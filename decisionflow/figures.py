"""The supervision figures, each counted from the cases of a scope, with the decisions behind it."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from zoneinfo import ZoneInfo

from decisionflow.calendar import ChinaLegalCalendar
from decisionflow.casebook import (
    CHIEF_DECIDES,
    Case,
    Label,
    Scope,
    Timed,
    departures,
    median_of,
    working_days,
)

Value = int | float | str | None


@dataclass(frozen=True)
class Row:
    """One line of a figure: what it counts, its numbers, and the decisions behind them."""

    label: Label
    values: tuple[Value, ...]
    decisions: tuple[int, ...] = ()


@dataclass(frozen=True)
class Figure:
    """A table of numbers drawn as a bar chart of one of its columns."""

    key: str
    title: Label
    columns: tuple[Label, ...]
    rows: tuple[Row, ...]
    #: the column the bar chart draws
    chart: int = 0
    note: Label = ("", "")

    def bars(self) -> list[tuple[Label, float]]:
        """(label, value) of each row's charted column; a row without a number draws 0."""
        out = []
        for row in self.rows:
            value = row.values[self.chart]
            out.append((row.label, float(value) if isinstance(value, (int, float)) else 0.0))
        return out


def rate(on_time: int, counted: int) -> float | None:
    """A share in percent, to one decimal; None when nothing was counted."""
    return round(100.0 * on_time / counted, 1) if counted else None


def _ids(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(items)))


def stages(cases: list[Case], scope: Scope) -> Figure:
    """Decisions proposed in the period, by procedure and the stage they stand at now."""
    found: dict[tuple[str, str], list[int]] = {}
    labels: dict[tuple[str, str], Label] = {}
    order: dict[tuple[str, str], int] = {}
    for case in cases:
        if not scope.holds(case.created_on):
            continue
        key = (case.procedure, case.state)
        found.setdefault(key, []).append(case.id)
        title, state = case.definition.title, case.definition.state(case.state)
        labels[key] = (f"{title.zh} · {state.label.zh}", f"{title.en} · {state.label.en}")
        names = [s.name for s in case.definition.states]
        order[key] = names.index(case.state)
    rows = tuple(
        Row(labels[k], (len(v),), _ids(v))
        for k, v in sorted(found.items(), key=lambda i: (i[0][0], order[i[0]]))
    )
    return Figure(
        "stages",
        ("各阶段决策数", "Decisions by stage"),
        (("决策数", "Decisions"),),
        rows,
        note=(
            "期间内提出的决策，按现在所处阶段",
            "Decisions proposed in the period, by where they stand now",
        ),
    )


def on_time(items: list[Timed], cases: dict[int, Case]) -> Figure:
    """Per step with a deadline: how many were met on time, late, or are overdue."""
    groups: dict[tuple[str, str], list[Timed]] = {}
    labels: dict[tuple[str, str], Label] = {}
    for item in items:
        case = cases[item.decision_id]
        key = (case.procedure, item.trigger)
        groups.setdefault(key, []).append(item)
        title = case.definition.title
        labels[key] = (
            f"{title.zh} · {item.label.zh}（{item.article}）",
            f"{title.en} · {item.label.en} ({item.article})",
        )
    rows = []
    for key, group in sorted(groups.items()):
        counts = {
            s: sum(1 for i in group if i.status == s)
            for s in ("on_time", "late", "overdue", "open")
        }
        counted = counts["on_time"] + counts["late"] + counts["overdue"]
        rows.append(
            Row(
                labels[key],
                (
                    counted,
                    counts["on_time"],
                    counts["late"],
                    counts["overdue"],
                    counts["open"],
                    rate(counts["on_time"], counted),
                ),
                _ids(i.decision_id for i in group),
            )
        )
    return Figure(
        "on_time",
        ("各环节按时办结率", "On-time rate per step"),
        (
            ("应办结", "Due"),
            ("按时", "On time"),
            ("逾期办结", "Late"),
            ("逾期未办", "Overdue"),
            ("未到期", "Not yet due"),
            ("按时率（%）", "On-time rate (%)"),
        ),
        tuple(rows),
        chart=5,
        note=("期间内开始计算期限的事项", "Deadlines whose period began in the period"),
    )


def durations(
    cases: list[Case], scope: Scope, *, calendar: ChinaLegalCalendar, timezone: ZoneInfo
) -> Figure:
    """Per stage: how many stays ended in the period, their median and worst working days."""
    found: dict[tuple[str, str], list[tuple[int, int]]] = {}
    labels: dict[tuple[str, str], Label] = {}
    order: dict[tuple[str, str], int] = {}
    for case in cases:
        names = [s.name for s in case.definition.states]
        for stay in case.stays:
            days = working_days(calendar, stay, timezone=timezone)
            if (
                days is None
                or stay.left is None
                or not scope.holds(stay.left.astimezone(timezone).date())
            ):
                continue
            key = (case.procedure, stay.state)
            found.setdefault(key, []).append((days, case.id))
            title, state = case.definition.title, case.definition.state(stay.state)
            labels[key] = (f"{title.zh} · {state.label.zh}", f"{title.en} · {state.label.en}")
            order[key] = names.index(stay.state)
    rows = []
    for key, stays in sorted(found.items(), key=lambda i: (i[0][0], order[i[0]])):
        counts = [d for d, _ in stays]
        rows.append(
            Row(
                labels[key],
                (len(counts), median_of(counts), max(counts)),
                _ids(i for _, i in stays),
            )
        )
    return Figure(
        "durations",
        ("各阶段用时（工作日）", "Working days per stage"),
        (("次数", "Stays"), ("中位数", "Median"), ("最长", "Worst")),
        tuple(rows),
        chart=1,
        note=(
            "期间内结束的阶段，按法定工作日计",
            "Stages left in the period, in legal working days",
        ),
    )


#: what may be done with a comment, in the order the figures list it
DISPOSITIONS: tuple[tuple[str, Label], ...] = (
    ("adopted", ("采纳", "Adopted")),
    ("partly_adopted", ("部分采纳", "Partly adopted")),
    ("not_adopted", ("不予采纳", "Not adopted")),
)


def comments(cases: list[Case], scope: Scope, *, timezone: ZoneInfo) -> Figure:
    """Public comments received in the period (moderated-out ones aside), by disposition."""
    received: list[int] = []
    by: dict[str | None, list[int]] = {}
    for case in cases:
        for comment in case.comments:
            if comment.status == "rejected" or not scope.holds(
                comment.received_at.astimezone(timezone).date()
            ):
                continue
            received.append(case.id)
            by.setdefault(comment.disposition, []).append(case.id)
    rows = [Row(("收到意见", "Comments received"), (len(received),), _ids(received))]
    for key, label in DISPOSITIONS:
        rows.append(Row(label, (len(by.get(key, [])),), _ids(by.get(key, []))))
    rows.append(
        Row(
            ("尚未处理", "Awaiting a disposition"), (len(by.get(None, [])),), _ids(by.get(None, []))
        )
    )
    return Figure(
        "comments",
        ("公众意见及采纳情况", "Public comments and their disposition"),
        (("条数", "Comments"),),
        tuple(rows),
    )


#: each legality finding and how it reads, across both procedures
OUTCOMES: tuple[tuple[str, Label], ...] = (
    ("lawful", ("合法", "Lawful")),
    ("lawful_with_amendments", ("修改后合法", "Lawful with amendments")),
    ("unlawful", ("不合法", "Unlawful")),
    ("legal_risk_stated", ("明示法律风险", "Legal risk stated")),
)


def legality_findings(case: Case, scope: Scope) -> list[tuple[str, int]]:
    """(outcome, decision id) of each legality opinion issued in the period.

    A major decision's opinion is its signed record; a normative document's is the reviewer's
    move (lawful or unlawful) itself.
    """
    found = []
    for entry in case.of_kind("legality_opinion", "find_lawful", "find_unlawful"):
        if not scope.holds(entry.on):
            continue
        if entry.kind == "legality_opinion":
            found.append((str(entry.data.get("outcome", "")), case.id))
        elif case.procedure != "major_decision":
            outcome = "unlawful" if entry.kind == "find_unlawful" else entry.data.get("outcome")
            found.append((str(outcome or "lawful"), case.id))
    return found


def legality(cases: list[Case], scope: Scope) -> Figure:
    """Legality opinions issued in the period, by finding."""
    found = [f for case in cases for f in legality_findings(case, scope)]
    rows = [
        Row(label, (sum(1 for o, _ in found if o == key),), _ids(i for o, i in found if o == key))
        for key, label in OUTCOMES
    ]
    return Figure(
        "legality",
        ("合法性审查意见", "Legality opinions by finding"),
        (("件数", "Opinions"),),
        tuple(rows),
    )


def meetings(cases: list[Case], scope: Scope) -> Figure:
    """The chief's decisions at meetings in the period, and those against the members' majority."""
    decided = [c.id for c in cases for e in c.of_kind(*CHIEF_DECIDES) if scope.holds(e.on)]
    departed = [c.id for c in cases for e in departures(c) if scope.holds(e.on)]
    return Figure(
        "meetings",
        ("集体讨论决定", "Collective discussion"),
        (("次数", "Meetings"),),
        (
            Row(("行政首长作出决定", "Decided by the chief"), (len(decided),), _ids(decided)),
            Row(
                ("与多数意见不一致", "Departed from the majority"), (len(departed),), _ids(departed)
            ),
        ),
        note=(
            "与多数意见不一致的，须在会上说明理由（第三十条）",
            "A departure from the majority is explained at the meeting (Art 30)",
        ),
    )


def overdue(items: list[Timed], cases: dict[int, Case], today: date) -> Figure:
    """Deadlines passed today with the move still not made, longest overdue first."""
    late = sorted((i for i in items if i.status == "overdue"), key=lambda i: i.due)
    rows = tuple(
        Row(
            (
                f"{cases[i.decision_id].title} · {i.label.zh}",
                f"{cases[i.decision_id].title} · {i.label.en}",
            ),
            (i.due.isoformat(), (today - i.due).days),
            (i.decision_id,),
        )
        for i in late
    )
    return Figure(
        "overdue",
        ("逾期未办事项", "Overdue items"),
        (("期限", "Due"), ("逾期天数", "Days overdue")),
        rows,
        chart=1,
        note=("截至今日", "As of today"),
    )


FIGURES = ("stages", "on_time", "durations", "comments", "legality", "meetings", "overdue")
