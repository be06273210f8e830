"""The yearly report's figures equal the true counts of a seeded year, on both databases."""

from __future__ import annotations

from datetime import date
from zoneinfo import ZoneInfo

import pytest

from decisionflow.casebook import Scope
from decisionflow.report import render_html, render_text, yearly_report
from decisionflow.roles import Role
from tests.yearbook import YEAR, seed_year


@pytest.fixture
def year(parts, people, clock):
    """The seeded year."""
    return seed_year(parts, people, clock)


def _report(parts, year_number=YEAR, department=""):
    with parts.readers() as session:
        return yearly_report(
            session,
            parts.registry,
            year_number,
            department=department,
            calendar=parts.calendar,
            timezone=ZoneInfo(parts.settings.timezone),
            now=parts.decisions.clock(),
        )


def test_every_figure_of_the_year_equals_its_true_count(parts, year):
    """Each figure counts exactly the seeded facts of 2026, and names the decisions behind it."""
    report = _report(parts)
    d1, d2, d3, d4, d5 = year.d1, year.d2, year.d3, year.d4, year.d5
    n1, n2, n3 = year.n1, year.n2, year.n3
    truth = {
        # the 2025 proposal is not counted
        "major.proposed": (5, {d1, d2, d3, d4, d5}),
        "major.started": (3, {d1, d2, d3}),
        "major.declined": (1, {d4}),
        "major.approved": (2, {d1, d2}),
        "major.rejected": (0, set()),
        "major.published": (1, {d1}),
        "major.archived": (1, {d1}),
        "participation.consultations": (3, {d1, d2, d3}),
        "participation.document_consultations": (3, {n1, n2, n3}),
        # the comment moderated out is not one received
        "participation.comments": (4, {d1, d2}),
        "participation.adopted": (2, {d1, d2}),
        "participation.partly_adopted": (1, {d1}),
        "participation.not_adopted": (1, {d1}),
        "participation.hearings": (3, {d1, d2, d3}),
        "experts.completed": (3, {d1, d2, d3}),
        "experts.opinions": (3, {d1, d2, d3}),
        "risk.completed": (3, {d1, d2, d3}),
        "risk.not_controllable": (0, set()),
        "legality.opinions": (6, {d1, d2, d3, n1, n2, n3}),
        "legality.lawful": (5, {d1, d2, n1, n2, n3}),
        "legality.lawful_with_amendments": (0, set()),
        "legality.unlawful": (1, {d3}),
        "legality.legal_risk_stated": (0, set()),
        "meetings.decided": (2, {d1, d2}),
        "meetings.departed": (1, {d2}),
        "normative.reviewed": (3, {n1, n2, n3}),
        "normative.published": (3, {n1, n2, n3}),
        "normative.filed": (2, {n1, n2}),
        "normative.filed_on_time": (1, {n1}),
        "normative.filing_rate": (33.3, {n1, n2, n3}),
        # the only deadline (max_elapsed) in the shipped definitions is the filing
        "timeliness.due": (3, {n1, n2, n3}),
        "timeliness.on_time": (1, {n1}),
        "timeliness.rate": (33.3, {n1, n2, n3}),
    }
    found = {line.key: (line.value, set(line.decisions)) for line in report.lines}
    assert found == truth


def test_a_department_report_counts_only_its_own_decisions(parts, year):
    """The ecology bureau's report holds its one proposal and nothing of the housing bureau's."""
    report = _report(parts, department="ecology")
    assert report.line("major.proposed").value == 1
    assert report.line("major.proposed").decisions == (year.d5,)
    assert all(line.value in (0, None) for line in report.lines if line.key != "major.proposed")


def test_the_year_before_holds_only_its_own_proposal(parts, year):
    """2025's report counts the one decision proposed then."""
    report = _report(parts, 2025)
    assert report.line("major.proposed").decisions == (year.d0,)
    assert report.line("normative.published").value == 0
    assert report.line("normative.filing_rate").value is None


def test_the_printable_report_links_each_figure_to_its_decisions(parts, year):
    """The HTML shows every figure, and each non-zero figure links to a list of its decisions."""
    report = _report(parts)
    page = render_html(report, timezone=ZoneInfo("Asia/Shanghai"))
    assert f"{YEAR} 年度依法行政工作统计" in page
    assert '<a href="#normative.filed_on_time">1</a>' in page
    assert '<h3 id="normative.filed_on_time">按时备案: 1</h3>' in page
    assert "33.3%" in page
    assert f"#{year.n1} 住房租赁补贴管理办法（1）" in page
    english = render_html(report, lang="en", timezone=ZoneInfo("Asia/Shanghai"))
    assert "Filed on time" in english and "Drafts reviewed" in english
    assert "(Asia/Shanghai)" in page
    # the time it was made, in the zone it was made for
    assert "(UTC)" in render_html(report, timezone=ZoneInfo("UTC"))
    text = render_text(report)
    assert "正式发布: 3" in text and "按时备案率: 33.3%" in text


def test_the_report_and_the_statistics_page_give_the_same_counts(parts, people, year):
    """For the same year, the report's comments, opinions and meetings are the page's figures."""
    report = _report(parts)
    _scope, figures = parts.statistics.figures(
        people[Role.SUPERVISOR], Scope(since=date(YEAR, 1, 1), until=date(YEAR, 12, 31))
    )
    rows = {(f.key, r.label[1]): (r.values[0], r.decisions) for f in figures for r in f.rows}
    for key, figure_row in {
        "participation.comments": ("comments", "Comments received"),
        "participation.adopted": ("comments", "Adopted"),
        "participation.not_adopted": ("comments", "Not adopted"),
        "legality.lawful": ("legality", "Lawful"),
        "legality.unlawful": ("legality", "Unlawful"),
        "meetings.decided": ("meetings", "Decided by the chief"),
        "meetings.departed": ("meetings", "Departed from the majority"),
    }.items():
        line = report.line(key)
        assert (line.value, line.decisions) == rows[figure_row], key
    [filing] = next(f for f in figures if f.key == "on_time").rows
    # due, on time: the report's filing figures are the page's filing step
    assert (report.line("timeliness.due").value, report.line("normative.filed_on_time").value) == (
        filing.values[0],
        filing.values[1],
    )
