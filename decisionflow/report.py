"""The yearly law-based-administration report: its figures, each with the decisions behind it."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import jinja2
from sqlalchemy import select
from sqlalchemy.orm import Session

from decisionflow.accounts import Actor
from decisionflow.calendar import ChinaLegalCalendar
from decisionflow.casebook import Case, Label, Scope, Timed, deadlines, load_cases
from decisionflow.errors import NotFound
from decisionflow.figures import (
    DISPOSITIONS,
    OUTCOMES,
    Figure,
    Row,
    comments,
    legality,
    legality_findings,
    meetings,
    rate,
)
from decisionflow.models import Department
from decisionflow.registry import DefinitionRegistry
from decisionflow.statistics import Statistics, readable_scope

MAJOR, NORMATIVE = "major_decision", "normative_document"


@dataclass(frozen=True)
class Line:
    """One figure of the report: what it counts, the number, the decisions behind it."""

    key: str
    label: Label
    value: int | float | None
    decisions: tuple[int, ...]
    #: a rate, in percent (else a count)
    percent: bool = False


@dataclass(frozen=True)
class Section:
    """A part of the report: decisions, participation, experts, risk, legality, documents…"""

    key: str
    title: Label
    lines: tuple[Line, ...]


@dataclass(frozen=True)
class Listed:
    """A decision a figure counts, as the report's appendix names it."""

    id: int
    title: str
    unit: str
    procedure: Label


@dataclass(frozen=True)
class YearlyReport:
    """The figures of one year (for one department, or all)."""

    year: int
    department: str
    sections: tuple[Section, ...]
    decisions: dict[int, Listed]
    made_at: datetime

    def line(self, key: str) -> Line:
        """The figure of that key."""
        return next(line for s in self.sections for line in s.lines if line.key == key)

    @property
    def lines(self) -> list[Line]:
        """Every figure, in the report's order."""
        return [line for s in self.sections for line in s.lines]


def _ids(items: Iterable[int]) -> tuple[int, ...]:
    return tuple(sorted(set(items)))


def _counted(key: str, label: Label, row: Row) -> Line:
    """A count the statistics page shows as a figure's row, as a line of the report."""
    value = row.values[0]
    return Line(key, label, value if isinstance(value, int) else None, row.decisions)


def _by_label(figure: Figure) -> dict[Label, Row]:
    return {row.label: row for row in figure.rows}


class _Year:
    """Counting helpers over one year's cases."""

    def __init__(self, cases: list[Case], scope: Scope) -> None:
        self.cases, self.scope = cases, scope

    def moves(self, key: str, label: Label, procedure: str, *kinds: str) -> Line:
        """How many records (or moves) of these kinds were made in the year."""
        found = [
            c.id
            for c in self.cases
            if c.procedure == procedure
            for e in c.of_kind(*kinds)
            if self.scope.holds(e.on)
        ]
        return Line(key, label, len(found), _ids(found))

    def decisions(self, key: str, label: Label, procedure: str, *kinds: str) -> Line:
        """How many decisions had a record (or move) of these kinds made in the year."""
        found = _ids(
            c.id
            for c in self.cases
            if c.procedure == procedure and any(self.scope.holds(e.on) for e in c.of_kind(*kinds))
        )
        return Line(key, label, len(found), found)


