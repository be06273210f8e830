"""The supervision figures equal the true counts of a seeded year, on both databases; only the
roles that may read them do, and a department's clerk sees only the department's own."""

from __future__ import annotations

from datetime import date

import pytest

from decisionflow.casebook import Scope
from decisionflow.errors import NotFound, NotPermitted
from decisionflow.roles import Role
from decisionflow.statistics import to_csv
from tests.yearbook import YEAR, seed_year

THE_YEAR = Scope(since=date(YEAR, 1, 1), until=date(YEAR, 12, 31))


@pytest.fixture
def year(parts, people, clock):
    """The seeded year."""
    return seed_year(parts, people, clock)


def _figures(parts, actor, scope=THE_YEAR):
    _scope, figures = parts.statistics.figures(actor, scope)
    return {f.key: f for f in figures}


def _rows(figure):
    """{English label: (values, decision ids)}."""
    return {row.label[1]: (row.values, set(row.decisions)) for row in figure.rows}


def test_every_figure_equals_its_true_count(parts, people, year):
    """Stages, on-time rates, stage durations, comments, opinions, meetings and overdue items."""
    figures = _figures(parts, people[Role.SUPERVISOR])
    assert _rows(figures["stages"]) == {
        "Major administrative decision · Proposed": ((1,), {year.d5}),
        "Major administrative decision · Drafting": ((1,), {year.d3}),
        "Major administrative decision · Report to the Party committee": ((1,), {year.d2}),
        "Major administrative decision · Archived": ((1,), {year.d1}),
        "Major administrative decision · Not started": ((1,), {year.d4}),
        "Administrative normative document · Filing": ((1,), {year.n3}),
        "Administrative normative document · Filed": ((2,), {year.n1, year.n2}),
    }
    [filing] = figures["on_time"].rows
    assert "File with the filing authority" in filing.label[1]
    # due, on time, late, overdue, not yet due, rate
    assert filing.values == (3, 1, 1, 1, 0, 33.3)
    assert set(filing.decisions) == {year.n1, year.n2, year.n3}

    durations = _rows(figures["durations"])
    # legality review was left three times: twice to the meeting, once back to drafting
    stays, _median, _worst = durations["Major administrative decision · Legality review"][0]
    assert stays == 3
    calendar = parts.calendar
    filed = durations["Administrative normative document · Filing"]
    n1_days = calendar.working_days_between(
        year.published_on, date.fromordinal(year.published_on.toordinal() + 5)
    )
    n2_days = calendar.working_days_between(year.published_on, year.n2_filed_on)
    assert filed == ((2, (n1_days + n2_days) / 2, n2_days), {year.n1, year.n2})

    assert _rows(figures["comments"]) == {
        "Comments received": ((4,), {year.d1, year.d2}),
        "Adopted": ((2,), {year.d1, year.d2}),
        "Partly adopted": ((1,), {year.d1}),
        "Not adopted": ((1,), {year.d1}),
        "Awaiting a disposition": ((0,), set()),
    }
    legality = _rows(figures["legality"])
    assert legality["Lawful"] == ((5,), {year.d1, year.d2, year.n1, year.n2, year.n3})
    assert legality["Unlawful"] == ((1,), {year.d3})
    assert _rows(figures["meetings"]) == {
        "Decided by the chief": ((2,), {year.d1, year.d2}),
        "Departed from the majority": ((1,), {year.d2}),
    }
    [late] = figures["overdue"].rows
    due = date.fromordinal(year.published_on.toordinal() + 15)
    assert late.values == (due.isoformat(), (year.today - due).days)
    assert late.decisions == (year.n3,)


def test_a_period_counts_only_what_happened_in_it(parts, people, year):
    """The first quarter of 2026 holds the proposals and early moves, no filings."""
    quarter = Scope(since=date(YEAR, 1, 1), until=date(YEAR, 3, 31))
    figures = _figures(parts, people[Role.CHIEF_EXECUTIVE], quarter)
    assert sum(r.values[0] for r in figures["stages"].rows) == 5  # D1–D5; the documents later
    assert figures["on_time"].rows == ()
    procedure = Scope(
        since=date(YEAR, 1, 1), until=date(YEAR, 12, 31), procedure="normative_document"
    )
    stages = _figures(parts, people[Role.GOVERNMENT_OFFICE], procedure)["stages"]
    assert {r.decisions for r in stages.rows} == {(year.n3,), (year.n1, year.n2)}


def test_a_clerk_sees_only_the_department_s_own_figures(parts, people, year):
    """The ecology clerk's figures hold only the ecology decision, whatever department is asked."""
    scope, figures = parts.statistics.figures(
        people.staff_b, Scope(department="housing", since=date(YEAR, 1, 1))
    )
    assert scope.department == "ecology"
    [row] = {f.key: f for f in figures}["stages"].rows
    assert row.decisions == (year.d5,)


@pytest.mark.parametrize("role", [Role.EXPERT, Role.LEGAL_OFFICER, Role.EXECUTOR, Role.ADMIN])
def test_other_roles_may_not_read_the_figures(parts, people, role):
    """Experts, legal officers, executors and administrators are refused, by the engine."""
    with pytest.raises(NotPermitted):
        parts.statistics.figures(people[role], THE_YEAR)


def test_a_figure_downloads_as_csv_with_its_decisions(parts, people, year):
    """The CSV has the table's header, each row's numbers and the decisions behind it."""
    figure = parts.statistics.figure(people[Role.SUPERVISOR], "comments", THE_YEAR)
    lines = to_csv(figure, lang="en").lstrip("\ufeff").splitlines()
    assert lines[0] == "Public comments and their disposition,Comments,decisions"
    assert f"Comments received,4,{' '.join(map(str, sorted({year.d1, year.d2})))}" in lines
    assert "Not adopted,1," + str(year.d1) in lines
    chinese = to_csv(figure).lstrip("\ufeff").splitlines()
    assert chinese[0] == "公众意见及采纳情况,条数,决策编号"
    with pytest.raises(NotFound):
        parts.statistics.figure(people[Role.SUPERVISOR], "nonsense", THE_YEAR)
