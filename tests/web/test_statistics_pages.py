"""The statistics pages: who may open them, the charts with their tables, the CSV downloads,
and the yearly report whose figures lead to the decisions behind them."""

from __future__ import annotations

import re

import pytest

from decisionflow.roles import Role
from tests.web.conftest import csrf_token
from tests.yearbook import YEAR, seed_year

PERIOD = f"since={YEAR}-01-01&until={YEAR}-12-31"


@pytest.fixture
def year(web_parts, web_people, clock):
    """The seeded year."""
    return seed_year(web_parts, web_people, clock)


def _listed(client, href):
    """The decision ids a decision-list page shows."""
    page = client.get(href.replace("&amp;", "&")).get_data(as_text=True)
    return {int(i) for i in re.findall(r'href="/decisions/(\d+)"', page)}


def test_a_supervisor_sees_each_figure_as_a_chart_a_table_and_a_csv_link(client, auth, year):
    """Every figure has its SVG bars with their numbers, its table, and a CSV download."""
    auth.login(Role.SUPERVISOR)
    response = client.get(f"/supervision/statistics?{PERIOD}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    for key in ("stages", "on_time", "durations", "comments", "legality", "meetings", "overdue"):
        assert '<svg class="chart"' in page and f'data-figure="{key}"' in page
        assert f"/supervision/statistics/{key}.csv?" in page
    comments = page[page.index('id="figure-comments"') : page.index('id="figure-legality"')]
    # the bars carry their labels and numbers; the table the same numbers
    assert re.search(r'<text class="bar-label"[^>]*>收到意见</text>', comments)
    assert re.search(r'<text class="bar-value"[^>]*>4</text>', comments)
    assert '<th scope="row">部分采纳</th><td class="n">1</td>' in comments
    # the departure from the majority links to the decision list of that one decision
    meetings = page[page.index('id="figure-meetings"') : page.index('id="figure-overdue"')]
    [href] = re.findall(
        r'与多数意见不一致</th>.*?<a href="(/decisions/\?ids=[^"]+)"', meetings, re.S
    )
    assert _listed(client, href) == {year.d2}
    assert "style=" not in page  # the CSP forbids inline styles


def test_a_figure_downloads_as_csv(client, auth, year):
    """The CSV carries the table's rows and the decisions behind each."""
    auth.login(Role.CHIEF_EXECUTIVE)
    response = client.get(f"/supervision/statistics/on_time.csv?{PERIOD}")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    disposition = response.headers["Content-Disposition"]
    assert disposition == f'attachment; filename="on_time-{YEAR}-01-01-{YEAR}-12-31.csv"'
    lines = response.get_data(as_text=True).lstrip("\ufeff").splitlines()
    assert lines[0] == "各环节按时办结率,应办结,按时,逾期办结,逾期未办,未到期,按时率（%）,决策编号"
    [row] = lines[1:]
    assert row.endswith(f",3,1,1,1,0,33.3,{year.n1} {year.n2} {year.n3}")
    assert client.get("/supervision/statistics/nonsense.csv").status_code == 404


@pytest.mark.parametrize("role", [Role.EXPERT, Role.LEGAL_OFFICER, Role.EXECUTOR])
def test_roles_without_the_permission_are_refused(client, auth, role):
    """Experts, legal officers and executors get 403 for the figures, the CSV and the report."""
    auth.login(role)
    assert client.get("/supervision/statistics").status_code == 403
    assert client.get("/supervision/statistics/comments.csv").status_code == 403
    assert client.get(f"/supervision/report/{YEAR}").status_code == 403


def test_a_clerk_sees_only_the_department_s_own_figures(client, auth, year):
    """The ecology clerk asking for the housing bureau gets the ecology bureau's figures."""
    auth.login("staff_b")
    page = client.get(f"/supervision/statistics?{PERIOD}&department=housing").get_data(as_text=True)
    assert '<option value="ecology" selected>' in page and 'value="housing"' not in page
    stages = page[page.index('id="figure-stages"') : page.index('id="figure-on_time"')]
    assert f"ids={year.d5}" in stages
    shown = {int(i) for m in re.findall(r"ids=([\d%C,]+)", stages) for i in re.split("%2C|,", m)}
    assert shown == {year.d5}
    report = client.get(f"/supervision/report/{YEAR}?department=housing").get_data(as_text=True)
    assert '<span data-figure="normative.published">0</span>' in report
    # and the decision list shows a clerk none of another department's decisions
    assert _listed(client, f"/decisions/?ids={year.d1},{year.d5}") == {year.d5}


def test_the_yearly_report_links_each_figure_to_its_decisions(client, auth, year):
    """Each non-zero figure of the printable report opens the list of exactly its decisions."""
    auth.login(Role.GOVERNMENT_OFFICE)
    response = client.get(f"/supervision/report/{YEAR}")
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    links = dict(
        (key, href)
        for href, key in re.findall(r'<a href="([^"]+)" data-figure="([a-z_.]+)">', page)
    )
    assert _listed(client, links["normative.published"]) == {year.n1, year.n2, year.n3}
    assert _listed(client, links["normative.filed_on_time"]) == {year.n1}
    assert _listed(client, links["legality.unlawful"]) == {year.d3}
    assert _listed(client, links["participation.comments"]) == {year.d1, year.d2}
    assert re.search(r'data-figure="normative.filing_rate">33.3%<', page)
    client.post("/lang/en", data={"next": "/work", "csrf_token": csrf_token(client, "/work")})
    english = client.get(f"/supervision/report/{YEAR}")
    assert english.status_code == 200
    shown = english.get_data(as_text=True)
    assert "Filed on time" in shown and ">按时备案<" not in shown