def yearly_report(
    session: Session,
    registry: DefinitionRegistry,
    year: int,
    *,
    department: str = "",
    calendar: ChinaLegalCalendar,
    timezone: ZoneInfo,
    now: datetime,
) -> YearlyReport:
    """Count the year's decisions, participation, reviews, documents and on-time rates."""
    if (
        department
        and session.scalar(select(Department.id).where(Department.code == department)) is None
    ):
        raise NotFound(zh=f"没有代码为“{department}”的单位", en=f"No department '{department}'")
    scope = Scope(department=department, since=date(year, 1, 1), until=date(year, 12, 31))
    cases = load_cases(session, registry, scope, timezone=timezone)
    y = _Year(cases, scope)
    today = now.astimezone(timezone).date()
    items = [
        i
        for i in deadlines(cases, calendar=calendar, today=today, timezone=timezone)
        if scope.holds(i.since)
    ]

    def timeliness(prefix: str, picked: list[Timed]) -> tuple[Line, Line, Line]:
        counted = [i for i in picked if i.status != "open"]
        met = [i for i in counted if i.status == "on_time"]
        return (
            Line(
                f"{prefix}.due",
                ("应按期办结", "Due in the year"),
                len(counted),
                _ids(i.decision_id for i in counted),
            ),
            Line(
                f"{prefix}.on_time",
                ("按时办结", "Done on time"),
                len(met),
                _ids(i.decision_id for i in met),
            ),
            Line(
                f"{prefix}.rate",
                ("按时办结率", "On-time rate"),
                rate(len(met), len(counted)),
                _ids(i.decision_id for i in counted),
                percent=True,
            ),
        )

    # what the statistics page counts, counted once: comments, opinions, meetings
    commented = comments(cases, scope, timezone=timezone)
    received, disposed = commented.rows[0], _by_label(commented)
    by_outcome = _by_label(legality(cases, scope))
    findings = [f for c in cases for f in legality_findings(c, scope)]
    # as the statistics page counts them: the chief's decisions in every procedure (only the
    # major-decision procedure has a collective discussion today)
    decided, departed = meetings(cases, scope).rows
    risky = [
        c.id
        for c in cases
        for e in c.of_kind("risk_report")
        if scope.holds(e.on) and e.data.get("conclusion") == "not_controllable"
    ]
    filing = [i for i in items if i.trigger == "file_with_authority"]
    filed_on_time, filing_counted = (
        [i for i in filing if i.status == "on_time"],
        [i for i in filing if i.status != "open"],
    )
    sections = (
        Section(
            "decisions",
            ("重大行政决策", "Major administrative decisions"),
            (
                y.decisions("major.proposed", ("提出决策建议", "Proposed"), MAJOR, "proposal"),
                y.moves(
                    "major.started", ("启动决策程序", "Procedure started"), MAJOR, "start_procedure"
                ),
                y.moves("major.declined", ("决定不予启动", "Declined"), MAJOR, "decline_proposal"),
                y.moves(
                    "major.approved",
                    ("集体讨论决定通过", "Approved at a meeting"),
                    MAJOR,
                    "approve_decision",
                ),
                y.moves(
                    "major.rejected",
                    ("决定不予通过", "Rejected at a meeting"),
                    MAJOR,
                    "reject_decision",
                ),
                y.moves("major.published", ("决策公布", "Published"), MAJOR, "publish_decision"),
                y.moves("major.archived", ("归档", "Archived"), MAJOR, "archive_decision"),
            ),
        ),
        Section(
            "participation",
            ("公众参与", "Public participation"),
            (
                y.moves(
                    "participation.consultations",
                    ("公开征求意见（重大行政决策）", "Consultations opened (decisions)"),
                    MAJOR,
                    "open_consultation",
                ),
                y.moves(
                    "participation.document_consultations",
                    ("公开征求意见（规范性文件）", "Consultations opened (normative documents)"),
                    NORMATIVE,
                    "open_comment",
                ),
                _counted("participation.comments", ("收到公众意见", "Comments received"), received),
                *(
                    _counted(f"participation.{key}", label, disposed[label])
                    for key, label in DISPOSITIONS
                ),
                y.moves(
                    "participation.hearings", ("举行听证会", "Hearings held"), MAJOR, "hold_hearing"
                ),
            ),
        ),
        Section(
            "experts",
            ("专家论证", "Expert argumentation"),
            (
                y.moves(
                    "experts.completed",
                    ("完成专家论证", "Expert argumentation completed"),
                    MAJOR,
                    "complete_expert_argumentation",
                ),
                y.moves(
                    "experts.opinions",
                    ("专家签名论证意见", "Signed expert opinions"),
                    MAJOR,
                    "expert_opinion",
                ),
            ),
        ),
        Section(
            "risk",
            ("风险评估", "Risk assessment"),
            (
                y.moves(
                    "risk.completed",
                    ("完成风险评估", "Risk assessments completed"),
                    MAJOR,
                    "complete_risk_assessment",
                ),
                Line(
                    "risk.not_controllable",
                    ("评估为风险不可控", "Found not controllable"),
                    len(risky),
                    _ids(risky),
                ),
            ),
        ),
        Section(
            "legality",
            ("合法性审查", "Legality review"),
            (
                Line(
                    "legality.opinions",
                    ("出具合法性审查意见", "Legality opinions issued"),
                    len(findings),
                    _ids(i for _, i in findings),
                ),
                *(_counted(f"legality.{key}", label, by_outcome[label]) for key, label in OUTCOMES),
            ),
        ),
        Section(
            "meetings",
            ("集体讨论决定", "Collective discussion"),
            (
                _counted("meetings.decided", decided.label, decided),
                _counted(
                    "meetings.departed",
                    ("与多数意见不一致并说明理由", "Departed from the majority, with reasons"),
                    departed,
                ),
            ),
        ),
        Section(
            "normative",
            ("行政规范性文件", "Normative documents"),
            (
                y.decisions(
                    "normative.reviewed",
                    ("审查文件草案", "Drafts reviewed"),
                    NORMATIVE,
                    "find_lawful",
                    "find_unlawful",
                ),
                y.moves(
                    "normative.published", ("正式发布", "Published"), NORMATIVE, "publish_document"
                ),
                y.moves("normative.filed", ("报送备案", "Filed"), NORMATIVE, "file_with_authority"),
                Line(
                    "normative.filed_on_time",
                    ("按时备案", "Filed on time"),
                    len(filed_on_time),
                    _ids(i.decision_id for i in filed_on_time),
                ),
                Line(
                    "normative.filing_rate",
                    ("按时备案率", "Filed on time, rate"),
                    rate(len(filed_on_time), len(filing_counted)),
                    _ids(i.decision_id for i in filing_counted),
                    percent=True,
                ),
            ),
        ),
        Section("timeliness", ("按期办结", "Deadlines met"), timeliness("timeliness", items)),
    )
    listed = {
        c.id: Listed(c.id, c.title, c.unit, (c.definition.title.zh, c.definition.title.en))
        for c in cases
    }
    return YearlyReport(year, department, sections, listed, now)


def yearly_for(
    actor: Actor, statistics: Statistics, year: int, *, department: str = ""
) -> YearlyReport:
    """The year's report for a reader: every department, or only the reader's own (a clerk's);
    NotPermitted for a role that may read no statistics."""
    scope = readable_scope(actor, Scope(department=department))
    with statistics.readers() as session:
        return yearly_report(
            session,
            statistics.registry,
            year,
            department=scope.department,
            calendar=statistics.calendar,
            timezone=statistics.timezone,
            now=statistics.clock(),
        )


# -- printing it without the web: a small template of its own ---------------------------------
_TEMPLATES = jinja2.Environment(
    loader=jinja2.FileSystemLoader(Path(__file__).parent / "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
)


def shown(line: Line) -> str:
    """A figure's number as printed: a count, or a rate in percent ("—" for nothing to rate)."""
    if line.value is None:
        return "—"
    if line.percent:
        return f"{line.value:.1f}%"
    return str(line.value)


def render_html(
    report: YearlyReport,
    *,
    lang: str = "zh",
    timezone: ZoneInfo,
    link: Callable[[Line], str] | None = None,
) -> str:
    """The report as one printable HTML page; each figure links to its decisions (by default,
    to the list of them at the end of the page)."""
    pick = 0 if lang == "zh" else 1
    return _TEMPLATES.get_template("yearly_report.html").render(
        report=report,
        pick=lambda label: label[pick],
        lang=lang,
        shown=shown,
        link=link or (lambda line: f"#{line.key}"),
        made=report.made_at.astimezone(timezone).strftime("%Y-%m-%d %H:%M"),
        zone=str(timezone),
    )


def render_text(report: YearlyReport, *, lang: str = "zh") -> str:
    """The report as plain lines for a terminal."""
    pick = 0 if lang == "zh" else 1
    out = [
        f"{report.year} {'依法行政工作统计' if pick == 0 else 'law-based administration figures'}"
    ]
    for section in report.sections:
        out.append(f"\n{section.title[pick]}")
        out.extend(f"  {line.label[pick]}: {shown(line)}" for line in section.lines)
    return "\n".join(out) + "\n"
